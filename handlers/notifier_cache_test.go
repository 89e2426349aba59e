package handlers_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/handlers"
	"github.com/accessbot/accessbot/store/storetest"
)

// TestNotifierStoredSlackID: a user's Slack id and DM channel, once looked
// up, are stored: another notifier (a fresh replica) DMs them with no Slack
// lookup. A stored id is trusted for SlackIDMaxAge, then looked up again;
// a change of the tenant user's email drops it at once. Table-driven over
// both stores.
func TestNotifierStoredSlackID(t *testing.T) {
	t.Parallel()
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			f := newNotifyFixture(t, driver)
			chat := &scriptChat{lookups: map[string]string{}}
			var mu sync.Mutex
			now := time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC)
			clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
			advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
			notifier := func() *handlers.Notifier {
				return handlers.NewNotifier(handlers.NotifierConfig{Store: f.st, Log: zerolog.Nop(), Now: clock, SlackIDMaxAge: 24 * time.Hour,
					Clients: handlers.ChatClientsFunc(func(context.Context, string) (handlers.ChatAPI, error) { return chat, nil })})
			}
			owen := f.users["owen"]
			asked := 0
			ask := func(n *handlers.Notifier) {
				t.Helper()
				req := f.create(t, asked%3)
				asked++
				rqMust(t, n.RequestCreated(f.ctx, req))
				rqMust(t, n.ApprovalNeeded(f.ctx, req, 0, []string{owen.ID}))
				_, err := f.svc.Cancel(f.ctx, owen.TenantID, req.ID, f.users["rita"].ID)
				rqMust(t, err)
			}
			dms := func(ch string) int { return chat.count(ch, false, "asks for") }
			calls := func() (int, int) { chat.mu.Lock(); defer chat.mu.Unlock(); return chat.lookedUp, chat.opened }
			steps := []struct {
				name        string
				before      func()
				fresh       bool // a new notifier: nothing in process
				wantChannel string
				// Slack calls so far. Rita, the requester, is DMed too: her id
				// is looked up first and again past the max age (the same
				// Slack user: her DM channel is kept, not opened again).
				wantLookups int // users.lookupByEmail
				wantOpens   int // conversations.open
			}{
				{name: "first DM: looked up and stored", wantChannel: "D-UOWEN", wantLookups: 2, wantOpens: 2},
				{name: "another replica: the stored id and channel", fresh: true, wantChannel: "D-UOWEN", wantLookups: 2, wantOpens: 2},
				{name: "Slack moved the email, within the max age: still trusted", before: func() {
					chat.mu.Lock()
					chat.lookups["owen@acme.test"] = "UOWEN2"
					chat.mu.Unlock()
					advance(23 * time.Hour)
				}, wantChannel: "D-UOWEN", wantLookups: 2, wantOpens: 2},
				{name: "past the max age: verified again", before: func() { advance(2 * time.Hour) }, fresh: true,
					wantChannel: "D-UOWEN2", wantLookups: 4, wantOpens: 3},
				{name: "renewed by the lookup", before: func() { advance(23 * time.Hour) }, fresh: true,
					wantChannel: "D-UOWEN2", wantLookups: 4, wantOpens: 3},
				{name: "our email changed: looked up at once", before: func() {
					chat.mu.Lock()
					chat.lookups["owen.b@acme.test"] = "UOWEN3"
					chat.mu.Unlock()
					owen.Email = "owen.b@acme.test"
					rqMust(t, f.st.UpdateUser(f.ctx, owen))
				}, wantChannel: "D-UOWEN3", wantLookups: 5, wantOpens: 4},
			}
			n := notifier()
			for _, st := range steps {
				if st.before != nil {
					st.before()
				}
				if st.fresh {
					n = notifier()
				}
				before := dms(st.wantChannel)
				ask(n)
				lookups, opens := calls()
				if got := dms(st.wantChannel); got != before+1 || lookups != st.wantLookups || opens != st.wantOpens {
					t.Fatalf("%s: %d new DMs to %s, %d lookups, %d opens; want 1, %d, %d", st.name, got-before, st.wantChannel,
						lookups, opens, st.wantLookups, st.wantOpens)
				}
			}
		})
	}
}

// A user_change event drops the notifier's cached Slack id of that user, so
// the next DM follows the account that now has the tenant user's email.
func TestE2EUserChangeRefreshesSlackID(t *testing.T) {
	e := startRequests(t, "sqlite", requests.Policy{})
	r1 := e.createAccess("rita", "Maintainers")
	e.approvalDM(slackID("mona"), r1.ID)
	// Mona's old account gets another email; a new account takes hers.
	_, err := e.fake.AddUser(slackfake.User{ID: slackID("mona"), TeamID: "T1", Name: "mona", RealName: "Mona", Email: "mona.old@acme.test"})
	rqMust(t, err)
	_, err = e.fake.AddUser(slackfake.User{ID: "UMONA2", TeamID: "T1", Name: "mona2", RealName: "Mona", Email: "mona@acme.test"})
	rqMust(t, err)
	e.ack(e.fake.SendEvent(e.fake.UserChange("T1", slackID("mona"))), nil)
	// Events are handled after their ack: wait until Mona's stored id is gone.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, err := e.st.GetSlackID(e.ctx, e.tenant.ID, e.users["mona"].ID, "T1")
		if errors.Is(err, accessbot.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("user_change did not drop Mona's stored Slack id: %v", err)
		}
	}

	r2 := e.createAccess("rita", "Developers")
	e.approvalDM("UMONA2", r2.ID)
	e.noDM(slackID("mona"), "asks for Developers")
}
