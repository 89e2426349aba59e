package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/accessbot/accessbot/bot/slackfake"
)

const (
	testClientID     = "111.222"
	testClientSecret = "shh-client-secret"
	testRedirect     = "https://accessbot.test/slack/oauth/callback"
)

// oauthEnv starts a fake Slack that knows the OAuth client, with workspace T1
// (user ada), and a sqlite file holding tenant "acme" with ada; it returns
// run's environment for OAuth install mode (no slack.bot_token).
func oauthEnv(t *testing.T) (*slackfake.Server, map[string]string, string) {
	t.Helper()
	fake := slackfake.New(slackfake.WithPingInterval(500*time.Millisecond), slackfake.WithOAuthClient(testClientID, testClientSecret))
	t.Cleanup(fake.Close)
	fake.AddTeam(slackfake.Team{ID: "T1", Name: "Acme Slack"})
	if _, err := fake.AddUser(slackfake.User{ID: "UADA", TeamID: "T1", Name: "ada", Email: "ada@acme.test"}); err != nil {
		t.Fatal(err)
	}
	dsn := acmeStore(t, "oauth.db")
	return fake, map[string]string{
		"ACCESSBOT_HTTP_LISTEN":         "127.0.0.1:0",
		"ACCESSBOT_HTTP_PUBLIC_URL":     "https://accessbot.test",
		"ACCESSBOT_STORE_DSN":           dsn,
		"ACCESSBOT_ENCRYPTION_KEY":      base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{4}, 32)),
		"ACCESSBOT_SLACK_APP_TOKEN":     fake.AppToken(),
		"ACCESSBOT_SLACK_API_URL":       fake.URL(),
		"ACCESSBOT_SLACK_CLIENT_ID":     testClientID,
		"ACCESSBOT_SLACK_CLIENT_SECRET": testClientSecret,
		"ACCESSBOT_SLACK_REDIRECT_URL":  testRedirect,
	}, dsn
}

var noFollow = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func getNoFollow(t *testing.T, u string) (int, string, string) {
	t.Helper()
	resp, err := noFollow.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

// TestInstallLinkThenOAuthInstall issues an install link with the real
// command, installs workspace T1 through `accessbot run`'s /slack/install and
// callback against the fake Slack, checks that the socket pool then serves
// T1 with the stored token, and that app_uninstalled unbinds it.
func TestInstallLinkThenOAuthInstall(t *testing.T) {
	t.Parallel()
	fake, env, dsn := oauthEnv(t)

	lm, stdout, stderr := testMain(env)
	if err := lm.Run(context.Background(), []string{"install-link", "--tenant", "acme", "--ttl", "1h"}); err != nil {
		t.Fatalf("install-link: %v\n%s", err, stderr)
	}
	link := strings.TrimSpace(stdout.String())
	if !strings.HasPrefix(link, "https://accessbot.test/slack/install?token=") || strings.Contains(link, "\n") {
		t.Fatalf("install-link printed %q", link)
	}
	if !strings.Contains(stderr.String(), "tenant acme (Acme Corp), valid until") {
		t.Errorf("install-link note: %s", stderr)
	}
	lu, _ := url.Parse(link)
	token := lu.Query().Get("token")

	m, _, logs := testMain(env)
	addr, stop := startRun(t, m)
	base := "http://" + addr
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := fake.WaitForConnections(ctx, 2); err != nil {
		t.Fatalf("run did not open 2 sockets: %v\nlog:\n%s", err, logs)
	}

	for _, u := range []string{base + "/slack/install", base + "/slack/install?tenant=acme", base + "/slack/install?token=forged.token"} {
		if code, _, body := getNoFollow(t, u); code != http.StatusForbidden || !strings.Contains(body, "install link") {
			t.Errorf("GET %s = %d, want 403 asking for an install link:\n%s", u, code, body)
		}
	}
	code, loc, body := getNoFollow(t, base+"/slack/install?token="+url.QueryEscape(token))
	if code != http.StatusFound || !strings.HasPrefix(loc, fake.BaseURL()+"/oauth/v2/authorize?") {
		t.Fatalf("GET install link = %d %s:\n%s", code, loc, body)
	}
	au, _ := url.Parse(loc)
	state := au.Query().Get("state")
	if au.Query().Get("client_id") != testClientID || au.Query().Get("redirect_uri") != testRedirect || state == "" {
		t.Fatalf("authorize query %v", au.Query())
	}
	// Play Slack: the user approves in T1 and comes back with a code.
	oc, err := fake.IssueOAuthCode("T1", "UADA", testRedirect)
	if err != nil {
		t.Fatal(err)
	}
	code, _, body = getNoFollow(t, base+"/slack/oauth/callback?"+url.Values{"code": {oc}, "state": {state}}.Encode())
	if code != http.StatusOK || !strings.Contains(body, "accessbot is installed") {
		t.Fatalf("callback = %d:\n%s\nlog:\n%s", code, body, logs)
	}

	// The same sockets now serve T1, with the token the install stored.
	ack, err := fake.AwaitAck(ctx, fake.SendSlashCommand(fake.SlashCommand("T1", "UADA", "help")))
	if err != nil || !strings.Contains(string(ack.Payload), "/access help") {
		t.Fatalf("help after install: %s, %v\nlog:\n%s", ack.Payload, err, logs)
	}
	fake.SendEvent(fake.AppHomeOpened("T1", "UADA"))
	if err := fake.WaitFor(ctx, func() bool {
		v, ok := fake.HomeView("UADA")
		return ok && strings.Contains(string(v.JSON), "Acme Corp")
	}); err != nil {
		t.Fatalf("home not published after install: %v\nlog:\n%s", err, logs)
	}

	// Uninstalling the app unlinks the workspace.
	fake.SendEvent(fake.EventCallback("app_uninstalled", "T1", nil))
	for deadline := time.Now().Add(10 * time.Second); ; {
		ack, err := fake.AwaitAck(ctx, fake.SendSlashCommand(fake.SlashCommand("T1", "UADA", "help")))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(ack.Payload), "isn't linked") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("workspace still linked after app_uninstalled; last answer %s\nlog:\n%s", ack.Payload, logs)
		}
	}
	stop()

	st := openSQLite(t, dsn)
	defer st.Close()
	tn, err := st.GetTenantBySlug(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, obj := range []string{tn.ID, "T1"} {
		entries, err := st.ListAudit(ctx, tn.ID, obj)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range entries {
			actions = append(actions, a.Action)
		}
	}
	if got := strings.Join(actions, ","); got != "slack.install_link_issued,slack.installed,slack.uninstalled" {
		t.Errorf("audit = %s", got)
	}
	team, _ := fake.Team("T1")
	for _, secret := range []string{team.BotToken, testClientSecret, token, fake.AppToken()} {
		if strings.Contains(logs.String(), secret) || strings.Contains(stderr.String(), secret) {
			t.Errorf("a secret or the link token leaked into the log")
		}
	}
}

func TestInstallLinkRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		env     func(map[string]string)
		wantErr string
	}{
		{name: "unknown tenant", args: []string{"--tenant", "nope"}, wantErr: `--tenant "nope": no such tenant`},
		{name: "ttl too long", args: []string{"--tenant", "acme", "--ttl", "800h"}, wantErr: "--ttl must be between"},
		{name: "ttl zero", args: []string{"--tenant", "acme", "--ttl", "0s"}, wantErr: "--ttl must be between"},
		{name: "no tenant", args: nil, wantErr: `"tenant" not set`},
		{name: "OAuth not configured", args: []string{"--tenant", "acme"}, env: func(e map[string]string) {
			delete(e, "ACCESSBOT_SLACK_CLIENT_ID")
			delete(e, "ACCESSBOT_SLACK_CLIENT_SECRET")
			delete(e, "ACCESSBOT_SLACK_REDIRECT_URL")
			e["ACCESSBOT_SLACK_BOT_TOKEN"] = "xoxb-1"
			e["ACCESSBOT_SLACK_TENANT"] = "acme"
		}, wantErr: "OAuth install mode is not configured"},
		{name: "no encryption key", args: []string{"--tenant", "acme"}, env: func(e map[string]string) {
			delete(e, "ACCESSBOT_ENCRYPTION_KEY")
		}, wantErr: "encryption.key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, env, _ := oauthEnv(t)
			if tt.env != nil {
				tt.env(env)
			}
			m, stdout, _ := testMain(env)
			err := m.Run(context.Background(), append([]string{"install-link"}, tt.args...))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("install-link = %v, want an error containing %q", err, tt.wantErr)
			}
			if stdout.String() != "" {
				t.Errorf("a refused install-link printed %q", stdout)
			}
		})
	}
}

// Without http.public_url the link starts at slack.redirect_url's origin.
func TestInstallLinkFallsBackToRedirectOrigin(t *testing.T) {
	t.Parallel()
	_, env, _ := oauthEnv(t)
	delete(env, "ACCESSBOT_HTTP_PUBLIC_URL")
	m, stdout, _ := testMain(env)
	if err := m.Run(context.Background(), []string{"install-link", "--tenant", "acme"}); err != nil {
		t.Fatal(err)
	}
	if got := stdout.String(); !strings.HasPrefix(got, "https://accessbot.test/slack/install?token=") {
		t.Errorf("link = %q", got)
	}
}

// TestSingleWorkspaceAndOAuthCoexist runs both modes with one app token:
// acme's workspace T1 comes from slack.bot_token, beta's T2 is installed
// through OAuth, and the one socket pool answers each with its own token.
func TestSingleWorkspaceAndOAuthCoexist(t *testing.T) {
	t.Parallel()
	fake, env, dsn := oauthEnv(t)
	t1, _ := fake.Team("T1")
	t2 := fake.AddTeam(slackfake.Team{ID: "T2", Name: "Beta Slack"})
	if _, err := fake.AddUser(slackfake.User{ID: "UBOB", TeamID: "T2", Name: "bob", Email: "bob@beta.test"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st := openSQLite(t, dsn)
	addTenant(t, st, "beta", "Beta GmbH", "bob@beta.test", "Bob")
	st.Close()
	env["ACCESSBOT_SLACK_BOT_TOKEN"] = t1.BotToken
	env["ACCESSBOT_SLACK_TENANT"] = "acme"

	lm, stdout, _ := testMain(env)
	if err := lm.Run(ctx, []string{"install-link", "--tenant", "beta"}); err != nil {
		t.Fatal(err)
	}
	lu, _ := url.Parse(strings.TrimSpace(stdout.String()))

	m, _, logs := testMain(env)
	addr, _ := startRun(t, m)
	if err := fake.WaitForConnections(ctx, 2); err != nil {
		t.Fatalf("sockets: %v\nlog:\n%s", err, logs)
	}
	code, loc, body := getNoFollow(t, "http://"+addr+"/slack/install?"+lu.RawQuery)
	if code != http.StatusFound {
		t.Fatalf("install link = %d:\n%s", code, body)
	}
	au, _ := url.Parse(loc)
	oc, err := fake.IssueOAuthCode("T2", "UBOB", testRedirect)
	if err != nil {
		t.Fatal(err)
	}
	if code, _, body := getNoFollow(t, "http://"+addr+"/slack/oauth/callback?"+
		url.Values{"code": {oc}, "state": {au.Query().Get("state")}}.Encode()); code != http.StatusOK {
		t.Fatalf("callback = %d:\n%s", code, body)
	}

	for _, c := range []struct{ team, user, tenant, token string }{
		{"T1", "UADA", "Acme Corp", t1.BotToken},
		{"T2", "UBOB", "Beta GmbH", t2.BotToken},
	} {
		fake.SendEvent(fake.AppHomeOpened(c.team, c.user))
		if err := fake.WaitFor(ctx, func() bool {
			v, ok := fake.HomeView(c.user)
			return ok && strings.Contains(string(v.JSON), c.tenant)
		}); err != nil {
			t.Fatalf("%s: home not published: %v\nlog:\n%s", c.team, err, logs)
		}
		// Each workspace's calls carry its own bot token.
		call, err := fake.WaitForCall(ctx, "views.publish", func(call slackfake.Call) bool { return call.Param("user_id") == c.user })
		if err != nil || call.Token != c.token {
			t.Errorf("%s: views.publish with token %q, want the workspace's own (%v)", c.team, call.Token, err)
		}
	}
}
