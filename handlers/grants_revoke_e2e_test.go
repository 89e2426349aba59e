package handlers_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot"
	"github.com/accessbot/accessbot/bot/slackapi"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/flows/digest"
	"github.com/accessbot/accessbot/flows/findings"
	"github.com/accessbot/accessbot/flows/grants"
	"github.com/accessbot/accessbot/handlers"
	"github.com/accessbot/accessbot/internal/secrets"
	"github.com/accessbot/accessbot/store"
)

// TestFindingRevokeEndToEnd: a terminated employee (tom) still has an
// active GitLab account in group "admins". The critical alert carries
// Revoke behind a confirmation dialog. The application owner (bob, allowed
// to acknowledge) is refused: Revoke is for admins, re-checked on the
// server. Ada's click starts the deprovisioning chain of tom's grant (the
// imported one, recorded first) once, resolves the finding and updates the
// alert; a second click changes nothing.
func TestFindingRevokeEndToEnd(t *testing.T) {
	start := time.Date(2026, 7, 1, 6, 0, 0, 0, time.UTC)
	e := newDigestEnv(t, "sqlite", start)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	people := e.addPeople(t, ctx, map[string]accessbot.Role{"ada": accessbot.RoleAdmin, "bob": accessbot.RoleMember})
	gone := start.Add(-48 * time.Hour)
	tom := &accessbot.User{TenantID: e.tenant, Email: "tom@acme.test", Name: "Tom", Status: accessbot.UserTerminated, TerminatedAt: &gone, Role: accessbot.RoleMember}
	must(t, e.st.CreateUser(ctx, tom))
	app := &accessbot.Application{TenantID: e.tenant, Name: "GitLab", Connector: "manual", PrimaryOwnerID: people["bob"].ID}
	must(t, e.st.CreateApplication(ctx, app))
	admins := &accessbot.Connection{TenantID: e.tenant, AppID: app.ID, Name: "admins", Type: "group"}
	must(t, e.st.CreateConnection(ctx, admins))
	must(t, e.st.InTx(ctx, func(q store.Queries) error {
		if _, err := q.ReplaceIdentities(ctx, e.tenant, app.ID, []accessbot.Identity{{ExternalID: "tom", Email: "tom@acme.test", DisplayName: "tom", Status: accessbot.IdentityActive}}, accessbot.SnapshotKeep{}, start); err != nil {
			return err
		}
		if _, err := q.ReplaceAppEntitlements(ctx, e.tenant, app.ID, []accessbot.AppEntitlement{{ExternalID: "admins", Name: "admins", Type: "group"}}, accessbot.SnapshotKeep{}, start); err != nil {
			return err
		}
		_, err := q.ReplaceRelations(ctx, e.tenant, app.ID, []accessbot.RelationKey{{IdentityExternalID: "tom", EntitlementExternalID: "admins"}}, accessbot.SnapshotKeep{}, start)
		return err
	}))
	_, err := findings.NewEngine(e.now.Now, zerolog.Nop()).RunTx(ctx, e.st, e.tenant)
	must(t, err)
	must(t, e.st.PutAlertSettings(ctx, &store.AlertSettings{TenantID: e.tenant, Channels: []string{"C1"}, Since: start.Add(-time.Hour)}))

	dep := &recDeprovisioner{}
	gs, err := grants.New(grants.Config{Store: e.st, Deprovisioner: dep, Clock: e.now.Now, Log: zerolog.Nop()})
	must(t, err)
	actions := handlers.DefaultItemActions()
	must(t, actions.Add(handlers.RevokeItemAction(gs)))
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	botApp, err := bot.NewApp(bot.AppConfig{
		Store: e.st, AppToken: secrets.Secret(e.fake.AppToken()), BotToken: secrets.Secret(e.team.BotToken),
		APIURL: e.fake.URL(), Connections: 1, PingInterval: 5 * time.Second, Pacing: &slackapi.Pacing{}, Guard: slackapi.Strict{},
		Register: func(r *bot.Router, id bot.Resolver) error {
			must(t, handlers.Register(r, handlers.Deps{Identity: id}))
			return handlers.RegisterDigest(r, handlers.NewDigest(handlers.DigestConfig{Store: e.st, Actions: actions, Now: e.now.Now, Log: log}))
		},
		Now: e.now.Now, Log: log,
	})
	must(t, err)
	runApp(t, ctx, e.fake, botApp)

	clients := slackapi.NewClients(e.st, nil, secrets.Secret(e.team.BotToken), slackapi.Options{APIURL: e.fake.URL(), Pacing: &slackapi.Pacing{}, Guard: slackapi.Strict{}})
	poster := handlers.NewDigest(handlers.DigestConfig{Store: e.st, Clients: handlers.SlackChatClients(clients), Actions: actions, Now: e.now.Now, Log: log})
	must(t, digest.New(e.st, poster, digest.Config{Clock: e.now.Now}).AlertCritical(ctx, e.now.Now()))
	alerts := e.topLevel("C1", "Critical finding")
	if len(alerts) != 1 {
		t.Fatalf("%d critical alerts, want 1", len(alerts))
	}
	if b := string(alerts[0].Blocks); !strings.Contains(b, `"action_id":"finding_revoke"`) || !strings.Contains(b, `"confirm"`) {
		t.Fatalf("alert has no Revoke with a confirmation: %s", b)
	}
	fs, err := e.st.ListFindings(ctx, e.tenant, accessbot.FindingFilter{})
	must(t, err)
	if len(fs) != 1 || fs[0].Rule != findings.RuleTerminatedActive {
		t.Fatalf("findings %+v", fs)
	}
	f := fs[0]

	e.clickFinding(t, ctx, "UBOB", "C1", alerts[0].TS, "revoke", f.ID)
	e.waitEphemeral(t, ctx, "UBOB", "Only tenant admins can revoke")
	if len(dep.calls) != 0 {
		t.Fatalf("the owner's click deprovisioned: %v", dep.calls)
	}

	e.clickFinding(t, ctx, "UADA", "C1", alerts[0].TS, "revoke", f.ID)
	if _, err := e.fake.WaitForMessage(ctx, "C1", func(m slackfake.Message) bool {
		return m.TS == alerts[0].TS && strings.Contains(string(m.Blocks), "Resolved by ada")
	}); err != nil {
		t.Fatalf("alert not updated after Revoke: %v", err)
	}
	held, err := e.st.ListEntitlements(ctx, e.tenant, tom.ID)
	must(t, err)
	if len(held) != 1 || held[0].ConnectionID != admins.ID || dep.of(held[0].ID) != 1 || !held[0].Ending() {
		t.Fatalf("tom's grants %+v, deprovision calls %v", held, dep.calls)
	}
	cur, err := e.st.GetFinding(ctx, e.tenant, f.ID)
	must(t, err)
	if cur.Status != accessbot.FindingResolved {
		t.Fatalf("finding %s after Revoke", cur.Status)
	}
	e.clickFinding(t, ctx, "UADA", "C1", alerts[0].TS, "revoke", f.ID)
	e.waitEphemeral(t, ctx, "UADA", "already resolved")
	if len(dep.calls) != 1 {
		t.Fatalf("second Revoke deprovisioned again: %v", dep.calls)
	}
}
