package bot_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot"
	"github.com/accessbot/accessbot/bot/identity"
)

// fixedIdentity resolves every Slack user to a user of the tenant named by
// the team id.
type fixedIdentity struct{}

func (fixedIdentity) Resolve(_ context.Context, teamID, slackUserID string) (identity.Actor, error) {
	return identity.Actor{TenantID: "t-" + teamID, TeamID: teamID, SlackUserID: slackUserID, User: accessbot.User{ID: "u-" + slackUserID}}, nil
}

func (fixedIdentity) Invalidate(context.Context, string, string) error             { return nil }
func (fixedIdentity) ProfileChanged(context.Context, string, string, string) error { return nil }

// tenantReads counts GetTenant calls; fail makes them fail.
type tenantReads struct {
	mu   sync.Mutex
	n    int
	fail bool
	name string
}

func (r *tenantReads) GetTenant(_ context.Context, id string) (*accessbot.Tenant, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	if r.fail {
		return nil, errors.New("store down")
	}
	return &accessbot.Tenant{ID: id, Slug: id, Name: r.name}, nil
}

// TestIdentityKeepsTenants: repeated resolves read the tenant once per
// TenantTTL, per tenant; a failed read is not kept.
func TestIdentityKeepsTenants(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	reads := &tenantReads{name: "Acme"}
	id := bot.NewIdentity(fixedIdentity{}, reads, func() time.Time { return now })
	resolve := func(team string) (bot.Actor, error) { return id.Resolve(ctx, team, "U1") }
	for range 3 {
		a, err := resolve("T1")
		if err != nil || a.Tenant.ID != "t-T1" || a.Tenant.Name != "Acme" || a.User.ID != "u-U1" {
			t.Fatalf("resolve: %+v, %v", a, err)
		}
	}
	if reads.n != 1 {
		t.Fatalf("3 resolves read the tenant %d times, want 1", reads.n)
	}
	if a, _ := resolve("T2"); a.Tenant.ID != "t-T2" || reads.n != 2 {
		t.Fatalf("other tenant: %+v after %d reads, want t-T2 after 2", a.Tenant, reads.n)
	}

	reads.name = "Acme Corp" // renamed by apply
	now = now.Add(bot.TenantTTL - time.Second)
	if a, _ := resolve("T1"); a.Tenant.Name != "Acme" {
		t.Fatalf("within TenantTTL: %q, want the kept name", a.Tenant.Name)
	}
	now = now.Add(time.Second)
	if a, _ := resolve("T1"); a.Tenant.Name != "Acme Corp" || reads.n != 3 {
		t.Fatalf("after TenantTTL: %q after %d reads, want the new name after 3", a.Tenant.Name, reads.n)
	}

	reads.fail = true
	if _, err := resolve("T3"); err == nil {
		t.Fatal("failed tenant read: no error")
	}
	reads.fail = false
	if _, err := resolve("T3"); err != nil || reads.n != 5 {
		t.Fatalf("after a failure: %v after %d reads, want a fresh read (5)", err, reads.n)
	}
}

// recentIdentity marks which of its resolves was used.
type recentIdentity struct{ fixedIdentity }

func (recentIdentity) ResolveRecent(_ context.Context, teamID, slackUserID string) (identity.Actor, error) {
	return identity.Actor{TenantID: "t-" + teamID, TeamID: teamID, SlackUserID: slackUserID, User: accessbot.User{ID: "recent-" + slackUserID}}, nil
}

// TestIdentityResolveRecent: the adapter passes ResolveRecent to a source
// that has it, with the tenant added, and falls back to Resolve otherwise.
func TestIdentityResolveRecent(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		src  bot.IdentitySource
		want string
	}{
		{"source with ResolveRecent", recentIdentity{}, "recent-U1"},
		{"source without", fixedIdentity{}, "u-U1"},
	} {
		id := bot.NewIdentity(c.src, &tenantReads{name: "Acme"}, nil)
		rr, ok := id.(bot.RecentResolver)
		if !ok {
			t.Fatalf("%s: the adapter is no RecentResolver", c.name)
		}
		a, err := rr.ResolveRecent(ctx, "T1", "U1")
		if err != nil || a.User.ID != c.want || a.Tenant.Name != "Acme" {
			t.Errorf("%s: %+v, %v; want user %s in Acme", c.name, a, err, c.want)
		}
	}
}
