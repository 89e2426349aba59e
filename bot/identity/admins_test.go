package identity_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/accessbot/accessbot/bot/identity"
)

func TestAdminsWords(t *testing.T) {
	for _, tc := range []struct {
		name   string
		admins []identity.Admin
		want   string
	}{
		{"none", nil, ""},
		{"one mention", []identity.Admin{{Name: "Ada", Email: "ada@x.test", SlackUserID: "U1"}}, "<@U1>"},
		{"mention and name", []identity.Admin{{Name: "Ada", SlackUserID: "U1"}, {Name: "Bo", Email: "bo@x.test"}}, "<@U1> or Bo (bo@x.test)"},
		{"three, email only, escaped", []identity.Admin{{SlackUserID: "U1"}, {Email: "c@x.test"}, {Name: "D <&> E", Email: "d@x.test"}},
			"<@U1>, c@x.test or D &lt;&amp;&gt; E (d@x.test)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := identity.AdminsWords(tc.admins); got != tc.want {
				t.Fatalf("AdminsWords = %q, want %q", got, tc.want)
			}
		})
	}
}

// An unmatched user clicking again within the workspace TTL costs no new
// users.lookupByEmail calls; after it, the admins are looked up again.
func TestUnmatchedUserAdminsAreKeptBriefly(t *testing.T) {
	t.Parallel()
	e := setup(t, "sqlite", "memory")
	ctx := context.Background()
	lookups := func() int { return len(e.fake.Calls("users.lookupByEmail")) }
	for range 3 {
		if _, err := e.res.Resolve(ctx, teamID, "UNOBODY"); !errors.Is(err, identity.ErrNoMatch) {
			t.Fatalf("err = %v, want ErrNoMatch", err)
		}
	}
	first := lookups()
	if first != 2 { // alice and zed, the active admins
		t.Fatalf("%d users.lookupByEmail calls for 3 clicks, want 2", first)
	}
	e.clock.Add(identity.DefaultWorkspaceTTL + time.Second)
	if _, err := e.res.Resolve(ctx, teamID, "UNOBODY"); !errors.Is(err, identity.ErrNoMatch) {
		t.Fatalf("err = %v, want ErrNoMatch", err)
	}
	if n := lookups(); n != first+2 {
		t.Fatalf("%d lookups after the TTL, want %d", n, first+2)
	}
}
