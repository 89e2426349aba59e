package scim_test

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/connectors/scim"
	"github.com/accessbot/accessbot/connectors/scim/scimfake"
	"github.com/accessbot/accessbot/flows/dirsync"
	"github.com/accessbot/accessbot/flows/findings"
	"github.com/accessbot/accessbot/store/storetest"
)

// A SCIM application syncs through the same dirsync path as Entra ID:
// identities (disabled when active is false), groups and members; a
// member added in the application outside accessbot is drift after the
// next sync, one granted through accessbot is not.
func TestSyncThroughDirsyncRaisesDrift(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			f := scimfake.New()
			defer f.Close()
			f.MaxPage = 2
			alice := f.PutUser(scimfake.User{UserName: "alice@example.com", DisplayName: "Alice", Active: true})
			bob := f.PutUser(scimfake.User{UserName: "bob", Email: "bob@example.com", Active: false})
			carol := f.PutUser(scimfake.User{UserName: "carol@example.com", Active: true})
			dave := f.PutUser(scimfake.User{UserName: "dave@example.com", Active: true})
			eng := f.PutGroup("Engineering")
			ops := f.PutGroup("Ops")
			f.AddMember(eng, alice)
			f.AddMember(eng, bob)
			f.AddMember(ops, carol)

			st := storetest.Open(t, driver)
			now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
			clock := func() time.Time { return now }
			ten := &accessbot.Tenant{Slug: "acme", Name: "Acme"}
			must(t, st.CreateTenant(ctx, ten))
			owner := &accessbot.User{TenantID: ten.ID, Email: "owner@example.com", Name: "Owner", Role: accessbot.RoleAdmin}
			must(t, st.CreateUser(ctx, owner))
			app := &accessbot.Application{TenantID: ten.ID, Name: "Wiki", Connector: "scim", PrimaryOwnerID: owner.ID}
			must(t, st.CreateApplication(ctx, app))
			daveEmp := &accessbot.User{TenantID: ten.ID, Email: "dave@example.com", Name: "Dave"}
			must(t, st.CreateUser(ctx, daveEmp))
			opsConn := &accessbot.Connection{TenantID: ten.ID, AppID: app.ID, Name: "Ops", Type: "group"}
			must(t, st.CreateConnection(ctx, opsConn))
			must(t, st.CreateEntitlement(ctx, &accessbot.Entitlement{TenantID: ten.ID, UserID: daveEmp.ID, ConnectionID: opsConn.ID, GrantedAt: now}))

			c, _ := newClient(t, f, f.Token)
			sy := dirsync.New(st, findings.NewEngine(clock, zerolog.Nop()), clock, zerolog.Nop())
			sync := func() *dirsync.Result {
				t.Helper()
				res, err := sy.Sync(ctx, ten.ID, app, scim.Source{C: c}, dirsync.Options{TempDir: t.TempDir()})
				if err != nil {
					t.Fatal(err)
				}
				for _, im := range res.Imports {
					for _, r := range im.Rejected {
						t.Errorf("rejected: %v", r)
					}
				}
				return res
			}
			res := sync()
			if !res.Full || !res.Written || res.Identities != 4 || res.Groups != 2 || res.Relations != 3 || res.Drift != 0 {
				t.Fatalf("first sync: %s", res.Summary())
			}
			ids, _ := st.ListIdentities(ctx, ten.ID, app.ID, false)
			byExt := map[string]accessbot.Identity{}
			for _, i := range ids {
				byExt[i.ExternalID] = i
			}
			if byExt[bob].Status != accessbot.IdentityDisabled || byExt[bob].Email != "bob@example.com" || byExt[alice].DisplayName != "Alice" {
				t.Fatalf("identities = %+v", byExt)
			}

			// Outside accessbot: alice joins Ops; dave joins Ops (granted).
			now = now.Add(time.Hour)
			f.AddMember(ops, alice)
			f.AddMember(ops, dave)
			f.RemoveMember(eng, bob)
			res = sync()
			if res.Relations != 4 || res.Drift != 1 {
				t.Fatalf("second sync: %s", res.Summary())
			}
			fs, err := st.ListFindings(ctx, ten.ID, accessbot.FindingFilter{Rule: dirsync.RuleDrift})
			must(t, err)
			if len(fs) != 1 || !strings.Contains(fs[0].Subject.Display, "alice@example.com") || !strings.Contains(string(fs[0].Details), `"Ops"`) {
				t.Fatalf("drift = %+v", fs)
			}
			rels, _ := st.ListRelations(ctx, ten.ID, app.ID, false)
			var got []string
			ents, _ := st.ListAppEntitlements(ctx, ten.ID, app.ID, false)
			en := map[string]string{}
			for _, e := range ents {
				en[e.ID] = e.Name
			}
			in := map[string]string{}
			for _, i := range ids {
				in[i.ID] = i.ExternalID
			}
			for _, r := range rels {
				got = append(got, in[r.IdentityID]+"→"+en[r.EntitlementID])
			}
			sort.Strings(got)
			want := []string{alice + "→Engineering", alice + "→Ops", carol + "→Ops", dave + "→Ops"}
			sort.Strings(want)
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Fatalf("relations %v, want %v", got, want)
			}
		})
	}
}
