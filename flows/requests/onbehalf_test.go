package requests_test

import (
	"context"
	"slices"
	"testing"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/store/storetest"
)

// Who may ask for whom: a manager's reach (direct reports, the whole
// reporting line, none), admins, and groups for their applications.
func TestForWhomAndTargets(t *testing.T) {
	ctx := context.Background()
	st := storetest.Open(t, "sqlite")
	ten := &accessbot.Tenant{Slug: "t", Name: "T"}
	if err := st.CreateTenant(ctx, ten); err != nil {
		t.Fatal(err)
	}
	users := map[string]*accessbot.User{}
	// vp → dir → lead → dev; admin and help stand apart; gone is terminated under lead.
	for _, u := range []struct{ name, manager, role, status string }{
		{"vp", "", "member", "active"}, {"dir", "vp", "member", "active"}, {"lead", "dir", "member", "active"},
		{"dev", "lead", "member", "active"}, {"gone", "lead", "member", "terminated"},
		{"admin", "", "admin", "active"}, {"help", "", "member", "active"},
	} {
		x := &accessbot.User{TenantID: ten.ID, Email: u.name + "@t.test", Name: u.name, Role: accessbot.Role(u.role), Status: accessbot.UserStatus(u.status)}
		if u.manager != "" {
			x.ManagerID = users[u.manager].ID
		}
		if err := st.CreateUser(ctx, x); err != nil {
			t.Fatal(err)
		}
		users[u.name] = x
	}
	all, err := st.ListUsers(ctx, ten.ID)
	if err != nil {
		t.Fatal(err)
	}
	group := []accessbot.OnBehalfGroup{{Name: "helpdesk", MemberIDs: []string{users["help"].ID}, AppIDs: []string{"app-vpn"}}}
	for _, tc := range []struct {
		name              string
		policy            accessbot.OnBehalf
		requester, target string
		app               string
		ok                bool
	}{
		{"direct report, default", accessbot.OnBehalf{}, "lead", "dev", "app-x", true},
		{"skip level, default", accessbot.OnBehalf{}, "dir", "dev", "app-x", false},
		{"skip level, reporting line", accessbot.OnBehalf{Managers: accessbot.ReachReportingLine}, "vp", "dev", "app-x", true},
		{"upwards, reporting line", accessbot.OnBehalf{Managers: accessbot.ReachReportingLine}, "dev", "vp", "app-x", false},
		{"direct report, managers none", accessbot.OnBehalf{Managers: accessbot.ReachNone}, "lead", "dev", "app-x", false},
		{"admin without admins: true", accessbot.OnBehalf{}, "admin", "dev", "app-x", false},
		{"admin with admins: true", accessbot.OnBehalf{Admins: true}, "admin", "dev", "app-x", true},
		{"group, its application", accessbot.OnBehalf{Groups: group}, "help", "vp", "app-vpn", true},
		{"group, another application", accessbot.OnBehalf{Groups: group}, "help", "vp", "app-x", false},
		{"not in the group", accessbot.OnBehalf{Groups: group}, "dev", "vp", "app-vpn", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			why, err := requests.ForWhom(ctx, st, tc.policy, users[tc.requester], users[tc.target], tc.app)
			if err != nil {
				t.Fatal(err)
			}
			if (why != "") != tc.ok {
				t.Fatalf("ForWhom = %q, want ok=%v", why, tc.ok)
			}
		})
	}

	ids := func(names ...string) []string {
		var out []string
		for _, n := range names {
			out = append(out, users[n].ID)
		}
		return out
	}
	if anyone, got := requests.Targets(accessbot.OnBehalf{}, users["dir"], all); anyone || !slices.Equal(got, ids("lead")) {
		t.Fatalf("dir's direct reports = %v %v", anyone, got)
	}
	if anyone, got := requests.Targets(accessbot.OnBehalf{Managers: accessbot.ReachReportingLine}, users["vp"], all); anyone || !slices.Equal(got, ids("dir", "lead", "dev")) {
		t.Fatalf("vp's reporting line = %v %v, want dir, lead, dev (not the terminated one)", anyone, got)
	}
	if anyone, _ := requests.Targets(accessbot.OnBehalf{Admins: true}, users["admin"], all); !anyone {
		t.Fatal("an admin under admins: true may ask for anyone")
	}
	if anyone, _ := requests.Targets(accessbot.OnBehalf{Groups: group}, users["help"], all); !anyone {
		t.Fatal("a group member may ask for anyone (for the group's applications)")
	}
}
