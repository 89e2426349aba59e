package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/slackfake"
)

// slackEnv starts a fake Slack with workspace T1 (users ada and eve) and a
// sqlite file holding tenant "acme" with ada; it returns run's environment.
func slackEnv(t *testing.T) (*slackfake.Server, slackfake.Team, map[string]string, string) {
	t.Helper()
	fake := slackfake.New(slackfake.WithPingInterval(500 * time.Millisecond))
	t.Cleanup(fake.Close)
	team := fake.AddTeam(slackfake.Team{ID: "T1", Name: "Acme"})
	for _, u := range []slackfake.User{
		{ID: "UADA", TeamID: "T1", Name: "ada", Email: "ada@acme.test"},
		{ID: "UEVE", TeamID: "T1", Name: "eve", Email: "eve@acme.test"},
	} {
		if _, err := fake.AddUser(u); err != nil {
			t.Fatal(err)
		}
	}
	dsn := acmeStore(t, "slack.db")
	return fake, team, map[string]string{
		"ACCESSBOT_HTTP_LISTEN":     "127.0.0.1:0",
		"ACCESSBOT_STORE_DSN":       dsn,
		"ACCESSBOT_SLACK_APP_TOKEN": fake.AppToken(),
		"ACCESSBOT_SLACK_BOT_TOKEN": team.BotToken,
		"ACCESSBOT_SLACK_TENANT":    "acme",
		"ACCESSBOT_SLACK_API_URL":   fake.URL(),
	}, dsn
}

// TestRunAgainstFakeSlack runs the real `accessbot run` with slack.api_url
// pointing at the fake: it binds the workspace, connects two sockets,
// answers /access help and publishes the App Home.
func TestRunAgainstFakeSlack(t *testing.T) {
	t.Parallel()
	fake, team, env, dsn := slackEnv(t)
	m, _, stderr := testMain(env)
	addr, stop := startRun(t, m)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	if err := fake.WaitForConnections(ctx, 2); err != nil {
		t.Fatalf("run did not open 2 sockets: %v\nlog:\n%s", err, stderr)
	}
	envID := fake.SendSlashCommand(fake.SlashCommand(team.ID, "UADA", "help"))
	ack, err := fake.AwaitAck(ctx, envID)
	if err != nil || !strings.Contains(string(ack.Payload), "/access help") {
		t.Fatalf("ack %s, %v\nlog:\n%s", ack.Payload, err, stderr)
	}
	fake.SendEvent(fake.AppHomeOpened(team.ID, "UADA"))
	if err := fake.WaitFor(ctx, func() bool {
		v, ok := fake.HomeView("UADA")
		return ok && strings.Contains(string(v.JSON), "Acme Corp")
	}); err != nil {
		t.Fatalf("home not published: %v\nlog:\n%s", err, stderr)
	}
	if code, body := httpGet(t, "http://"+addr+"/readyz"); code != 200 || !strings.Contains(body, `"slack":"ok"`) {
		t.Fatalf("GET /readyz = %d %s", code, body)
	}
	if code, body := httpGet(t, "http://"+addr+"/metrics"); code != 200 ||
		!strings.Contains(body, "accessbot_slack_work_queued ") || !strings.Contains(body, "accessbot_slack_work_dropped_total 0") ||
		!strings.Contains(body, "accessbot_slack_workers_admitted ") {
		t.Fatalf("GET /metrics = %d, want the Slack work queue metrics:\n%s", code, body)
	}
	stop()

	st := openSQLite(t, dsn)
	defer st.Close()
	ws, err := st.WorkspaceByTeam(context.Background(), "T1")
	if err != nil || ws.TeamName != "Acme" {
		t.Fatalf("workspace binding %+v, %v", ws, err)
	}
	if !strings.Contains(stderr.String(), `"message":"slack workspace bound"`) {
		t.Errorf("log lacks the binding line:\n%s", stderr)
	}
	if strings.Contains(stderr.String(), team.BotToken) || strings.Contains(stderr.String(), fake.AppToken()) {
		t.Errorf("a token leaked into the log")
	}
}

func TestRunSlackRefusals(t *testing.T) {
	t.Parallel()
	t.Run("workspace bound to another tenant", func(t *testing.T) {
		_, _, env, dsn := slackEnv(t)
		ctx := context.Background()
		st := openSQLite(t, dsn)
		other := &accessbot.Tenant{Slug: "other", Name: "Other"}
		if err := st.CreateTenant(ctx, other); err != nil {
			t.Fatal(err)
		}
		if err := st.BindWorkspace(ctx, &accessbot.Workspace{TenantID: other.ID, TeamID: "T1"}); err != nil {
			t.Fatal(err)
		}
		st.Close()
		m, _, _ := testMain(env)
		err := m.Run(ctx, []string{"run"})
		if err == nil || !strings.Contains(err.Error(), "already bound to another tenant") {
			t.Fatalf("run = %v, want a refused binding", err)
		}
	})
	t.Run("unknown tenant", func(t *testing.T) {
		_, _, env, _ := slackEnv(t)
		env["ACCESSBOT_SLACK_TENANT"] = "nope"
		m, _, _ := testMain(env)
		err := m.Run(context.Background(), []string{"run"})
		if err == nil || !strings.Contains(err.Error(), `slack.tenant "nope": no such tenant`) {
			t.Fatalf("run = %v", err)
		}
	})
	t.Run("app token rejected", func(t *testing.T) {
		_, _, env, _ := slackEnv(t)
		env["ACCESSBOT_SLACK_APP_TOKEN"] = "xapp-1-revoked"
		m, _, _ := testMain(env)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		err := m.Run(ctx, []string{"run"})
		if err == nil || !strings.Contains(err.Error(), "invalid_auth") || !strings.Contains(err.Error(), "slack.app_token") {
			t.Fatalf("run = %v, want the rejected app token named", err)
		}
	})
}

// TestRunExitsWhenAppTokenRevoked: an app token revoked while run is up
// makes the next reconnect fail with token_revoked, and run exits naming
// it and the setting to fix, instead of retrying for ever.
func TestRunExitsWhenAppTokenRevoked(t *testing.T) {
	t.Parallel()
	fake, _, env, _ := slackEnv(t)
	m, _, stderr := testMain(env)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx, []string{"run"}) }()
	if err := fake.WaitForConnections(ctx, 2); err != nil {
		t.Fatalf("run did not connect: %v\nlog:\n%s", err, stderr)
	}
	fake.RevokeToken(fake.AppToken())
	fake.DisconnectAll("refresh_requested")
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "token_revoked") || !strings.Contains(err.Error(), "slack.app_token") {
			t.Fatalf("run = %v, want an error naming token_revoked and slack.app_token", err)
		}
		if strings.Contains(err.Error(), fake.AppToken()) || strings.Contains(stderr.String(), fake.AppToken()) {
			t.Fatal("the revoked token leaked into the error or log")
		}
	case <-ctx.Done():
		t.Fatalf("run kept going after the app token was revoked\nlog:\n%s", stderr)
	}
}

// A revoked bot token (slack.bot_token) stops run at start with a clear error.
func TestRunRefusesRevokedBotToken(t *testing.T) {
	t.Parallel()
	fake, team, env, _ := slackEnv(t)
	fake.RevokeToken(team.BotToken)
	m, _, stderr := testMain(env)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := m.Run(ctx, []string{"run"})
	if err == nil || !strings.Contains(err.Error(), "token_revoked") || !strings.Contains(err.Error(), "slack.bot_token") {
		t.Fatalf("run = %v, want an error naming token_revoked and slack.bot_token", err)
	}
	if strings.Contains(err.Error(), team.BotToken) || strings.Contains(stderr.String(), team.BotToken) {
		t.Fatal("the revoked token leaked into the error or log")
	}
}
