package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/accessbot/accessbot/bot/slackfake"
)

// TestRunServesAccessRequests checks `accessbot run` wires the request
// handlers: /access request opens the form, /access mine answers.
func TestRunServesAccessRequests(t *testing.T) {
	t.Parallel()
	fake, team, env, _ := slackEnv(t)
	m, _, stderr := testMain(env)
	_, stop := startRun(t, m)
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := fake.WaitForConnections(ctx, 2); err != nil {
		t.Fatalf("run did not connect: %v\nlog:\n%s", err, stderr)
	}
	fake.SendSlashCommand(fake.SlashCommand(team.ID, "UADA", "request"))
	if _, err := fake.WaitForCall(ctx, "views.open", func(c slackfake.Call) bool {
		return c.OK() && strings.Contains(string(c.JSON), `"callback_id":"request_form"`)
	}); err != nil {
		t.Fatalf("/access request opened no form: %v\nlog:\n%s", err, stderr)
	}
	ack, err := fake.AwaitAck(ctx, fake.SendSlashCommand(fake.SlashCommand(team.ID, "UADA", "mine")))
	if err != nil || !strings.Contains(string(ack.Payload), "You have no access requests") {
		t.Fatalf("/access mine: %s, %v\nlog:\n%s", ack.Payload, err, stderr)
	}
}
