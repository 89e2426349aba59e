package views_test

import (
	"strings"
	"testing"
	"time"

	"github.com/accessbot/accessbot/handlers/views"
)

func TestFulfilmentGolden(t *testing.T) {
	c := userCard()
	c.Status, c.Level = "approved", 2
	f := views.Fulfilment{ApprovedBy: []string{"Carol", "Dan"}, Until: at.Add(8 * time.Hour)}
	text, blocks := views.FulfilmentMessage(c, f)
	for _, want := range []string{"Please grant Maintainers in GitLab to Bob &lt;Builder&gt;", c.ID, "approved by Carol, Dan",
		"duration: 8 hours", "until 2025-03-04 18:30 UTC"} {
		if !strings.Contains(text, want) {
			t.Fatalf("text %q lacks %q", text, want)
		}
	}
	checkMsg(t, "fulfilment_user", text, blocks)

	c.Duration = 0
	if text, _ := views.FulfilmentMessage(c, views.Fulfilment{}); !strings.Contains(text, "duration: permanent") || strings.Contains(text, "until") {
		t.Fatalf("permanent access: %q", text)
	}
	assign := connCards()["assign"]
	text, blocks = views.FulfilmentMessage(assign, views.Fulfilment{ApprovedBy: []string{"Carol"}})
	if !strings.Contains(text, "Please carry out the connection assignment: assignments of Admins in Entra ID") {
		t.Fatalf("assignment text %q", text)
	}
	checkMsg(t, "fulfilment_assign", text, blocks)
}
