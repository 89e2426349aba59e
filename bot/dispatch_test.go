package bot_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"
	"github.com/slack-go/slack/socketmode"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot"
	"github.com/accessbot/accessbot/internal/metrics"
)

// ackRecorder is an Acker that records acks and, like slack-go, refuses
// payloads of 20 KB or more.
type ackRecorder struct {
	mu   sync.Mutex
	acks map[string][]string // envelope → payload JSON ("null" for none)
	ch   chan struct{}
}

func newAckRecorder() *ackRecorder {
	return &ackRecorder{acks: map[string][]string{}, ch: make(chan struct{}, 100)}
}

func (a *ackRecorder) AckCtx(_ context.Context, env string, payload any) error {
	js, _ := json.Marshal(payload)
	if len(js) >= 20480 {
		return errors.New("socket mode response too large")
	}
	a.mu.Lock()
	a.acks[env] = append(a.acks[env], string(js))
	a.mu.Unlock()
	select {
	case a.ch <- struct{}{}:
	default:
	}
	return nil
}

func (a *ackRecorder) get(env string) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.acks[env]...)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type plainErr struct{ msg string }

func (e plainErr) Error() string       { return "identity: " + e.msg }
func (e plainErr) UserMessage() string { return e.msg }

type stubResolver struct{ invalidated atomic.Int32 }

func (s *stubResolver) Resolve(_ context.Context, team, user string) (bot.Actor, error) {
	switch {
	case team != "T1":
		return bot.Actor{}, plainErr{"This Slack workspace is not linked to accessbot."}
	case user == "UNOBODY":
		return bot.Actor{}, plainErr{"No accessbot user has the email nobody@acme.test."}
	}
	return bot.Actor{TeamID: team, SlackUserID: user, Tenant: accessbot.Tenant{ID: "t1", Name: "Acme"}, User: accessbot.User{ID: "u1", Role: accessbot.RoleMember}}, nil
}

func (s *stubResolver) ProfileChanged(ctx context.Context, team, user, _ string) error {
	return s.Invalidate(ctx, team, user)
}

func (s *stubResolver) Invalidate(context.Context, string, string) error {
	s.invalidated.Add(1)
	return nil
}

// responseURL records posts to a fake response_url.
type responseURL struct {
	*httptest.Server
	mu    sync.Mutex
	posts []string
}

func newResponseURL(t *testing.T) *responseURL {
	r := &responseURL{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.posts = append(r.posts, string(b))
		r.mu.Unlock()
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *responseURL) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.posts...)
}

type fixture struct {
	d    *bot.Dispatcher
	acks *ackRecorder
	resp *responseURL
	ctx  context.Context
}

func newFixture(t *testing.T, r *bot.Router) *fixture {
	t.Helper()
	return newFixtureWith(t, r, &stubResolver{})
}

func newFixtureWith(t *testing.T, r *bot.Router, res bot.Resolver) *fixture {
	t.Helper()
	d, err := bot.NewDispatcher(bot.DispatcherConfig{
		Router:      r,
		Resolver:    res,
		Clients:     bot.ClientsFunc(func(context.Context, string) (bot.WebAPI, error) { return nil, errors.New("no client") }),
		AckDeadline: 200 * time.Millisecond,
		Log:         zerolog.New(zerolog.NewTestWriter(t)),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.Start(ctx)
	t.Cleanup(func() { cancel(); d.Wait() })
	return &fixture{d: d, acks: newAckRecorder(), resp: newResponseURL(t), ctx: ctx}
}

func (f *fixture) command(env, user, text string) {
	payload, _ := json.Marshal(map[string]string{
		"team_id": "T1", "user_id": user, "command": "/access", "text": text,
		"channel_id": "C1", "trigger_id": "tr-" + env, "response_url": f.resp.URL + "/r/" + env,
	})
	f.d.Handle(f.ctx, f.acks, &socketmode.Request{Type: "slash_commands", EnvelopeID: env, Payload: payload})
}

func (f *fixture) ackOf(t *testing.T, env string) string {
	t.Helper()
	waitFor(t, "ack of "+env, func() bool { return len(f.acks.get(env)) > 0 })
	return f.acks.get(env)[0]
}

func TestRouterRejectsBadRegistrations(t *testing.T) {
	h := func(context.Context, *bot.Request) error { return nil }
	r := bot.NewRouter()
	r.Command("/access", "help", h)
	r.Command("/access", "HELP", h)
	r.Action("approve", h)
	r.Action("approve", h)
	r.View("", h)
	r.Event("app_home_opened", bot.NoActor, nil)
	r.Command("access", "x", h)
	err := r.Err()
	if err == nil {
		t.Fatal("want registration errors")
	}
	for _, want := range []string{`"/access help": already registered`, `action "approve": already registered`, "empty id", "nil handler", "must start with /"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if _, err := bot.NewDispatcher(bot.DispatcherConfig{Router: r, Resolver: &stubResolver{}, Clients: bot.ClientsFunc(nil)}); err == nil {
		t.Fatal("NewDispatcher must refuse a router with bad registrations")
	}
}

func TestCommands(t *testing.T) {
	var calls atomic.Int32
	var gotArgs atomic.Value
	r := bot.NewRouter()
	r.Command("/access", "help", func(ctx context.Context, req *bot.Request) error {
		calls.Add(1)
		gotArgs.Store(req.Args)
		if req.Actor == nil || req.Actor.Tenant.ID != "t1" {
			return fmt.Errorf("no actor")
		}
		return req.Respond(ctx, bot.Message{Text: "here is help"})
	})
	r.Command("/access", "boom", func(context.Context, *bot.Request) error { panic("kaboom") })
	r.Command("/access", "fail", func(context.Context, *bot.Request) error { return errors.New("db down") })
	r.Command("/access", "slow", func(ctx context.Context, req *bot.Request) error {
		time.Sleep(400 * time.Millisecond) // longer than the 200 ms ack deadline on purpose
		return req.Respond(ctx, bot.Message{Text: "late answer"})
	})
	r.Command("/access", "big", func(ctx context.Context, req *bot.Request) error {
		// '>' is 6 bytes in JSON (\u003e) and, unlike '<', not markup the guard escapes.
		return req.Respond(ctx, bot.Message{Text: strings.Repeat(">", 3900)})
	})
	f := newFixture(t, r)

	cases := []struct {
		name, env, user, text string
		ackHas                string // substring of the ack payload ("null" for empty)
		respHas               string // substring of a later response_url post
	}{
		{"help", "e-help", "U1", "HELP me please", "here is help", ""},
		{"unknown sub", "e-unknown", "U1", "frobnicate", "I don't know that command. Try `/access help`.", ""},
		{"unmatched user", "e-nobody", "UNOBODY", "help", "nobody@acme.test", ""},
		{"panic", "e-boom", "U1", "boom", "Sorry, something went wrong on our side (ref e-boom)", ""},
		{"error", "e-fail", "U1", "fail", "(ref e-fail)", ""},
		{"slow", "e-slow", "U1", "slow", "null", "late answer"},
		{"oversized text", "e-long", "U1", strings.Repeat("x", 5000), "I don't know that command", ""},
		{"too big for the ack", "e-big", "U1", "big", "null", `\u003e\u003e`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f.command(c.env, c.user, c.text)
			if ack := f.ackOf(t, c.env); !strings.Contains(ack, c.ackHas) {
				t.Fatalf("ack = %s, want it to contain %q", ack, c.ackHas)
			}
			if c.respHas != "" {
				waitFor(t, "response_url post", func() bool {
					for _, p := range f.resp.all() {
						if strings.Contains(p, c.respHas) {
							return true
						}
					}
					return false
				})
			}
		})
	}
	if got := gotArgs.Load(); got != "me please" {
		t.Errorf("args = %q, want %q", got, "me please")
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("help handler ran %d times, want 1 (never for the unmatched user)", n)
	}
}

func TestDuplicateEnvelopeHandledOnce(t *testing.T) {
	var calls atomic.Int32
	r := bot.NewRouter()
	r.Command("/access", "help", func(ctx context.Context, req *bot.Request) error {
		calls.Add(1)
		return req.Respond(ctx, bot.Message{Text: "answered once"})
	})
	r.Event("app_mention", bot.NoActor, func(ctx context.Context, req *bot.Request) error {
		calls.Add(10)
		return nil
	})
	f := newFixture(t, r)
	var m dto.Metric
	dups := func() float64 {
		if err := metrics.Duplicates.Write(&m); err != nil {
			t.Fatal(err)
		}
		return m.GetCounter().GetValue()
	}
	before := dups()
	f.command("e1", "U1", "help")
	f.ackOf(t, "e1")
	f.command("e1", "U1", "help") // a redelivery after the first answer
	waitFor(t, "two acks", func() bool { return len(f.acks.get("e1")) == 2 })
	for i, a := range f.acks.get("e1") {
		if !strings.Contains(a, "answered once") {
			t.Errorf("ack %d = %s: a redelivery must replay the answer", i, a)
		}
	}

	ev := json.RawMessage(`{"team_id":"T1","event_id":"Ev1","type":"event_callback","event":{"type":"app_mention","user":"U1","text":"hi"}}`)
	f.d.Handle(f.ctx, f.acks, &socketmode.Request{Type: "events_api", EnvelopeID: "e2", Payload: ev})
	f.d.Handle(f.ctx, f.acks, &socketmode.Request{Type: "events_api", EnvelopeID: "e3", Payload: ev, RetryAttempt: 1, RetryReason: "timeout"})
	waitFor(t, "event acks", func() bool { return len(f.acks.get("e2")) == 1 && len(f.acks.get("e3")) == 1 })
	waitFor(t, "handlers", func() bool { return calls.Load() >= 11 })
	// A third, distinct event proves the pool has moved past both copies.
	ev2 := json.RawMessage(`{"team_id":"T1","event_id":"Ev2","type":"event_callback","event":{"type":"app_mention","user":"U1","text":"hi"}}`)
	f.d.Handle(f.ctx, f.acks, &socketmode.Request{Type: "events_api", EnvelopeID: "e4", Payload: ev2})
	waitFor(t, "third event", func() bool { return calls.Load() >= 21 })
	if n := calls.Load(); n != 21 {
		t.Fatalf("calls = %d, want 21 (command once, each distinct event once)", n)
	}
	// Both redeliveries counted in accessbot_slack_duplicates_total (at
	// least: parallel tests of this package may count theirs).
	if d := dups() - before; d < 2 {
		t.Errorf("accessbot_slack_duplicates_total moved by %v, want at least 2", d)
	}
}

func TestInteractive(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	r := bot.NewRouter()
	r.Action("approve", func(ctx context.Context, req *bot.Request) error {
		mu.Lock()
		seen = append(seen, req.Action.ActionID+"="+req.Action.Value)
		mu.Unlock()
		return nil
	})
	r.View("request_modal", func(ctx context.Context, req *bot.Request) error {
		return req.SetAck(map[string]any{"response_action": "errors", "errors": map[string]string{"b": "bad"}})
	})
	r.Suggestion("app_search", func(ctx context.Context, req *bot.Request) error {
		return req.SetAck(map[string]any{"options": []any{map[string]any{"text": map[string]string{"type": "plain_text", "text": "GitLab"}, "value": "a1"}}})
	})
	f := newFixture(t, r)
	send := func(env, payload string) {
		f.d.Handle(f.ctx, f.acks, &socketmode.Request{Type: "interactive", EnvelopeID: env, Payload: json.RawMessage(payload)})
	}
	url := f.resp.URL + "/r"
	send("a1", `{"type":"block_actions","team":{"id":"T1"},"user":{"id":"U1"},"trigger_id":"tr1","response_url":"`+url+`","actions":[{"block_id":"b","action_id":"approve","value":"r1","action_ts":"1"}]}`)
	send("a2", `{"type":"block_actions","team":{"id":"T1"},"user":{"id":"U1"},"trigger_id":"tr2","response_url":"`+url+`","actions":[{"block_id":"b","action_id":"approve","value":"r2","action_ts":"2"}]}`)
	send("a3", `{"type":"block_actions","team":{"id":"T1"},"user":{"id":"U1"},"trigger_id":"tr3","response_url":"`+url+`","actions":[{"block_id":"b","action_id":"mystery","action_ts":"3"}]}`)
	send("v1", `{"type":"view_submission","team":{"id":"T1"},"user":{"id":"U1"},"trigger_id":"tr4","view":{"callback_id":"request_modal"}}`)
	send("s1", `{"type":"block_suggestion","team":{"id":"T1"},"user":{"id":"U1"},"action_id":"app_search","value":"git"}`)
	send("s2", `{"type":"block_suggestion","team":{"id":"T1"},"user":{"id":"U1"},"action_id":"nope","value":"git"}`)
	send("bad", `{"type":"block_actions","actions":"not a list"`)
	send("unlinked", `{"type":"block_actions","team":{"id":"TOTHER"},"user":{"id":"U1"},"trigger_id":"tr5","response_url":"`+url+`","actions":[{"block_id":"b","action_id":"approve","value":"r9","action_ts":"5"}]}`)

	for env, want := range map[string]string{
		"a1": "null", "a2": "null", "a3": "null", "bad": "null", "unlinked": "null",
		"v1": `"response_action":"errors"`, "s1": `"value":"a1"`, "s2": `{"options":[]}`,
	} {
		if got := f.ackOf(t, env); !strings.Contains(got, want) {
			t.Errorf("ack %s = %s, want %s", env, got, want)
		}
	}
	waitFor(t, "both approvals, each decoded fresh", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) == 2
	})
	waitFor(t, "polite answers by response_url", func() bool {
		var unknown, unlinked bool
		for _, p := range f.resp.all() {
			unknown = unknown || strings.Contains(p, "don't know that button")
			unlinked = unlinked || strings.Contains(p, "not linked")
		}
		return unknown && unlinked
	})
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(seen, ",") != "approve=r1,approve=r2" && strings.Join(seen, ",") != "approve=r2,approve=r1" {
		t.Fatalf("actions seen %v, want exactly r1 and r2", seen)
	}
}

func TestBadMessageStillAcked(t *testing.T) {
	f := newFixture(t, bot.NewRouter())
	for _, c := range []struct{ name, frame, env, ack string }{
		{"unknown inner event", `{"envelope_id":"b1","type":"events_api","payload":{"team_id":"T1","event_id":"Ev9","event":{"type":"some_new_event"}}}`, "b1", "null"},
		{"retry_attempt not a number", `{"envelope_id":"b2","type":"events_api","retry_attempt":"x","payload":{"team_id":"T1","event":{"type":"app_mention"}}}`, "b2", "null"},
		{"slash command payload not an object", `{"envelope_id":"b3","type":"slash_commands","payload":"nope"}`, "b3", `{"response_type":"ephemeral","text":"Sorry, I could not read that request (ref b3)."}`},
		{"interactive payload not an object", `{"envelope_id":"b4","type":"interactive","payload":[1]}`, "b4", "null"},
		{"unknown envelope type", `{"envelope_id":"w1","type":"weird"}`, "w1", "null"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, disc := f.d.HandleFrame(f.ctx, f.acks, []byte(c.frame)); disc {
				t.Fatal("taken for a disconnect")
			}
			if got := f.ackOf(t, c.env); got != c.ack {
				t.Fatalf("ack = %s, want %s", got, c.ack)
			}
		})
	}
	// Garbage without an envelope id cannot be acked; it must just not crash.
	f.d.HandleFrame(f.ctx, f.acks, []byte(`{{{`))
	f.d.HandleFrame(f.ctx, f.acks, []byte(`{"type":"hello","num_connections":1}`))
	if reason, ok := f.d.HandleFrame(f.ctx, f.acks, []byte(`{"type":"disconnect","reason":"warning","debug_info":{"host":"wss-111.slack.com"}}`)); !ok || reason != "warning" {
		t.Fatalf("disconnect frame read as %q, %v; want warning, true", reason, ok)
	}
	f.acks.mu.Lock()
	defer f.acks.mu.Unlock()
	if len(f.acks.acks) != 5 {
		t.Fatalf("acks %v, want the 5 envelopes' only", f.acks.acks)
	}
}
