package handlers_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/slackapi"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/flows/reviews"
	"github.com/accessbot/accessbot/handlers"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/backend"
	"github.com/accessbot/accessbot/store/storetest"
)

// reviewOnce is onceEnv with a review notifier on the same outbox, fake
// Slack and clock, and a campaign owen reviews.
type reviewOnce struct {
	*onceEnv
	rn *handlers.ReviewNotifier
	c  *accessbot.Campaign
}

func newReviewOnce(t *testing.T, driver string, lease time.Duration) *reviewOnce {
	t.Helper()
	e := newOnceEnv(t, driver, lease)
	rn := handlers.NewReviewNotifier(handlers.ReviewNotifierConfig{Store: e.st, Now: e.clock.Now, Lease: lease,
		Log:     zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel),
		Clients: handlers.ChatClientsFunc(func(context.Context, string) (handlers.ChatAPI, error) { return e.cl, nil })})
	c := &accessbot.Campaign{ID: "cmp-q4", TenantID: e.users["owen"].TenantID, Name: "Q4 review",
		Status: accessbot.CampaignActive, DueAt: e.clock.Now().Add(7 * 24 * time.Hour)}
	return &reviewOnce{onceEnv: e, rn: rn, c: c}
}

func (e *reviewOnce) assign() reviews.Assignment {
	return reviews.Assignment{Campaign: *e.c, ReviewerID: e.users["owen"].ID, Reason: reviews.AssignLaunch,
		Items: 2, Pending: 2, ByApp: map[string]int{"GitLab": 2}, Slot: "launch:item-1"}
}

// dmTexts is the text of each top-level message in user's DM.
func (e *reviewOnce) dmTexts(user string) []string {
	var out []string
	for _, m := range e.fake.Messages(slackfake.DMChannel(slackID(user))) {
		if m.ThreadTS == "" {
			out = append(out, m.Text)
		}
	}
	return out
}

// onePostPerKey fails for any delivery key Slack saw more than once.
func (e *reviewOnce) onePostPerKey(t *testing.T) {
	t.Helper()
	for k, n := range e.fake.DeliveryPosts(slackapi.DeliveryEventType) {
		if n != 1 {
			t.Errorf("delivery %s posted %d times", k, n)
		}
	}
}

// TestReviewDMRecordLostAfterPost mirrors TestNotifierRecordLostAfterPost
// for review DMs: the assignment, a reminder and an escalation each reach
// Slack, then the database refuses their "sent" record past the claim's
// lease. Sent again (as a retry would), each must be found in the DM by its
// delivery key instead of posted a second time.
func TestReviewDMRecordLostAfterPost(t *testing.T) {
	t.Parallel()
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			e := newReviewOnce(t, driver, 400*time.Millisecond)
			owen, olga := e.users["owen"].ID, e.users["olga"].ID
			for _, s := range []struct {
				what string
				send func() error
			}{
				{"assignment", func() error { return e.rn.Assigned(e.ctx, e.assign()) }},
				{"reminder", func() error { return e.rn.Remind(e.ctx, e.c, owen, "remind:2026-12-01", 2, false) }},
				{"escalation", func() error { return e.rn.Escalated(e.ctx, e.c, owen, 2, []string{olga}) }},
			} {
				e.st.set(-1)
				if err := s.send(); err == nil {
					t.Errorf("%s: sent with the database refusing its record", s.what)
				}
				e.st.set(0)
				e.clock.Set(e.clock.Now().Add(time.Second)) // the claim expired
				if err := s.send(); err != nil {
					t.Errorf("%s, sent again: %v", s.what, err)
				}
			}
			if got := e.dmTexts("owen"); len(got) != 2 {
				t.Errorf("owen got %d review DMs, want the assignment and one reminder: %q", len(got), got)
			}
			if got := e.dmTexts("olga"); len(got) != 1 {
				t.Errorf("olga got %d escalations, want 1: %q", len(got), got)
			}
			e.onePostPerKey(t)
			ds, err := e.st.ListDeliveries(e.ctx, e.c.TenantID, "review:"+e.c.ID)
			rqMust(t, err)
			if len(ds) != 3 {
				t.Errorf("%d review deliveries in the outbox, want 3", len(ds))
			}
			for _, d := range ds {
				if d.Status != store.DeliverySent || d.TS == "" {
					t.Errorf("delivery %s: %s ts %q, want sent with its ts", d.Key, d.Status, d.TS)
				}
			}
			// The recovered posts are tracked: Progress rewrites both of owen's.
			rqMust(t, e.rn.Progress(e.ctx, e.c, owen, 0))
			for _, txt := range e.dmTexts("owen") {
				if !strings.Contains(txt, "you are done") {
					t.Errorf("owen's DM not brought up to date: %q", txt)
				}
			}
		})
	}
}

// TestReviewRemindersEachSlot: in a normal run every reminder slot (each
// reminder day, each overdue day) and every escalation target gets its
// DM, and a slot sent again (an overlapping or retried scheduler run) does
// not send it twice.
func TestReviewRemindersEachSlot(t *testing.T) {
	t.Parallel()
	e := newReviewOnce(t, backend.SQLite, 10*time.Second)
	owen, olga, rita := e.users["owen"].ID, e.users["olga"].ID, e.users["rita"].ID
	rqMust(t, e.rn.Assigned(e.ctx, e.assign()))
	for _, slot := range []string{"remind:2026-12-01", "remind:2026-12-01", "remind:2026-12-05", "overdue:2026-12-08", "overdue:2026-12-09"} {
		rqMust(t, e.rn.Remind(e.ctx, e.c, owen, slot, 2, strings.HasPrefix(slot, "overdue:")))
	}
	for range 2 {
		rqMust(t, e.rn.Escalated(e.ctx, e.c, owen, 2, []string{olga, rita}))
	}
	// A second assignment (a later nomination) is a new DM.
	a := e.assign()
	a.Reason, a.Slot, a.Items = reviews.AssignNominated, "nominated:item-3:1", 1
	rqMust(t, e.rn.Assigned(e.ctx, a))

	if got := e.dmTexts("owen"); len(got) != 6 {
		t.Errorf("owen got %d review DMs, want 2 assignments and 4 reminders (one per slot): %q", len(got), got)
	}
	for _, u := range []string{"olga", "rita"} {
		if got := e.dmTexts(u); len(got) != 1 {
			t.Errorf("%s got %d escalations, want 1: %q", u, len(got), got)
		}
	}
	e.onePostPerKey(t)
	if n := len(e.fake.DeliveryPosts(slackapi.DeliveryEventType)); n != 8 {
		t.Errorf("%d delivery keys posted, want 8", n)
	}
}
