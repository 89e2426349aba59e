package views_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/accessbot/accessbot/bot/blockkit"
	"github.com/accessbot/accessbot/handlers/views"
)

// whyText is what requests.RequestExplanation.Write prints for a request.
const whyText = `request 0195a1b2-0000-7000-8000-000000000001, made 2025-03-04 10:30 UTC; its chain as it resolves now:
request: Maintainers in GitLab for Bob <bob@acme.test>, asked by Ada Lovelace <ada@acme.test>
chain: gitlab: the application's own chain
level 1: any one of 1
  manager: Carol <carol@acme.test> (manager of Bob) → asked
  asked: Carol <carol@acme.test>
level 2: 2 of 2 must approve (quorum)
  owners: Dan ` + "`the` & co" + ` <dan@acme.test> (primary owner of GitLab) is away until 2025-03-09 → asked: their delegate Erin <erin@acme.test>
  owners: nobody (secondary owner of GitLab is not set)
  fewer than the quorum can approve: fallback to the tenant admins, who make up the number (1 added)
  asked: Erin <erin@acme.test>, Ada Lovelace <ada@acme.test>
asked when it was made:
  level 1: Carol <carol@acme.test>
  level 2: Dan <dan@acme.test>, Ada Lovelace <ada@acme.test>
note: the channel a request is made in is not stored, so no channel route is applied here; made in C0DATA, a request for an application without a chain of its own goes to that channel's chain
`

func TestWhyApproversGolden(t *testing.T) {
	c := userCard()
	c.Why = true
	text, blocks := views.AuditMessage(c, []views.AuditLine{{At: at, Actor: "Ada Lovelace", Action: "request.created", Detail: "level 1"}})
	checkMsg(t, "audit_why", text, blocks)
	checkModal(t, "details_modal_admin", views.DetailsModal(c, []string{"Carol", "Dan, Erin (all must approve)"}))
	text, blocks = views.WhyMessage(c.ID, whyText)
	checkMsg(t, "why_message", text, blocks)
	checkModal(t, "why_modal", views.WhyModal(c.ID, whyText))

	// Without Why (purpose requests, previews, lists) there is no button.
	c.Why = false
	_, blocks = views.AuditMessage(c, nil)
	v := views.DetailsModal(c, nil)
	for name, x := range map[string]any{"audit": blocks, "details": v} {
		b, _ := json.Marshal(x)
		if strings.Contains(string(b), views.ActionWhyApprovers) {
			t.Errorf("%s without Why offers the button: %s", name, b)
		}
	}
}

// A long explanation is cut into whole lines, in at most 10 sections of
// preformatted text that Slack takes, saying it was cut.
func TestWhyApproversLong(t *testing.T) {
	var b strings.Builder
	for i := range 400 {
		fmt.Fprintf(&b, "  user: Person %03d <person%03d@acme.test> (named in the chain) → asked\n", i, i)
	}
	text, blocks := views.WhyMessage("r1", b.String())
	if err := blockkit.ValidateMessageText(text, blocks); err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 11 {
		t.Fatalf("%d blocks, want a heading and 10 sections", len(blocks))
	}
	raw, _ := json.Marshal(blocks)
	var secs []struct {
		Text struct {
			Text string `json:"text"`
		} `json:"text"`
	}
	rqMust(t, json.Unmarshal(raw, &secs))
	for i, s := range secs[1:] {
		x := s.Text.Text
		if !strings.HasPrefix(x, "```") || !strings.HasSuffix(x, "```") || len(x) > 3000 {
			t.Fatalf("section %d is not preformatted text under 3000 characters: %d bytes", i+1, len(x))
		}
		if i < 9 && !strings.HasSuffix(x, "→ asked```") {
			t.Fatalf("section %d cuts a line: …%q", i+1, x[len(x)-40:])
		}
	}
	if !strings.Contains(secs[1].Text.Text, "Person 000 &lt;person000@acme.test&gt;") || !strings.Contains(secs[10].Text.Text, "cut short") || strings.Contains(string(raw), "Person 399") {
		t.Fatalf("long explanation, first and last sections: %q … %q", secs[1].Text.Text[:80], secs[10].Text.Text)
	}
}

func rqMust(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
