package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/flows/tenantfile"
)

// The starter tenant file works as copied: apply it, run with a workspace's
// tokens and slack.tenant set to its slug, and the bot binds that workspace
// and answers its people. (examples/tenant.yaml cannot: its team id is a
// placeholder, and run refuses a bot token of another workspace.)
func TestStarterTenantFileWorksAsCopied(t *testing.T) {
	t.Parallel()
	const starter = "../../examples/starter-tenant.yaml"
	data, err := os.ReadFile(starter)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	copied := filepath.Join(dir, "tenant.yaml")
	if err := os.WriteFile(copied, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := tenantfile.ReadFile(copied)
	if err != nil {
		t.Fatal(err)
	}
	if f.Slack != nil {
		t.Fatalf("the starter has a slack: section (team %s): a copy would bind the tenant to that workspace", f.Slack.TeamID)
	}

	fake := slackfake.New(slackfake.WithPingInterval(500 * time.Millisecond))
	t.Cleanup(fake.Close)
	team := fake.AddTeam(slackfake.Team{ID: "T0YOURS01", Name: "Your workspace"})
	admin := f.Users[0]
	if _, err := fake.AddUser(slackfake.User{ID: "UALEX", TeamID: team.ID, Name: "alex", Email: admin.Email}); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"ACCESSBOT_STORE_DSN":       "file:" + filepath.Join(dir, "a.db"),
		"ACCESSBOT_HTTP_LISTEN":     "127.0.0.1:0",
		"ACCESSBOT_SLACK_APP_TOKEN": fake.AppToken(),
		"ACCESSBOT_SLACK_BOT_TOKEN": team.BotToken,
		"ACCESSBOT_SLACK_TENANT":    f.Tenant.Slug,
		"ACCESSBOT_SLACK_API_URL":   fake.URL(),
	}
	apply := func() string {
		t.Helper()
		m, stdout, stderr := testMain(env)
		if err := m.Run(context.Background(), []string{"apply", "-f", copied}); err != nil {
			t.Fatalf("apply %s: %v\n%s", copied, err, stderr)
		}
		return stdout.String()
	}
	if out := apply(); !strings.Contains(out, "change(s) applied") {
		t.Fatalf("first apply: %s", out)
	}

	m, _, stderr := testMain(env)
	_, stop := startRun(t, m)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := fake.WaitForConnections(ctx, 1); err != nil {
		t.Fatalf("run did not connect: %v\nlog:\n%s", err, stderr)
	}
	fake.SendEvent(fake.AppHomeOpened(team.ID, "UALEX"))
	if err := fake.WaitFor(ctx, func() bool {
		v, ok := fake.HomeView("UALEX")
		return ok && strings.Contains(string(v.JSON), admin.Email)
	}); err != nil {
		t.Fatalf("the starter's admin was not recognised in the App Home: %v\nlog:\n%s", err, stderr)
	}
	stop()

	st := openSQLite(t, env["ACCESSBOT_STORE_DSN"])
	ws, err := st.WorkspaceByTeam(context.Background(), team.ID)
	if err != nil {
		t.Fatalf("run did not bind the workspace: %v", err)
	}
	ten, err := st.GetTenantBySlug(context.Background(), f.Tenant.Slug)
	if err != nil || ws.TenantID != ten.ID {
		t.Fatalf("workspace bound to %s, want tenant %s (%v)", ws.TenantID, f.Tenant.Slug, err)
	}
	st.Close()

	// Applying the file again leaves the binding run made.
	if out := apply(); !strings.Contains(out, "no changes") {
		t.Fatalf("second apply: %s", out)
	}
}
