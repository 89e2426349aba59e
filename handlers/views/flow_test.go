package views_test

import (
	"strings"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/blockkit"
	. "github.com/accessbot/accessbot/handlers/views"
)

func testFlow() *accessbot.ActionFlow {
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	return &accessbot.ActionFlow{ID: "flow-1", Direction: "provision", Status: accessbot.FlowFailed, Current: 1,
		Steps: []accessbot.ActionFlowStep{
			{Type: "gitlab_issue_create", Status: accessbot.FlowDone, Note: "issue #12 opened", FinishedAt: &at},
			{Type: "hr_webhook_add", Status: accessbot.FlowFailed, LastError: "webhook hr: 500 <internal>", FinishedAt: &at},
			{Type: "manual", Status: accessbot.FlowPending},
		}}
}

func TestFlowMessages(t *testing.T) {
	f := testFlow()
	text, blocks := FlowMessage(f, "GitLab / developers")
	if err := blockkit.ValidateMessageText(text, blocks); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(text, "Granting GitLab / developers: failed\n") || !strings.Contains(text, "2. hr_webhook_add failed (error: webhook hr: 500 &lt;internal&gt;)") {
		t.Fatalf("text %q", text)
	}
	golden(t, "flow_message", blocks)

	text, blocks = FlowFailedMessage(f, "GitLab / developers")
	if err := blockkit.ValidateMessageText(text, blocks); err != nil {
		t.Fatal(err)
	}
	golden(t, "flow_failed_admin", blocks)

	home := HomeFlows([]accessbot.ActionFlow{*f}, func(*accessbot.ActionFlow) string { return "GitLab / developers" })
	if err := blockkit.ValidateMessage(home); err != nil {
		t.Fatal(err)
	}
}
