package views_test

import (
	"strings"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/blockkit"
	"github.com/accessbot/accessbot/handlers/views"
)

func grantLines() []views.GrantLine {
	until := time.Date(2026, 12, 5, 17, 30, 0, 0, time.UTC)
	return []views.GrantLine{
		{ID: "g1", App: "GitLab", Connection: "developers", Until: &until},
		{ID: "g2", App: "AWS <prod>", Connection: "admin*", Until: &until, Ending: true},
		{ID: "g3", App: "Jira", Connection: "users"},
	}
}

func manyGrants(n int) []views.GrantLine {
	var out []views.GrantLine
	for range n {
		g := grantLines()[0]
		g.App = strings.Repeat("é<", 100)
		out = append(out, g)
	}
	return out
}

func TestGrantsGolden(t *testing.T) {
	gs := grantLines()
	text, blocks := views.ExpiryNotice(gs[0], time.Hour)
	checkMsg(t, "grant_expiry_notice", text, blocks)
	checkModal(t, "grant_extend_modal", views.ExtendModal(gs[0], []time.Duration{time.Hour, 8 * time.Hour, 24 * time.Hour}, "_GitLab allows access for at most 7 days from now._"))
	text, blocks = views.MineList([]views.RequestCard{userCard()}, gs)
	checkMsg(t, "list_mine_grants", text, blocks)
	home := views.HomeWithRequests(views.HomeInfo{Tenant: tenant, User: accessbot.User{Email: "ada@acme.test", Name: "Ada"}},
		views.HomeRequests{Grants: gs})
	if err := blockkit.ValidateHome(home); err != nil {
		t.Fatal(err)
	}
	golden(t, "home_grants", home)
}

func TestGrantWhen(t *testing.T) {
	gs := grantLines()
	for i, want := range []string{"until <!date^1796491800^{date_short_pretty} at {time}|2026-12-05 17:30 UTC>", "being removed", "permanent"} {
		if got := views.GrantWhen(gs[i]); got != want {
			t.Errorf("GrantWhen(%s) = %q, want %q", gs[i].ID, got, want)
		}
	}
}

// An extension request says so to its approvers, with the current end.
func TestExtensionApprovalGolden(t *testing.T) {
	c := userCard()
	from := time.Date(2026, 12, 5, 17, 30, 0, 0, time.UTC)
	c.ExtendsFrom = &from
	text, blocks := views.ApprovalMessage(c, views.LevelState{Level: 1})
	if !strings.Contains(text, "more time on") {
		t.Fatalf("approval text %q does not say it is an extension", text)
	}
	checkMsg(t, "approval_extension", text, blocks)
}
