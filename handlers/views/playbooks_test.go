package views_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/blockkit"
	"github.com/accessbot/accessbot/handlers/views"
)

func TestPlaybookViews(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	ticket := accessbot.Playbook{ID: "pb1", Name: "open-ticket", Description: "Opens a ticket <for> you", Type: accessbot.PlaybookRequest,
		URL: "https://hooks.example.com/accessbot", Active: true, TokenSecret: "playbook/pb1/token", Source: accessbot.SourceSlack}
	sync := accessbot.Playbook{ID: "pb2", Name: "gitlab-sync", Type: accessbot.PlaybookFinding, OnSync: true, AppID: "a1",
		URL: "https://10.20.0.7/hook", Source: accessbot.SourceFile}
	rows := []views.PlaybookRow{
		{Playbook: ticket, Runs: []accessbot.PlaybookRun{
			{Status: accessbot.RunDelivered, ResponseStatus: 200, Attempts: 1, Duration: 123 * time.Millisecond, EventType: "request.approved", CreatedAt: now.Add(-4 * time.Minute)},
			{Status: accessbot.RunFailed, ResponseStatus: 503, Attempts: 8, Duration: 2 * time.Second, EventType: "request.created", CreatedAt: now.Add(-3 * time.Hour),
				Error: "the server answered HTTP 503: down"},
		}},
		{Playbook: sync, AppName: "GitLab"},
	}
	apps := []views.Option{{Value: "a1", Text: "GitLab"}}
	for name, v := range map[string]slack.ModalViewRequest{
		"playbooks_list":       views.PlaybooksModal(rows, now),
		"playbooks_list_empty": views.PlaybooksModal(nil, now),
		"playbook_form_new":    views.PlaybookForm(nil, apps),
		"playbook_form_edit":   views.PlaybookForm(&ticket, apps),
		"playbook_saved":       views.PlaybookSaved("open-ticket", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
	} {
		t.Run(name, func(t *testing.T) {
			if err := blockkit.ValidateView(v); err != nil {
				t.Fatal(err)
			}
			golden(t, name, v)
		})
	}
	list := views.PlaybooksModal(rows, now)
	js := mustJSON(t, list)
	for _, want := range []string{`"text":"Disable"`, "Declared in the tenant file", "HTTP 503", "8 attempts", `\u0026lt;for\u0026gt;`} {
		if !strings.Contains(js, want) {
			t.Errorf("list lacks %q", want)
		}
	}
	// More playbooks than a modal holds: the first ones, and a word on the rest.
	var many []views.PlaybookRow
	for i := range 23 {
		p := ticket
		p.ID, p.Name = fmt.Sprintf("pb%02d", i), fmt.Sprintf("p%02d", i)
		many = append(many, views.PlaybookRow{Playbook: p, Runs: rows[0].Runs})
	}
	big := views.PlaybooksModal(many, now)
	if err := blockkit.ValidateView(big); err != nil {
		t.Fatal(err)
	}
	if js := mustJSON(t, big); !strings.Contains(js, "and 3 more, not shown") || !strings.Contains(js, "p19") || strings.Contains(js, "p20") {
		t.Errorf("a list of 23 does not show the first 20 and say 3 more:\n%s", js)
	}
	if strings.Contains(mustJSON(t, views.PlaybookForm(&ticket, apps)), "playbook/pb1/token") {
		t.Error("the edit form names the token's secret")
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
