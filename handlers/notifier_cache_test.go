package handlers_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/handlers"
)

// TestNotifierSlackIDCacheExpires: a user's Slack id, looked up by email,
// is trusted for IdentityTTL, then looked up again; ForgetSlackUser drops
// it at once.
func TestNotifierSlackIDCacheExpires(t *testing.T) {
	t.Parallel()
	f := newNotifyFixture(t, "sqlite")
	chat := &scriptChat{lookups: map[string]string{}}
	var mu sync.Mutex
	now := time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	n := handlers.NewNotifier(handlers.NotifierConfig{Store: f.st, Log: zerolog.Nop(), Now: clock, IdentityTTL: 10 * time.Minute,
		Clients: handlers.ChatClientsFunc(func(context.Context, string) (handlers.ChatAPI, error) { return chat, nil })})
	ask := func(i int) string {
		t.Helper()
		req := f.create(t, i)
		rqMust(t, n.RequestCreated(f.ctx, req))
		rqMust(t, n.ApprovalNeeded(f.ctx, req, 0, []string{f.users["owen"].ID}))
		return req.ID
	}
	dms := func(ch string) int { return chat.count(ch, false, "asks for") }

	first := ask(0)
	// Owen's Slack account changes: owen@acme.test now belongs to UOWEN2.
	chat.mu.Lock()
	chat.lookups["owen@acme.test"] = "UOWEN2"
	chat.mu.Unlock()
	advance(5 * time.Minute)
	ask(1) // within the TTL: the cached id
	if o, o2 := dms("D-UOWEN"), dms("D-UOWEN2"); o != 2 || o2 != 0 {
		t.Fatalf("within the TTL: %d DMs to UOWEN, %d to UOWEN2; want 2 and 0", o, o2)
	}
	advance(6 * time.Minute)
	ask(2) // past the TTL: looked up again
	if o, o2 := dms("D-UOWEN"), dms("D-UOWEN2"); o != 2 || o2 != 1 {
		t.Fatalf("past the TTL: %d DMs to UOWEN, %d to UOWEN2; want 2 and 1", o, o2)
	}

	// ForgetSlackUser drops the mapping before the TTL runs out.
	chat.mu.Lock()
	chat.lookups["owen@acme.test"] = "UOWEN3"
	chat.mu.Unlock()
	n.ForgetSlackUser("T1", "UOWEN2")
	_, err := f.svc.Cancel(f.ctx, f.users["rita"].TenantID, first, f.users["rita"].ID)
	rqMust(t, err)
	ask(0)
	if got := dms("D-UOWEN3"); got != 1 {
		t.Fatalf("after ForgetSlackUser: %d DMs to UOWEN3, want 1", got)
	}

	// Each DM channel was opened once, however many DMs went to it.
	chat.mu.Lock()
	channels := map[string]bool{}
	for _, p := range chat.posts {
		channels[p.channel] = true
	}
	opened, posts := chat.opened, len(chat.posts)
	chat.mu.Unlock()
	t.Logf("[counts] posts %d to %d DM channels, conversations.open %d", posts, len(channels), opened)
	if opened != len(channels) {
		t.Errorf("conversations.open called %d times for %d DM channels, want once each", opened, len(channels))
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

	r2 := e.createAccess("rita", "Developers")
	e.approvalDM("UMONA2", r2.ID)
	e.noDM(slackID("mona"), "asks for Developers")
}
