package slackapi_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/accessbot/accessbot/bot/slackapi"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/internal/waitbudget"
)

// busyFor is jobs.Busy's method, which the jobs queue snoozes a job by.
type busyFor interface{ BusyFor() time.Duration }

// TestWaitBudgetRefusesLongerWaits: a caller with a wait budget (every job
// has one) waits for a pacing slot or a Retry-After hold only within it;
// past it the call fails at once with ErrPaceExceeded, sends nothing, and
// says how long to snooze: PaceRetry, or the rest of a longer hold. A
// caller without a budget still waits as its deadline allows.
func TestWaitBudgetRefusesLongerWaits(t *testing.T) {
	t.Parallel()
	const budget = 300 * time.Millisecond
	job := waitbudget.With(context.Background(), budget)

	t.Run("limiter", func(t *testing.T) {
		t.Parallel()
		now := time.Unix(1_700_000_000, 0)
		lim := slackapi.NewMemoryLimiter(func() time.Time { return now }) // frozen: every reservation queues
		l := slackapi.Limit{Interval: 150 * time.Millisecond, Burst: 1, MaxWait: time.Minute}
		// Needed waits: 0, 150 ms, 300 ms (all within the budget), then 450 ms.
		for i := range 3 {
			if err := lim.Wait(job, "k", l); err != nil {
				t.Fatalf("event %d within the budget: %v", i, err)
			}
		}
		start := time.Now()
		err := lim.Wait(job, "k", l)
		if !errors.Is(err, slackapi.ErrPaceExceeded) {
			t.Fatalf("event past the budget: err = %v, want ErrPaceExceeded", err)
		}
		if took := time.Since(start); took > budget {
			t.Errorf("refusal took %s, want at once", took)
		}
		var b busyFor
		if !errors.As(err, &b) || b.BusyFor() != slackapi.PaceRetry {
			t.Errorf("refusal is not busy for PaceRetry: %v", err)
		}
		// Without a budget the same wait is made (the clock is frozen, so it sleeps 450 ms).
		if err := lim.Wait(context.Background(), "k", l); err != nil {
			t.Fatalf("no budget: %v", err)
		}
	})

	t.Run("update pace", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		c := f.client(t, slackapi.Options{Pacing: &slackapi.Pacing{Updates: slackapi.Limit{Interval: time.Hour, Burst: 1, MaxWait: 2 * time.Minute}}})
		ch, ts, err := c.PostMessage(context.Background(), "C1", text("v1"))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.UpdateMessage(job, ch, ts, text("v2")); err != nil {
			t.Fatalf("first update: %v", err)
		}
		start := time.Now()
		err = c.UpdateMessage(job, ch, ts, text("v3"))
		if !errors.Is(err, slackapi.ErrPaceExceeded) {
			t.Fatalf("update an hour away: err = %v, want ErrPaceExceeded", err)
		}
		if took := time.Since(start); took > budget {
			t.Errorf("refusal took %s, want at once", took)
		}
		if n := f.fake.CallCount("chat.update"); n != 1 {
			t.Errorf("chat.update reached Slack %d times, want 1", n)
		}
	})

	t.Run("retry-after hold", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		if _, err := f.fake.AddUser(slackfake.User{ID: "U1", TeamID: f.team.ID, Name: "ann"}); err != nil {
			t.Fatal(err)
		}
		c := f.client(t, slackapi.Options{})
		f.fake.RateLimit("users.info", 30*time.Second, 1)
		for i, what := range []string{"the 429 itself", "a call while held"} {
			start := time.Now()
			_, err := c.GetUserInfo(job, "U1")
			if !errors.Is(err, slackapi.ErrPaceExceeded) {
				t.Fatalf("%s: err = %v, want ErrPaceExceeded", what, err)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("%s took %s, want at once", what, took)
			}
			var b busyFor
			if !errors.As(err, &b) || b.BusyFor() < 25*time.Second || b.BusyFor() > 30*time.Second {
				t.Errorf("%s: snooze for the hold's rest (25-30 s), got %v", what, err)
			}
			if n := f.fake.CallCount("users.info"); n != 1 {
				t.Errorf("after %d calls users.info reached Slack %d times, want 1 (the 429)", i+1, n)
			}
		}
	})
}

// TestPostRefusedByChannelKeepsWorkspaceSlot: PostMessage takes the
// workspace's and the channel's pacing slot together, so a post the
// channel's pace refuses leaves the workspace's slot to a post elsewhere.
func TestPostRefusedByChannelKeepsWorkspaceSlot(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := f.client(t, slackapi.Options{Pacing: &slackapi.Pacing{
		PerWorkspace: slackapi.Limit{Interval: time.Hour, Burst: 2},
		PerChannel:   slackapi.Limit{Interval: time.Hour, Burst: 1},
	}})
	job := waitbudget.With(context.Background(), 300*time.Millisecond)
	if _, _, err := c.PostMessage(job, "C1", text("one")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.PostMessage(job, "C1", text("two")); !errors.Is(err, slackapi.ErrPaceExceeded) {
		t.Fatalf("second post to C1: err = %v, want ErrPaceExceeded", err)
	}
	if _, _, err := c.PostMessage(job, "C2", text("three")); err != nil {
		t.Fatalf("post to C2 after C1 was refused: %v", err)
	}
	if n := f.fake.CallCount("chat.postMessage"); n != 2 {
		t.Errorf("chat.postMessage reached Slack %d times, want 2", n)
	}
}
