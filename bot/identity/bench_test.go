package identity_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/identity"
	"github.com/accessbot/accessbot/bot/slackapi"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/store/backend"
	"github.com/accessbot/accessbot/store/storetest"
)

// BenchmarkResolve: one linked user of 50, on SQLite and the memory cache,
// as the Slack runtime resolves every envelope's sender. A miss calls
// users.info on the fake and looks the email up. See BENCHMARKS.md.
func BenchmarkResolve(b *testing.B) {
	ctx := context.Background()
	st := storetest.Open(b, backend.SQLite)
	fake := slackfake.New()
	b.Cleanup(fake.Close)
	ten := &accessbot.Tenant{Slug: "acme", Name: "Acme"}
	if err := st.CreateTenant(ctx, ten); err != nil {
		b.Fatal(err)
	}
	if err := st.BindWorkspace(ctx, &accessbot.Workspace{TenantID: ten.ID, TeamID: teamID, TeamName: "Acme"}); err != nil {
		b.Fatal(err)
	}
	for i := range 50 {
		u := &accessbot.User{TenantID: ten.ID, Email: fmt.Sprintf("p%02d@example.com", i), Name: fmt.Sprintf("P %d", i),
			Status: accessbot.UserActive, Role: accessbot.RoleMember}
		if err := st.CreateUser(ctx, u); err != nil {
			b.Fatal(err)
		}
	}
	team := fake.AddTeam(slackfake.Team{ID: teamID, Name: "Acme"})
	if _, err := fake.AddUser(slackfake.User{ID: "UP07", TeamID: teamID, Email: "p07@example.com"}); err != nil {
		b.Fatal(err)
	}
	c, err := slackapi.NewClient(team.ID, team.BotToken, slackapi.Options{APIURL: fake.URL(), Guard: slackapi.Strict{}})
	if err != nil {
		b.Fatal(err)
	}
	res := identity.NewResolver(st, teamClients{teamID: c}, identity.Options{Log: zerolog.Nop()})
	resolve := func(b *testing.B) {
		if a, err := res.Resolve(ctx, teamID, "UP07"); err != nil || a.User.Email != "p07@example.com" {
			b.Fatalf("resolve: %+v, %v", a, err)
		}
	}
	b.Run("hit", func(b *testing.B) {
		resolve(b)
		b.ReportAllocs()
		for b.Loop() {
			resolve(b)
		}
	})
	b.Run("miss", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := res.Invalidate(ctx, teamID, "UP07"); err != nil {
				b.Fatal(err)
			}
			resolve(b)
		}
	})
}
