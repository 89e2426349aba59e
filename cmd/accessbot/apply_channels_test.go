package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/accessbot/accessbot/bot/slackfake"
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
