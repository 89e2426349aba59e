package handlers_test

import (
	"errors"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/handlers"
	"github.com/accessbot/accessbot/jobs"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/storetest"
)

// TestGoneSlackUserIsForgotten: a DM by a stored Slack id that Slack
// answers as to a user gone (deleted, deactivated: user_not_found,
// user_disabled, or its DM channel not found) forgets that stored link, in
// the tenant only, and fails in a way a job retries: the retry looks the
// user up by email again and reaches the Slack user that has the email now,
// once. A lookup by email that finds nobody forgets the link too, and stays
// final. Review and request DMs alike, on both stores.
func TestGoneSlackUserIsForgotten(t *testing.T) {
	t.Parallel()
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			e := newReviewOnce(t, driver, time.Minute)
			owen := e.users["owen"]
			owenDM := slackfake.DMChannel(slackID("owen"))
			// Another tenant whose user the same (gone) Slack user was matched to.
			other := &accessbot.Tenant{Slug: "globex", Name: "Globex"}
			rqMust(t, e.st.CreateTenant(e.ctx, other))
			otherOwen := &accessbot.User{TenantID: other.ID, Email: "owen@acme.test", Name: "Owen", Status: accessbot.UserActive, Role: accessbot.RoleMember}
			rqMust(t, e.st.CreateUser(e.ctx, otherOwen))
			rqMust(t, e.st.PutSlackID(e.ctx, &store.SlackID{TenantID: other.ID, UserID: otherOwen.ID, TeamID: "T1", SlackUserID: "UGONE",
				Email: otherOwen.Email, VerifiedAt: e.clock.Now()}))

			link := func(slackUser, channel string, verified time.Time) {
				t.Helper()
				rqMust(t, e.st.PutSlackID(e.ctx, &store.SlackID{TenantID: owen.TenantID, UserID: owen.ID, TeamID: "T1", SlackUserID: slackUser,
					Email: owen.Email, VerifiedAt: verified}))
				if channel != "" {
					rqMust(t, e.st.SetSlackDM(e.ctx, owen.TenantID, owen.ID, slackUser, channel))
				}
			}
			review := func(slot string) func() error {
				return func() error { return e.rn.Remind(e.ctx, e.c, owen.ID, slot, 2, false) }
			}
			for i, c := range []struct {
				name  string
				setup func()
				send  func() error
				// final: no retry can reach owen (Slack has nobody with his email).
				final bool
			}{
				{name: "review DM, stored id of a deleted Slack user (conversations.open)",
					setup: func() { link("UGONE", "", e.clock.Now()) }, send: review("remind:1")},
				{name: "review DM, stored DM channel of a deleted Slack user (chat.postMessage)",
					setup: func() { link("UGONE", "DUGONE", e.clock.Now()) }, send: review("remind:2")},
				{name: "review DM, Slack user deactivated (user_disabled)",
					setup: func() {
						link(slackID("owen"), owenDM, e.clock.Now())
						e.fake.FailNextError("chat.postMessage", 1, "user_disabled")
					}, send: review("remind:3")},
				{name: "request DM, stored id of a deleted Slack user",
					setup: func() { link("UGONE", "", e.clock.Now()) },
					send: func() func() error {
						req := e.create(t, 0)
						rqMust(t, e.n.RequestCreated(e.ctx, req)) // rita's confirmation, which the approver's DM is told in
						return func() error { return e.n.ApprovalNeeded(e.ctx, req, 0, []string{owen.ID}) }
					}()},
				{name: "re-verified past the max age: the email is in no Slack profile (users_not_found)",
					setup: func() {
						link("UGONE", "DUGONE", e.clock.Now().Add(-handlers.DefaultSlackIDMaxAge-time.Hour))
						_, err := e.fake.AddUser(slackfake.User{ID: slackID("owen"), TeamID: "T1", Name: "owen", Email: owen.Email, HideEmail: true})
						rqMust(t, err)
					}, send: review("remind:5"), final: true},
			} {
				c.setup()
				before := len(e.fake.Messages(owenDM))
				first := c.send()
				if first == nil {
					t.Fatalf("%s: sent", c.name)
				}
				if got := jobs.AllFinal(first, handlers.FinalSlackError); got != c.final {
					t.Fatalf("%s: error %v final %v, want %v", c.name, first, got, c.final)
				}
				if _, err := e.st.GetSlackID(e.ctx, owen.TenantID, owen.ID, "T1"); !errors.Is(err, accessbot.ErrNotFound) {
					t.Fatalf("%s: the stored Slack id was kept (%v)", c.name, err)
				}
				if s, err := e.st.GetSlackID(e.ctx, other.ID, otherOwen.ID, "T1"); err != nil || s.SlackUserID != "UGONE" {
					t.Fatalf("%s: the other tenant's link %+v, %v; want it untouched", c.name, s, err)
				}
				if c.final {
					continue
				}
				rqMust(t, c.send()) // the job's retry
				rqMust(t, c.send()) // and another: sent already
				if n := len(e.fake.Messages(owenDM)) - before; n != 1 {
					t.Fatalf("%s: %d DMs to owen's Slack user after the retries, want 1", c.name, n)
				}
				s, err := e.st.GetSlackID(e.ctx, owen.TenantID, owen.ID, "T1")
				rqMust(t, err)
				if s.SlackUserID != slackID("owen") || s.DMChannelID != owenDM {
					t.Fatalf("%s: stored after the retry %+v, want %s in %s", c.name, s, slackID("owen"), owenDM)
				}
				t.Logf("%s case %d: first attempt: %v", driver, i+1, first)
			}
			e.onePostPerKey(t)
		})
	}
}
