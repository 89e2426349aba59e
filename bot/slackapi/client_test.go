package slackapi_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot/bot/slackapi"
	"github.com/accessbot/accessbot/bot/slackfake"
)

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type fixture struct {
	fake *slackfake.Server
	team slackfake.Team
	logs *syncBuffer
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	fake := slackfake.New()
	t.Cleanup(fake.Close)
	team := fake.AddTeam(slackfake.Team{ID: "T0001", Name: "Acme"})
	return fixture{fake: fake, team: team, logs: &syncBuffer{}}
}

func (f fixture) client(t *testing.T, o slackapi.Options) *slackapi.Client {
	t.Helper()
	o.APIURL = f.fake.URL()
	if o.Guard == nil {
		o.Guard = slackapi.Strict{}
	}
	o.Log = zerolog.New(f.logs).Level(zerolog.DebugLevel)
	if o.Pacing == nil {
		o.Pacing = &slackapi.Pacing{}
	}
	c, err := slackapi.NewClient(f.team.ID, f.team.BotToken, o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func text(s string) slackapi.Message {
	return slackapi.Message{Text: s, Blocks: []slack.Block{
		slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, s, false, false), nil, nil),
	}}
}

func TestRetryAfter429(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := f.client(t, slackapi.Options{})
	f.fake.FailNext("chat.postMessage", 1, 429, time.Second)

	start := time.Now()
	ch, ts, err := c.PostMessage(context.Background(), "C1", text("hello"))
	elapsed := time.Since(start)
	if err != nil {
		t.Fatalf("post after one 429: %v", err)
	}
	if elapsed < time.Second {
		t.Errorf("retried after %s, want at least the 1s Retry-After", elapsed)
	}
	calls := f.fake.Calls("chat.postMessage")
	if len(calls) != 2 || calls[0].Status != 429 || !calls[1].OK() {
		t.Fatalf("calls = %+v, want a 429 then an ok", calls)
	}
	if _, ok := f.fake.Message(ch, ts); !ok {
		t.Errorf("message %s/%s not in the fake", ch, ts)
	}
}

func TestRetryBounds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		retry      slackapi.Retry
		failures   int
		retryAfter time.Duration
		ctxTimeout time.Duration
		wantCalls  int
		wantCtxErr bool
		maxElapsed time.Duration
	}{
		{name: "gives up after max attempts", retry: slackapi.Retry{MaxAttempts: 2, MaxWait: time.Minute},
			failures: 3, retryAfter: time.Second, wantCalls: 2, maxElapsed: 3 * time.Second},
		{name: "refuses a Retry-After beyond MaxWait", retry: slackapi.Retry{MaxAttempts: 4, MaxWait: time.Second},
			failures: 1, retryAfter: 5 * time.Second, wantCalls: 1, maxElapsed: time.Second},
		{name: "context ends the wait", retry: slackapi.DefaultRetry(),
			failures: 1, retryAfter: 5 * time.Second, ctxTimeout: 200 * time.Millisecond,
			wantCalls: 1, wantCtxErr: true, maxElapsed: 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			c := f.client(t, slackapi.Options{Retry: tt.retry})
			f.fake.FailNext("chat.postMessage", tt.failures, 429, tt.retryAfter)
			ctx := context.Background()
			if tt.ctxTimeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.ctxTimeout)
				defer cancel()
			}
			start := time.Now()
			_, _, err := c.PostMessage(ctx, "C1", text("hi"))
			if el := time.Since(start); el > tt.maxElapsed {
				t.Errorf("took %s, want at most %s", el, tt.maxElapsed)
			}
			var rl *slack.RateLimitedError
			switch {
			case tt.wantCtxErr && !errors.Is(err, context.DeadlineExceeded):
				t.Errorf("err = %v, want context deadline", err)
			case !tt.wantCtxErr && !errors.As(err, &rl):
				t.Errorf("err = %v, want *slack.RateLimitedError", err)
			}
			if n := len(f.fake.Calls("chat.postMessage")); n != tt.wantCalls {
				t.Errorf("%d calls, want %d", n, tt.wantCalls)
			}
		})
	}
}

func TestPacingOneChannel(t *testing.T) {
	t.Parallel()
	// Bounds leave an interval of slack so a loaded machine cannot fail them;
	// unpaced, the one-channel burst would take ~0 and paced separate channels ~n×interval.
	const n, interval = 10, 100 * time.Millisecond
	tests := []struct {
		name        string
		channels    func(i int) string
		minDuration time.Duration
		maxDuration time.Duration
	}{
		{name: "one channel is paced", channels: func(int) string { return "C1" },
			minDuration: (n - 2) * interval},
		{name: "separate channels are not", channels: func(i int) string { return fmt.Sprintf("C%d", i) },
			maxDuration: (n / 2) * interval},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			c := f.client(t, slackapi.Options{Pacing: &slackapi.Pacing{
				PerChannel: slackapi.Limit{Interval: interval, Burst: 1},
			}})
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for i := range n {
				wg.Go(func() {
					if _, _, err := c.PostMessage(context.Background(), tt.channels(i), text("burst")); err != nil {
						errs <- err
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			calls := f.fake.Calls("chat.postMessage")
			if len(calls) != n {
				t.Fatalf("%d calls, want %d", len(calls), n)
			}
			span := calls[n-1].Time.Sub(calls[0].Time)
			if tt.minDuration > 0 && span < tt.minDuration {
				t.Errorf("%d messages arrived within %s, want at least %s", n, span, tt.minDuration)
			}
			if tt.maxDuration > 0 && span > tt.maxDuration {
				t.Errorf("%d messages took %s, want at most %s", n, span, tt.maxDuration)
			}
			for _, call := range calls {
				if call.Status == 429 {
					t.Errorf("a paced burst hit a 429")
				}
			}
		})
	}
}

func TestDebugLogs(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := f.client(t, slackapi.Options{})
	ctx := context.Background()
	if _, err := c.AuthTest(ctx); err != nil {
		t.Fatal(err)
	}
	f.fake.FailNextError("chat.update", 1, "message_not_found")
	if err := c.UpdateMessage(ctx, "C1", "1.000001", text("x")); slackapi.SlackErrorCode(err) != "message_not_found" {
		t.Fatalf("update err = %v, want message_not_found", err)
	}
	f.fake.FailNext("users.info", 1, 429, time.Second)
	if _, err := c.GetUserInfo(ctx, "UNOBODY"); err == nil {
		t.Fatal("users.info for an unknown user succeeded")
	}

	logs := f.logs.String()
	for _, want := range []string{
		`"method":"auth.test"`, `"outcome":"ok"`,
		`"method":"chat.update"`, `"outcome":"error"`, `"slack_error":"message_not_found"`,
		`"method":"users.info"`, `"outcome":"rate_limited"`,
		`"team":"T0001"`, `"duration":`, `"level":"debug"`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, f.team.BotToken) || strings.Contains(logs, "xoxb-") {
		t.Errorf("logs contain the bot token:\n%s", logs)
	}
}

func TestGuard(t *testing.T) {
	t.Parallel()
	many := func() slackapi.Message {
		m := slackapi.Message{Text: "many"}
		for i := range 60 {
			m.Blocks = append(m.Blocks, slack.NewSectionBlock(
				slack.NewTextBlockObject(slack.PlainTextType, fmt.Sprintf("row %d", i), false, false), nil, nil))
		}
		return m
	}
	longTitle := slack.ModalViewRequest{
		Type:  slack.VTModal,
		Title: slack.NewTextBlockObject(slack.PlainTextType, strings.Repeat("t", 40), false, false),
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			slack.NewSectionBlock(slack.NewTextBlockObject(slack.PlainTextType, "body", false, false), nil, nil),
		}},
	}

	t.Run("strict refuses and sends nothing", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		c := f.client(t, slackapi.Options{Guard: slackapi.Strict{}})
		_, _, err := c.PostMessage(context.Background(), "C1", many())
		if !errors.Is(err, slackapi.ErrGuard) {
			t.Errorf("post 60 blocks: err = %v, want ErrGuard", err)
		}
		if _, err := c.OpenView(context.Background(), "trigger", longTitle); !errors.Is(err, slackapi.ErrGuard) {
			t.Errorf("open view with 40-char title: err = %v, want ErrGuard", err)
		}
		if calls := f.fake.Calls(""); len(calls) != 0 {
			t.Errorf("refused payloads reached Slack: %d calls", len(calls))
		}
	})
	t.Run("data markup: strict refuses, blockkit escapes", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		hostile := text("<!channel> <http://evil.example/reset|Reset your SSO password>, from <@U1>")
		strict := f.client(t, slackapi.Options{Guard: slackapi.Strict{}})
		if _, _, err := strict.PostMessage(context.Background(), "C1", hostile); !errors.Is(err, slackapi.ErrGuard) {
			t.Errorf("strict: err = %v, want ErrGuard", err)
		}
		c := f.client(t, slackapi.Options{Guard: slackapi.BlockKit{}})
		ch, ts, err := c.PostMessage(context.Background(), "C1", text("<!channel> <http://evil.example/reset|Reset your SSO password>, from <@U1>"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(f.logs.String(), `"paths":["text","blocks[0].text.text"]`) {
			t.Errorf("no warning naming where the markup was:\n%s", f.logs.String())
		}
		msg, _ := f.fake.Message(ch, ts)
		const want = "&lt;!channel> &lt;http://evil.example/reset|Reset your SSO password>, from <@U1>"
		if msg.Text != want || !strings.Contains(string(msg.Blocks), `\u0026lt;!channel\u003e`) || strings.Contains(string(msg.Blocks), `\u003c!channel`) {
			t.Errorf("sent text %q blocks %s; want the markup escaped and the mention kept", msg.Text, msg.Blocks)
		}
	})
	t.Run("blockkit fits before sending", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		c := f.client(t, slackapi.Options{Guard: slackapi.BlockKit{}})
		ch, ts, err := c.PostMessage(context.Background(), "C1", many())
		if err != nil {
			t.Fatal(err)
		}
		msg, ok := f.fake.Message(ch, ts)
		if !ok {
			t.Fatal("message not posted")
		}
		var blocks slack.Blocks
		if err := blocks.UnmarshalJSON(msg.Blocks); err != nil {
			t.Fatal(err)
		}
		if len(blocks.BlockSet) != 50 {
			t.Errorf("posted %d blocks, want 50", len(blocks.BlockSet))
		}
		if !strings.Contains(string(msg.Blocks), "more") {
			t.Errorf("fitted message does not say how many were cut: %s", msg.Blocks)
		}
	})
}
