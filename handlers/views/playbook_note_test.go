package views_test

import (
	"strings"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/blockkit"
	"github.com/accessbot/accessbot/handlers/views"
)

// TestPlaybookNoteInModal: the outcome of a run started from the review
// modal is a context line under the item's menu; a later note replaces
// the earlier one, a view without the menu (or without room) is left as it
// is, and the result passes the Block Kit guard.
func TestPlaybookNoteInModal(t *testing.T) {
	its := reviewItems(2)
	page := views.ReviewModal(views.ReviewPage{CampaignID: "c1", Campaign: "Q1", Due: reviewDue, Items: its, Total: 2, Levels: 1,
		Playbooks: map[string][]views.PlaybookChoice{its[0].ID: menuChoices}})
	running, ok := views.WithPlaybookNote(page, its[0].ID, views.PlaybookRunningNote("gitlab-ticket"))
	if !ok {
		t.Fatal("no note placed under the item's menu")
	}
	delivered := accessbot.PlaybookRun{Status: accessbot.RunDelivered, ResponseStatus: 200, Attempts: 1, Duration: 123 * time.Millisecond}
	done, ok := views.WithPlaybookNote(running, its[0].ID, views.PlaybookOutcomeNote("gitlab-ticket", delivered))
	if !ok {
		t.Fatal("the outcome did not replace the running note")
	}
	checkModal(t, "playbook_note_review", done)
	if n := len(done.Blocks.BlockSet); n != len(page.Blocks.BlockSet)+1 {
		t.Fatalf("%d blocks after two notes; want the page's %d plus one", n, len(page.Blocks.BlockSet))
	}
	js := mustJSON(t, done)
	if strings.Contains(js, "running…") || !strings.Contains(js, "*gitlab-ticket*: delivered, HTTP 200 in 123ms") {
		t.Fatalf("want only the outcome note:\n%s", js)
	}
	if mustJSON(t, page) == js {
		t.Fatal("the page itself was changed in place")
	}
	// The second item has no menu: nothing to place a note under.
	if _, ok := views.WithPlaybookNote(page, its[1].ID, "x"); ok {
		t.Fatal("a note placed for an item without a menu")
	}
	// A full page with every item's menu and note stays inside the limits.
	full := reviewItems(views.ReviewPageSize)
	offers := map[string][]views.PlaybookChoice{}
	for _, it := range full {
		offers[it.ID] = menuChoices
	}
	v := views.ReviewModal(views.ReviewPage{CampaignID: "c1", Campaign: "Q1", Due: reviewDue, Items: full, Total: 250, Levels: 2, Playbooks: offers})
	for _, it := range full {
		if v, ok = views.WithPlaybookNote(v, it.ID, views.PlaybookRunningNote(strings.Repeat("n", 200))); !ok {
			t.Fatalf("no room for the note of %s", it.ID)
		}
	}
	if err := blockkit.ValidateView(v); err != nil {
		t.Fatalf("full page with notes: %v", err)
	}

	for _, tc := range []struct {
		run  accessbot.PlaybookRun
		want string
	}{
		{delivered, ":white_check_mark: *a &lt;b&gt;*: delivered, HTTP 200 in 123ms"},
		{accessbot.PlaybookRun{Status: accessbot.RunFailed, ResponseStatus: 503, Attempts: 3, Duration: 2 * time.Second, Error: "the server answered HTTP 503"},
			":x: *a &lt;b&gt;*: failed, HTTP 503 in 2s after 3 attempts: the server answered HTTP 503"},
		{accessbot.PlaybookRun{Status: accessbot.RunFailed, Attempts: 1, Duration: 10 * time.Second, Error: "timed out"},
			":x: *a &lt;b&gt;*: failed in 10s: timed out"},
	} {
		if got := views.PlaybookOutcomeNote("a <b>", tc.run); got != tc.want {
			t.Errorf("note %q; want %q", got, tc.want)
		}
	}
}
