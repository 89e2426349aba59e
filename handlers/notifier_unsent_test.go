package handlers_test

import (
	"errors"
	"testing"
	"time"

	"github.com/accessbot/accessbot/bot/identity"
	"github.com/accessbot/accessbot/bot/slackapi"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/handlers"
	"github.com/accessbot/accessbot/internal/waitbudget"
	"github.com/accessbot/accessbot/store/storetest"
)

// TestReviewDMRetryAfterUnsentPost: a reminder the Slack pace refuses (or
// Slack answers ok:false, or whose DM could not be opened) was certainly
// not sent, so its retry posts it without looking in the DM's history
// first (0 conversations.history calls). A reminder whose post
// timed out after Slack stored it may have gone out, so its retry still
// looks, finds it and posts nothing. A reminder refused by the pace while
// the database is down cannot be released as unsent (the release fails
// too): its retry after the lease looks, finds nothing and posts it. Every
// way the DM holds it once.
func TestReviewDMRetryAfterUnsentPost(t *testing.T) {
	t.Parallel()
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			for _, c := range []struct {
				name        string
				fail        func(e *reviewOnce) (undo func())
				wantHistory bool
				wantPaced   bool // the first try fails with ErrPaceExceeded
				outage      bool // the database refuses the claim's release
				lease       time.Duration
			}{
				{"refused by the pace", func(e *reviewOnce) func() {
					return spendPace(t, e)
				}, false, true, false, 0},
				{"refused by the pace in a database outage", func(e *reviewOnce) func() {
					unpace := spendPace(t, e)
					e.st.set(-1)
					return func() {
						unpace()
						e.st.set(0)
						e.clock.Set(e.clock.Now().Add(time.Second)) // past the lease the release could not end
					}
				}, true, true, true, 0},
				{"answered ok:false", func(e *reviewOnce) func() {
					e.fake.FailNextError("chat.postMessage", 1, "not_in_channel")
					return func() {}
				}, false, false, false, 0},
				{"DM not opened", func(e *reviewOnce) func() {
					e.fake.FailNextError("conversations.open", 1, "internal_error") // opening failed: no post was tried
					return func() {}
				}, false, false, false, 0},
				{"timed out after sending", func(e *reviewOnce) func() {
					// Stored at once, answered after the post's deadline (half
					// the lease). The lease is longer here: the release after
					// the timeout has the rest of it, and 200 ms of a 400 ms
					// lease was too little for PostgreSQL on a loaded CI machine.
					e.fake.DelayAnswer("chat.postMessage", 3*time.Second)
					return func() { e.fake.DelayAnswer("chat.postMessage", 0) }
				}, true, false, false, 2 * time.Second},
			} {
				t.Run(c.name, func(t *testing.T) {
					lease := c.lease
					if lease == 0 {
						lease = 400 * time.Millisecond
					}
					e := newReviewOnce(t, driver, lease)
					owen := e.users["owen"].ID
					job := waitbudget.With(e.ctx, time.Second)
					undo := c.fail(e)
					err := e.rn.Remind(job, e.c, owen, "remind:1", 2, false)
					if err == nil {
						t.Fatal("the failure did not fail the reminder")
					}
					if refused := errors.Is(err, slackapi.ErrPaceExceeded); refused != c.wantPaced {
						t.Fatalf("reminder failed with %v, want refused by the pace: %v", err, c.wantPaced)
					}
					if refused := e.st.failures > 0; refused != c.outage {
						t.Fatalf("%d outbox writes refused, want some: %v", e.st.failures, c.outage)
					}
					undo()
					rqMust(t, e.rn.Remind(job, e.c, owen, "remind:1", 2, false)) // the job's retry
					history := e.fake.CallCount("conversations.history")
					posts := e.fake.CallCount("chat.postMessage")
					t.Logf("[counts] %s/%s: history_lookups=%d posts=%d dm_messages=%d", driver, c.name, history, posts, len(e.dmTexts("owen")))
					if c.wantHistory != (history > 0) {
						t.Errorf("retry made %d conversations.history calls, want some: %v", history, c.wantHistory)
					}
					if got := len(e.dmTexts("owen")); got != 1 {
						t.Errorf("owen's DM holds %d reminders, want 1", got)
					}
					e.onePostPerKey(t)
				})
			}
		})
	}
}

// spendPace has e's notifier post through a client whose workspace pace,
// one post an hour, is spent, so its next post is refused; undo restores
// the unpaced client.
func spendPace(t *testing.T, e *reviewOnce) (undo func()) {
	t.Helper()
	unpaced := e.cl
	team, _ := e.fake.Team("T1")
	paced, err := slackapi.NewClient("T1", team.BotToken, slackapi.Options{APIURL: e.fake.URL(),
		Guard: slackapi.Strict{}, Pacing: &slackapi.Pacing{PerWorkspace: slackapi.Limit{Interval: time.Hour, Burst: 1}}})
	rqMust(t, err)
	_, _, err = paced.PostMessage(e.ctx, slackfake.DMChannel(slackID("olga")), slackapi.Message{Text: "spends the pace"})
	rqMust(t, err)
	e.cl = paced
	return func() { e.cl = unpaced }
}

// TestReviewDMSlackIDCacheExpires: reminders reuse a reviewer's stored
// Slack id (users.lookupByEmail, Tier 3) and DM channel, past the identity
// cache's TTL, and verify the id again only once DefaultSlackIDMaxAge has
// passed: an email may move to another Slack user. The same Slack user
// keeps its DM channel.
func TestReviewDMSlackIDCacheExpires(t *testing.T) {
	t.Parallel()
	e := newReviewOnce(t, storetest.Drivers(t)[0], time.Minute)
	owen := e.users["owen"].ID
	lookups := func() int { return e.fake.CallCount("users.lookupByEmail") }
	rqMust(t, e.rn.Remind(e.ctx, e.c, owen, "remind:1", 2, false))
	rqMust(t, e.rn.Remind(e.ctx, e.c, owen, "remind:2", 2, false))
	cached := lookups()
	e.clock.Set(e.clock.Now().Add(identity.DefaultTTL + time.Second))
	rqMust(t, e.rn.Remind(e.ctx, e.c, owen, "remind:3", 2, false))
	stored := lookups()
	e.clock.Set(e.clock.Now().Add(handlers.DefaultSlackIDMaxAge))
	rqMust(t, e.rn.Remind(e.ctx, e.c, owen, "remind:4", 2, false))
	t.Logf("[counts] lookups: %d for two reminders, %d after the identity TTL, %d after the max age; conversations.open %d",
		cached, stored, lookups(), e.fake.CallCount("conversations.open"))
	if cached != 1 || stored != 1 || lookups() != 2 {
		t.Errorf("users.lookupByEmail calls: %d for two reminders (want 1), %d after the identity TTL (want 1), %d after the max age (want 2)",
			cached, stored, lookups())
	}
	if n := e.fake.CallCount("conversations.open"); n != 1 {
		t.Errorf("conversations.open calls: %d, want 1 (a DM channel does not change)", n)
	}
}
