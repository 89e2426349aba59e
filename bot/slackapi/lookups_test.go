package slackapi_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/accessbot/accessbot/bot/slackapi"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/internal/waitbudget"
)

// TestTier3FanOutIsPaced: a reminder fan-out from a process that knows no
// reviewer yet looks every one up (users.lookupByEmail) and opens every DM
// (conversations.open), both Tier 3. Run as jobs (each with a wait
// budget, snoozed when the pace refuses it), the fan-out stays inside a
// fake Slack that answers 429 past the tier's rate: no 429 is answered and
// no window holds more calls than the pace lets through. Unpaced, the
// first burst overruns the tier. Times are scaled down (the tier is 5 calls
// plus one per 100 ms, checked over 1 s windows: at one per 20 ms over
// 100 ms, a CI machine at load 16 woke sleeping callers late enough to
// bunch 24 calls the pace had spaced into one window); ACCESSBOT_SCALE_LOOKUPS sets how many reviewers.
func TestTier3FanOutIsPaced(t *testing.T) {
	t.Parallel()
	n := 40
	if v, err := strconv.Atoi(os.Getenv("ACCESSBOT_SCALE_LOOKUPS")); err == nil && v > 0 {
		n = v
	}
	const (
		interval = 100 * time.Millisecond
		burst    = 5
		window   = time.Second
		// Slack's tier: what the pace lets through in a window, with room
		// for HTTP jitter bunching calls the pace spaced out.
		tier   = burst + int(window/interval) + 5
		budget = 500 * time.Millisecond // a job's wait budget, scaled
		snooze = 150 * time.Millisecond // slackapi.PaceRetry, scaled
	)
	for _, method := range []string{"users.lookupByEmail", "conversations.open"} {
		t.Run(method, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.fake.RateCap(method, tier, window)
			emails := make([]string, n)
			ids := make([]string, n)
			for i := range n {
				emails[i] = fmt.Sprintf("reviewer%d@example.com", i)
				u, err := f.fake.AddUser(slackfake.User{TeamID: f.team.ID, Email: emails[i]})
				if err != nil {
					t.Fatal(err)
				}
				ids[i] = u.ID
			}
			c := f.client(t, slackapi.Options{Pacing: &slackapi.Pacing{
				Lookups: slackapi.Limit{Interval: interval, Burst: burst, MaxWait: time.Minute}}})
			var wg sync.WaitGroup
			var mu sync.Mutex
			snoozed, failed := 0, []error{}
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						job := waitbudget.With(context.Background(), budget)
						var err error
						if method == "users.lookupByEmail" {
							_, err = c.GetUserByEmail(job, emails[i])
						} else {
							_, err = c.OpenConversation(job, ids[i])
						}
						if errors.Is(err, slackapi.ErrPaceExceeded) {
							mu.Lock()
							snoozed++
							mu.Unlock()
							time.Sleep(snooze)
							continue
						}
						if err != nil {
							mu.Lock()
							failed = append(failed, err)
							mu.Unlock()
						}
						return
					}
				}()
			}
			wg.Wait()
			calls := f.fake.Calls(method)
			most := 0
			for i := range calls {
				in := 0
				for j := i; j < len(calls) && calls[j].Time.Sub(calls[i].Time) < window; j++ {
					in++
				}
				most = max(most, in)
			}
			limited := f.fake.RateLimitCounts(method).Limited
			t.Logf("[counts] %s: reviewers=%d calls=%d answered_429=%d snoozed=%d most_in_%s=%d tier=%d failed=%d",
				method, n, len(calls), limited, snoozed, window, most, tier, len(failed))
			if limited != 0 {
				t.Errorf("fake Slack answered %d 429s, want 0", limited)
			}
			if most > tier {
				t.Errorf("%d calls in one %s window, tier allows %d", most, window, tier)
			}
			if len(failed) != 0 {
				t.Errorf("%d calls failed, first: %v", len(failed), failed[0])
			}
			if ok := len(calls) - limited; ok != n {
				t.Errorf("%d calls served, want one per reviewer (%d)", ok, n)
			}
		})
	}
}
