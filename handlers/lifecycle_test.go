package handlers_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot"
	"github.com/accessbot/accessbot/bot/oauth"
	"github.com/accessbot/accessbot/bot/slackapi"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/handlers"
	"github.com/accessbot/accessbot/internal/secrets"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/storetest"
)

// forgets records Forget calls and passes them to the app (its clients and
// its in-process workspace bindings).
type forgets struct {
	mu    sync.Mutex
	teams []string
	app   *bot.App
}

func (f *forgets) Forget(team string) {
	f.mu.Lock()
	f.teams = append(f.teams, team)
	a := f.app
	f.mu.Unlock()
	if a != nil {
		a.Forget(team)
	}
}

func (f *forgets) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.teams)
}

type lifecycleEnv struct {
	fake    *slackfake.Server
	st      store.Store
	team    slackfake.Team
	tenant  *accessbot.Tenant
	forgets *forgets
	ctx     context.Context
}

// startLifecycle runs the bot against the fake with workspace T1 bound to
// tenant acme the way an OAuth install binds it: the bot token stored
// encrypted under oauth.BotTokenSecret, no slack.bot_token in config.
func startLifecycle(t *testing.T, driver string) *lifecycleEnv {
	t.Helper()
	fake := slackfake.New(slackfake.WithPingInterval(200 * time.Millisecond))
	t.Cleanup(fake.Close)
	team := fake.AddTeam(slackfake.Team{ID: "T1", Name: "Acme"})
	if _, err := fake.AddUser(slackfake.User{ID: "UADA", TeamID: "T1", Name: "ada", Email: "ada@acme.test"}); err != nil {
		t.Fatal(err)
	}
	st := storetest.Open(t, driver)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	tenant := &accessbot.Tenant{Slug: "acme", Name: "Acme Corp"}
	must(t, st.CreateTenant(ctx, tenant))
	must(t, st.CreateUser(ctx, &accessbot.User{TenantID: tenant.ID, Email: "ada@acme.test", Name: "Ada",
		Status: accessbot.UserActive, Role: accessbot.RoleMember}))
	keys, err := secrets.NewKeyring(secrets.Key{ID: "k1", Key: bytes.Repeat([]byte{7}, secrets.KeySize)})
	must(t, err)
	kid, ct, err := keys.Seal([]byte(team.BotToken), secrets.AAD(tenant.ID, oauth.BotTokenSecret))
	must(t, err)
	must(t, st.PutSecret(ctx, &accessbot.Secret{TenantID: tenant.ID, Name: oauth.BotTokenSecret, KeyID: kid, Ciphertext: ct}))
	must(t, st.BindWorkspace(ctx, &accessbot.Workspace{TenantID: tenant.ID, TeamID: "T1", TeamName: "Acme",
		BotTokenSecret: oauth.BotTokenSecret, BotUserID: team.BotUserID}))

	f := &forgets{}
	lc, err := handlers.NewLifecycle(st, f, nil)
	must(t, err)
	app, err := bot.NewApp(bot.AppConfig{
		Store: st, Keys: keys, AppToken: secrets.Secret(fake.AppToken()),
		APIURL: fake.URL(), Connections: 1, PingInterval: 5 * time.Second,
		Pacing: &slackapi.Pacing{}, Guard: slackapi.Strict{},
		Register: func(r *bot.Router, id bot.Resolver) error {
			return handlers.Register(r, handlers.Deps{Identity: id, Lifecycle: lc})
		},
		Log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel),
	})
	must(t, err)
	f.mu.Lock()
	f.app = app
	f.mu.Unlock()
	runApp(t, ctx, fake, app)
	return &lifecycleEnv{fake: fake, st: st, team: team, tenant: tenant, forgets: f, ctx: ctx}
}

// audit returns the actions recorded for workspace T1.
func (e *lifecycleEnv) audit(t *testing.T) []string {
	t.Helper()
	entries, err := e.st.ListAudit(e.ctx, e.tenant.ID, "T1")
	must(t, err)
	var out []string
	for _, a := range entries {
		out = append(out, a.Action)
	}
	return out
}

// waitAudit waits until T1's audit actions are want.
func (e *lifecycleEnv) waitAudit(t *testing.T, want ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for strings.Join(e.audit(t), ",") != strings.Join(want, ",") {
		if time.Now().After(deadline) {
			t.Fatalf("audit for T1 = %v, want %v", e.audit(t), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (e *lifecycleEnv) helpAnswer(t *testing.T) string {
	t.Helper()
	a, err := e.fake.AwaitAck(e.ctx, e.fake.SendSlashCommand(e.fake.SlashCommand("T1", "UADA", "help")))
	must(t, err)
	return string(a.Payload)
}

func TestLifecycleEvents(t *testing.T) {
	t.Parallel()
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			e := startLifecycle(t, driver)
			// The stored token serves the workspace: routing by team id finds it.
			if got := e.helpAnswer(t); !strings.Contains(got, "/access help") {
				t.Fatalf("help before: %s", got)
			}

			// tokens_revoked: the cached client goes, the revocation is audited,
			// the binding stays (a reinstall replaces the token).
			env := e.fake.SendEvent(e.fake.EventCallback("tokens_revoked", "T1", map[string]any{
				"tokens": map[string]any{"oauth": []string{"UADA"}, "bot": []string{e.team.BotUserID}},
			}))
			if _, err := e.fake.AwaitAck(e.ctx, env); err != nil {
				t.Fatal(err)
			}
			e.waitAudit(t, handlers.AuditSlackTokensRevoke)
			if e.forgets.count() < 1 {
				t.Error("tokens_revoked did not drop the cached client")
			}
			if _, err := e.st.WorkspaceByTeam(e.ctx, "T1"); err != nil {
				t.Errorf("tokens_revoked unbound the workspace: %v", err)
			}

			// app_uninstalled: binding and stored token go in one step, audited.
			e.fake.SendEvent(e.fake.EventCallback("app_uninstalled", "T1", nil))
			e.waitAudit(t, handlers.AuditSlackTokensRevoke, handlers.AuditSlackUninstalled)
			if _, err := e.st.WorkspaceByTeam(e.ctx, "T1"); !errors.Is(err, accessbot.ErrNotFound) {
				t.Errorf("workspace still bound after app_uninstalled: %v", err)
			}
			if _, err := e.st.GetSecret(e.ctx, e.tenant.ID, oauth.BotTokenSecret); !errors.Is(err, accessbot.ErrNotFound) {
				t.Errorf("bot token secret still stored after app_uninstalled: %v", err)
			}
			if got := e.helpAnswer(t); !strings.Contains(got, "isn't linked to accessbot") {
				t.Errorf("help after uninstall = %s, want a not-linked answer", got)
			}

			// A second app_uninstalled (another event id) finds nothing to do.
			// Each one forgets the client twice (before and after unbinding),
			// so 1 + 2 + 2 forgets mean the second has finished.
			e.fake.SendEvent(e.fake.EventCallback("app_uninstalled", "T1", nil))
			for deadline := time.Now().Add(5 * time.Second); e.forgets.count() < 5; time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("second app_uninstalled not handled: %d forgets", e.forgets.count())
				}
			}
			if got := e.audit(t); len(got) != 2 {
				t.Errorf("audit after a repeated app_uninstalled = %v", got)
			}
		})
	}
}

func TestLifecycleRefusesMissingDeps(t *testing.T) {
	t.Parallel()
	if _, err := handlers.NewLifecycle(nil, &forgets{}, nil); err == nil {
		t.Error("NewLifecycle accepted a nil store")
	}
	if _, err := handlers.NewLifecycle(storetest.Open(t, "sqlite"), nil, nil); err == nil {
		t.Error("NewLifecycle accepted nil clients")
	}
}
