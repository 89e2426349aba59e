package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/oauth"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/internal/secrets"
)

// apply checks approvers' channels with conversations.info when a bot token
// is configured: a private channel accessbot is not in is an error naming
// the channel, with file, line and field, and nothing is applied; without a
// token each channel is noted as not checked.
func TestApplyChecksApproversChannels(t *testing.T) {
	t.Parallel()
	fake := slackfake.New()
	t.Cleanup(fake.Close)
	team := fake.AddTeam(slackfake.Team{ID: "T1", Name: "Acme"})
	fake.AddChannel(slackfake.Channel{ID: "CSECRET1", TeamID: "T1", Name: "secret-approvers", Private: true})
	fake.AddChannel(slackfake.Channel{ID: "CSEC0001", TeamID: "T1", Name: "security-approvers", Private: true, BotMember: true})
	fake.AddChannel(slackfake.Channel{ID: "CPUBLIC1", TeamID: "T1", Name: "data-team"})

	dir := t.TempDir()
	withSlack := map[string]string{
		"ACCESSBOT_STORE_DSN":       "file:" + filepath.Join(dir, "a.db"),
		"ACCESSBOT_SLACK_APP_TOKEN": fake.AppToken(),
		"ACCESSBOT_SLACK_BOT_TOKEN": team.BotToken,
		"ACCESSBOT_SLACK_API_URL":   fake.URL(),
		"ACCESSBOT_SLACK_TENANT":    "acme",
	}
	apply := func(env map[string]string, channel string) (string, error) {
		p := filepath.Join(dir, "tenant.yaml")
		src := "tenant: {slug: acme, name: Acme}\nusers:\n  - {email: ada@acme.com, name: Ada, role: admin}\n  - {email: bob@acme.com, name: Bob}\n" +
			"approval_chains:\n  - name: default\n    levels:\n      - approvers: [\"user:bob@acme.com\"]\n        channel: " + channel + "\n"
		if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		m, stdout, _ := testMain(env)
		err := m.Run(context.Background(), []string{"apply", "-f", p, "--dry-run"})
		return stdout.String(), err
	}

	_, err := apply(withSlack, "CSECRET1")
	if err == nil || !strings.Contains(err.Error(), "tenant.yaml:9: approval_chains[0].levels[0].channel: channel CSECRET1 not found in the Slack workspace: it does not exist, or it is private and accessbot is not in it") {
		t.Fatalf("private channel without the bot: %v", err)
	}
	if out, err := apply(withSlack, "CSEC0001"); err != nil || strings.Contains(out, "# approvers' channel CSEC0001") {
		t.Fatalf("private channel with the bot: %v\n%s", err, out)
	}
	if out, err := apply(withSlack, "CPUBLIC1"); err != nil || !strings.Contains(out, "# approvers' channel CPUBLIC1 (#data-team): accessbot is not a member") {
		t.Fatalf("public channel without the bot: %v\n%s", err, out)
	}
	noSlack := map[string]string{"ACCESSBOT_STORE_DSN": withSlack["ACCESSBOT_STORE_DSN"]}
	if out, err := apply(noSlack, "CSECRET1"); err != nil || !strings.Contains(out, "# approvers' channel CSECRET1 (") || !strings.Contains(out, "not checked: no Slack bot token is configured") {
		t.Fatalf("without a token: %v\n%s", err, out)
	}
}

// apply checks routed channels (channels:) the same way: an unknown one is
// an error naming it at its line, nothing is applied; a known one applies.
func TestApplyChecksRoutedChannels(t *testing.T) {
	t.Parallel()
	fake := slackfake.New()
	t.Cleanup(fake.Close)
	team := fake.AddTeam(slackfake.Team{ID: "T1", Name: "Acme"})
	fake.AddChannel(slackfake.Channel{ID: "CDATA001", TeamID: "T1", Name: "data-team", BotMember: true})
	dir := t.TempDir()
	env := map[string]string{
		"ACCESSBOT_STORE_DSN":       "file:" + filepath.Join(dir, "a.db"),
		"ACCESSBOT_SLACK_APP_TOKEN": fake.AppToken(),
		"ACCESSBOT_SLACK_BOT_TOKEN": team.BotToken,
		"ACCESSBOT_SLACK_API_URL":   fake.URL(),
		"ACCESSBOT_SLACK_TENANT":    "acme",
	}
	apply := func(channel string) (string, error) {
		p := filepath.Join(dir, "tenant.yaml")
		src := "tenant: {slug: acme, name: Acme}\nusers:\n  - {email: ada@acme.com, name: Ada, role: admin}\n  - {email: bob@acme.com, name: Bob}\n" +
			"approval_chains:\n  - name: data\n    channels_only: true\n    levels:\n      - approvers: [\"user:bob@acme.com\"]\n" +
			"channels:\n  - channel: " + channel + "\n    chain: data\n"
		if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		m, stdout, _ := testMain(env)
		err := m.Run(context.Background(), []string{"apply", "-f", p})
		return stdout.String(), err
	}
	if _, err := apply("CNOPE001"); err == nil || !strings.Contains(err.Error(), "tenant.yaml:11: channels[0].channel: channel CNOPE001 not found in the Slack workspace") {
		t.Fatalf("unknown routed channel: %v", err)
	}
	out, err := apply("CDATA001")
	if err != nil || !strings.Contains(out, "+ request_policy acme: channels (none)→CDATA001→data") {
		t.Fatalf("known routed channel: %v\n%s", err, out)
	}
}

// Installed through OAuth (no slack.bot_token): apply checks the channels
// with the token the install stored for the tenant's workspace, so a
// private channel accessbot is not in is still an error naming it; a file
// without channels needs no token at all.
func TestApplyChecksChannelsWithTheInstalledToken(t *testing.T) {
	t.Parallel()
	fake := slackfake.New()
	t.Cleanup(fake.Close)
	team := fake.AddTeam(slackfake.Team{ID: "T1", Name: "Acme"})
	fake.AddChannel(slackfake.Channel{ID: "CSECRET1", TeamID: "T1", Name: "secret-approvers", Private: true})
	fake.AddChannel(slackfake.Channel{ID: "CSEC0001", TeamID: "T1", Name: "security-approvers", Private: true, BotMember: true})

	dir := t.TempDir()
	dsn := "file:" + filepath.Join(dir, "a.db")
	key := bytes.Repeat([]byte{7}, 32)
	env := map[string]string{
		"ACCESSBOT_STORE_DSN":         dsn,
		"ACCESSBOT_SLACK_API_URL":     fake.URL(),
		"ACCESSBOT_ENCRYPTION_KEY":    base64.StdEncoding.EncodeToString(key),
		"ACCESSBOT_ENCRYPTION_KEY_ID": "k1",
	}
	apply := func(channel string) (string, error) {
		p := filepath.Join(dir, "tenant.yaml")
		src := "tenant: {slug: acme, name: Acme}\nusers:\n  - {email: ada@acme.com, name: Ada, role: admin}\n  - {email: bob@acme.com, name: Bob}\n" +
			"approval_chains:\n  - name: default\n    levels:\n      - approvers: [\"user:bob@acme.com\"]\n"
		if channel != "" {
			src += "        channel: " + channel + "\n"
		}
		if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		m, stdout, _ := testMain(env)
		err := m.Run(context.Background(), []string{"apply", "-f", p})
		return stdout.String(), err
	}
	// Not installed yet: noted as not checked.
	if out, err := apply("CSECRET1"); err != nil || !strings.Contains(out, "not checked") {
		t.Fatalf("before the install: %v\n%s", err, out)
	}
	// The install, as bot/oauth stores it: the token sealed under the tenant.
	st := openSQLite(t, dsn)
	ctx := context.Background()
	tn, err := st.GetTenantBySlug(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	kr, err := secrets.NewKeyring(secrets.Key{ID: "k1", Key: key})
	if err != nil {
		t.Fatal(err)
	}
	keyID, ct, err := kr.Seal([]byte(team.BotToken), secrets.AAD(tn.ID, oauth.BotTokenSecret))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutSecret(ctx, &accessbot.Secret{TenantID: tn.ID, Name: oauth.BotTokenSecret, KeyID: keyID, Ciphertext: ct}); err != nil {
		t.Fatal(err)
	}
	if err := st.BindWorkspace(ctx, &accessbot.Workspace{TenantID: tn.ID, TeamID: "T1", TeamName: "Acme", BotTokenSecret: oauth.BotTokenSecret,
		InstalledAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	if _, err := apply("CSECRET1"); err == nil || !strings.Contains(err.Error(), "approval_chains[0].levels[0].channel: channel CSECRET1 not found in the Slack workspace") {
		t.Fatalf("private channel without the bot, installed workspace: %v", err)
	}
	if out, err := apply("CSEC0001"); err != nil || strings.Contains(out, "not checked") {
		t.Fatalf("private channel with the bot, installed workspace: %v\n%s", err, out)
	}
	// Without the key a file with no channel still applies.
	delete(env, "ACCESSBOT_ENCRYPTION_KEY")
	delete(env, "ACCESSBOT_ENCRYPTION_KEY_ID")
	if _, err := apply(""); err != nil {
		t.Fatalf("no channel, no key: %v", err)
	}
}
