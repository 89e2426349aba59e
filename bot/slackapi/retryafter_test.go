package slackapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot/bot/slackapi"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/internal/testenv"
)

// stormResult is what one storm counted, on the fake's side and the clients'.
type stormResult struct {
	fake      slackfake.RateLimitStats
	inFlight  int // sum of in_flight over the "held" log lines that were news to a client
	ok        int // jobs that succeeded
	failed    int // jobs that gave up (short deadline inside the wait)
	okLate    int // successes after the wait ended
	workers   int
	heldLines int
}

// runStorm reproduces the 429 storm of issue 9 point 10: each client runs
// workers goroutines that open a DM again and again (jobs with deadlines, as
// the notifier's are) while Slack answers conversations.open with one
// "Retry-After: 2" window. Half the workers' jobs may wait 5 s, half give up
// after 250 ms and take the next job, which is what made calls pile into the
// wait. It runs for 2.8 s, longer (up to 10 s) until a call succeeds after the wait.
func runStorm(t *testing.T, f fixture, clients []*slackapi.Client, logs []*syncBuffer, workers int) stormResult {
	t.Helper()
	const (
		method     = "conversations.open"
		retryAfter = 2 * time.Second
		runFor     = retryAfter + 800*time.Millisecond
	)
	if _, err := f.fake.AddUser(slackfake.User{ID: "U1", TeamID: f.team.ID, Name: "ann"}); err != nil {
		t.Fatal(err)
	}
	f.fake.RateLimit(method, retryAfter, 1)
	var ok, failed, okLate atomic.Int64
	start := time.Now()
	// Run at least runFor, and on (at most 10 s in all) until a call has
	// gone through after the wait, so a slow machine cannot end it early.
	minStop, maxStop := start.Add(runFor), start.Add(10*time.Second)
	running := func() bool {
		now := time.Now()
		return now.Before(minStop) || (okLate.Load() == 0 && now.Before(maxStop))
	}
	var wg sync.WaitGroup
	for _, c := range clients {
		for w := range workers {
			wg.Go(func() {
				for running() {
					budget := 250 * time.Millisecond
					if w%2 == 0 {
						budget = 5 * time.Second
					}
					ctx, cancel := context.WithTimeout(context.Background(), budget)
					_, err := c.OpenConversation(ctx, "U1")
					cancel()
					switch {
					case err == nil && time.Since(start) > retryAfter:
						okLate.Add(1)
						ok.Add(1)
					case err == nil:
						ok.Add(1)
					default:
						failed.Add(1)
					}
					time.Sleep(5 * time.Millisecond) // the worker's own work between jobs
				}
			})
		}
	}
	wg.Wait()
	r := stormResult{fake: f.fake.RateLimitCounts(method), ok: int(ok.Load()), failed: int(failed.Load()),
		okLate: int(okLate.Load()), workers: workers * len(clients)}
	for _, l := range logs {
		for _, line := range strings.Split(l.String(), "\n") {
			var e struct {
				Msg      string `json:"message"`
				Method   string `json:"method"`
				New      bool   `json:"new"`
				InFlight int    `json:"in_flight"`
			}
			if json.Unmarshal([]byte(line), &e) != nil || e.Msg != "slack method held" || e.Method != method {
				continue
			}
			r.heldLines++
			if e.New {
				r.inFlight += e.InFlight
			}
		}
	}
	t.Logf("[counts] storm: %d workers; fake: %d rate-limited answers, %d windows, %d calls inside the wait; "+
		"clients: in flight when they learned of the hold %d (%d held lines); jobs ok %d (after the wait %d), gave up %d",
		r.workers, r.fake.Limited, r.fake.Windows, r.fake.InsideWait, r.inFlight, r.heldLines, r.ok, r.okLate, r.failed)
	return r
}

// checkStorm asserts the bound argued in docs: a call can reach Slack inside
// the wait only if it passed the gate before its client learned of the hold,
// so it was in flight then; every worker has at most one call in flight, and
// one of those in flight is the call that opened the window.
func checkStorm(t *testing.T, r stormResult) {
	t.Helper()
	if r.fake.Windows != 1 {
		t.Fatalf("%d rate-limit windows opened, want 1", r.fake.Windows)
	}
	if r.fake.InsideWait > r.workers-1 {
		t.Errorf("%d calls inside the Retry-After wait, want at most %d (workers - 1)", r.fake.InsideWait, r.workers-1)
	}
	if r.fake.InsideWait > r.inFlight-1 {
		t.Errorf("%d calls inside the wait, but only %d were in flight when the clients learned of it",
			r.fake.InsideWait, r.inFlight)
	}
	if r.okLate == 0 {
		t.Errorf("no call succeeded after the wait: the hold was never lifted")
	}
}

func TestRetryAfterHeldPerMethodAcrossWorkers(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := f.client(t, slackapi.Options{})
	r := runStorm(t, f, []*slackapi.Client{c}, []*syncBuffer{f.logs}, 6)
	checkStorm(t, r)
	// A hold is per method: with users.info held for a minute, auth.test
	// goes at once, and a users.info that may wait 5 s fails at once without
	// reaching Slack.
	f.fake.RateLimit("users.info", time.Minute, 1)
	short, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := c.GetUserInfo(short, "U1"); err == nil {
		t.Fatal("users.info answered 429 yet succeeded")
	}
	start := time.Now()
	if _, err := c.AuthTest(context.Background()); err != nil {
		t.Fatalf("auth.test while users.info is held: %v", err)
	}
	short2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	_, err := c.GetUserInfo(short2, "U1")
	if !errors.Is(err, slackapi.ErrPaceExceeded) {
		t.Errorf("users.info while held: err = %v, want ErrPaceExceeded", err)
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("auth.test and a refused users.info took %s", el)
	}
	if n := f.fake.CallCount("users.info"); n != 1 {
		t.Errorf("users.info reached Slack %d times, want 1 (the 429)", n)
	}
}

func TestRetryAfterHeldAcrossReplicas(t *testing.T) {
	t.Parallel()
	rdb, prefix := testenv.Redis(t)
	second := redis.NewClient(rdb.Options())
	t.Cleanup(func() { _ = second.Close() })
	f := newFixture(t)
	var clients []*slackapi.Client
	var logs []*syncBuffer
	for i, r := range []redis.UniversalClient{rdb, second} {
		lb := &syncBuffer{}
		logs = append(logs, lb)
		c, err := slackapi.NewClient(f.team.ID, f.team.BotToken, slackapi.Options{
			APIURL: f.fake.URL(), Guard: slackapi.Strict{}, Pacing: &slackapi.Pacing{},
			Limiter: slackapi.NewRedisLimiter(r, prefix, zerolog.Nop()),
			Log:     zerolog.New(lb).Level(zerolog.DebugLevel).With().Str("replica", fmt.Sprint(i)).Logger(),
		})
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	r := runStorm(t, f, clients, logs, 4)
	checkStorm(t, r)
}
