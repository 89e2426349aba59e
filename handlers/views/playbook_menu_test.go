package views_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/blockkit"
	"github.com/accessbot/accessbot/handlers/views"
)

var menuChoices = []views.PlaybookChoice{
	{ID: "0195a1b2-0000-7000-8000-0000000000a1", Name: "gitlab-ticket"}, // integration-specific first
	{ID: "0195a1b2-0000-7000-8000-0000000000a2", Name: "page-security <on call>"},
}

// The "Run playbook" menu on each surface, as Slack receives it.
func TestPlaybookMenusGolden(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	actions := []views.ItemAction{{ID: "ack", Label: "Acknowledge"}, {ID: "resolve", Label: "Resolve", Style: slack.StylePrimary}}
	items := []accessbot.Finding{
		digestFinding("f1", accessbot.SeverityCritical, "bob@acme.test"),
		digestFinding("f2", accessbot.SeverityHigh, "carol@acme.test"),
		digestFinding("f3", accessbot.SeverityLow, "dan@acme.test"),
	}
	many := make([]views.PlaybookChoice, 7)
	for i := range many {
		many[i] = views.PlaybookChoice{ID: fmt.Sprintf("0195a1b2-0000-7000-8000-%012d", i), Name: fmt.Sprintf("playbook-%d", i)}
	}
	chunks := views.Digest(views.DigestInfo{At: time.Date(2026, 7, 1, 7, 0, 0, 0, time.UTC), Location: berlin,
		Counts: map[accessbot.Severity]int{accessbot.SeverityCritical: 1, accessbot.SeverityHigh: 1, accessbot.SeverityLow: 1},
		Items:  items, Actions: actions, TopItems: 1,
		// f2 has no playbook to offer; f3's thread menu has room for three beside Acknowledge and Resolve.
		Playbooks: map[string][]views.PlaybookChoice{"f1": menuChoices, "f3": many}})
	for _, c := range chunks {
		if err := blockkit.ValidateMessageText(c.Text, c.Blocks); err != nil {
			t.Fatal(err)
		}
	}
	golden(t, "playbook_menu_digest", chunks)
	thread := mustJSON(t, chunks[1])
	if !strings.Contains(thread, `"value":"playbook:f3:`+many[2].ID+`"`) || strings.Contains(thread, many[3].ID) || strings.Contains(thread, "f2:0195") {
		t.Errorf("thread menu: want three playbooks of f3 beside the item actions, none of f2:\n%s", thread)
	}
	crit := views.CriticalAlert(items[0], actions, menuChoices, berlin)
	checkMsg(t, "playbook_menu_critical", crit.Text, crit.Blocks)

	card := userCard()
	card.Playbooks = menuChoices
	text, blocks := views.ApprovalMessage(card, views.LevelState{Level: 1})
	checkMsg(t, "playbook_menu_approval", text, blocks)
	text, blocks = views.ApprovalMessage(card, views.LevelState{Level: 1, Closed: true, Decisions: card.Decisions})
	if !strings.Contains(mustJSON(t, blocks), views.ActionPlaybookRun) {
		t.Error("a decided approval message lost its playbook menu")
	}
	text, blocks = views.RequesterMessage(card)
	checkMsg(t, "playbook_menu_requester", text, blocks)
	card.Playbooks = nil
	if _, blocks := views.RequesterMessage(card); strings.Contains(mustJSON(t, blocks), views.ActionPlaybookRun) {
		t.Error("a menu with nothing to offer")
	}

	its := reviewItems(2)
	checkModal(t, "playbook_menu_review", views.ReviewModal(views.ReviewPage{CampaignID: "c1", Campaign: "Q1", Due: reviewDue, Items: its,
		Total: 2, Levels: 1, Playbooks: map[string][]views.PlaybookChoice{its[0].ID: menuChoices}}))
	// A full page, every item with a menu, stays inside Slack's limits.
	full := reviewItems(views.ReviewPageSize)
	offers := map[string][]views.PlaybookChoice{}
	for _, it := range full {
		offers[it.ID] = many
	}
	if err := blockkit.ValidateView(views.ReviewModal(views.ReviewPage{CampaignID: "c1", Campaign: strings.Repeat("Long ", 40), Due: reviewDue,
		Items: full, Total: 250, Levels: 2, Notice: strings.Repeat("n", 900), Playbooks: offers})); err != nil {
		t.Fatalf("full review page with menus: %v", err)
	}

	delivered := accessbot.PlaybookRun{Status: accessbot.RunDelivered, ResponseStatus: 200, Attempts: 1, Duration: 84 * time.Millisecond,
		EventID: "msg_0195a1b2-0000-7000-8000-000000000009"}
	text, blocks = views.PlaybookOutcome("gitlab-ticket", delivered)
	checkMsg(t, "playbook_outcome_delivered", text, blocks)
	failed := accessbot.PlaybookRun{Status: accessbot.RunFailed, ResponseStatus: 503, Attempts: 3, Duration: 2 * time.Second,
		EventID: "msg_0195a1b2-0000-7000-8000-000000000010", Error: "the server answered HTTP 503: <down>"}
	text, blocks = views.PlaybookOutcome("page-security", failed)
	checkMsg(t, "playbook_outcome_failed", text, blocks)
	if !strings.Contains(text, "HTTP 503") || !strings.Contains(text, "3 attempts") || !strings.Contains(text, "2s") {
		t.Errorf("failed outcome text %q lacks status, attempts or duration", text)
	}
}

func TestParsePlaybookRunValue(t *testing.T) {
	for _, tc := range []struct {
		in       string
		ok       bool
		typ      accessbot.PlaybookType
		obj, pid string
	}{
		{views.PlaybookRunValue(accessbot.PlaybookFinding, "f1", "p1"), true, accessbot.PlaybookFinding, "f1", "p1"},
		{views.PlaybookRunValue(accessbot.PlaybookReview, "i-9", "p2"), true, accessbot.PlaybookReview, "i-9", "p2"},
		{"finding:f1", false, "", "", ""},
		{"admin:f1:p1", false, "", "", ""},
		{"request::p1", false, "", "", ""},
		{"request:r1:", false, "", "", ""},
		{"request:r1:p1:extra", false, "", "", ""},
	} {
		typ, obj, pid, ok := views.ParsePlaybookRunValue(tc.in)
		if ok != tc.ok || typ != tc.typ || obj != tc.obj || pid != tc.pid {
			t.Errorf("Parse(%q) = %q %q %q %v; want %q %q %q %v", tc.in, typ, obj, pid, ok, tc.typ, tc.obj, tc.pid, tc.ok)
		}
	}
}
