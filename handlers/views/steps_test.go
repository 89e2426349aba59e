package views_test

import (
	"strings"
	"testing"

	"github.com/accessbot/accessbot/handlers/views"
)

func TestStepMessagesGolden(t *testing.T) {
	base := views.StepPrompt{FlowID: "f-1", Index: 2, Title: "Access to carry out", Text: "Please grant *Editors* in *Grafana* to Ada &lt;Lovelace&gt;."}
	manual := base
	manual.Kind = "manual"
	text, blocks := views.StepMessage(manual)
	checkMsg(t, "step_manual_waiting", text, blocks)
	manual.Answered = &views.StepAnswer{Done: true, By: "Olga"}
	text, blocks = views.StepMessage(manual)
	if !strings.Contains(text, "Done by Olga") {
		t.Fatalf("text %q", text)
	}
	checkMsg(t, "step_manual_done", text, blocks)
	manual.Answered = &views.StepAnswer{By: "Olga", Reason: "no <licence> left"}
	text, blocks = views.StepMessage(manual)
	checkMsg(t, "step_manual_cant", text, blocks)

	appr := base
	appr.Kind, appr.Title = "approval", "Approval asked"
	text, blocks = views.StepMessage(appr)
	checkMsg(t, "step_approval_waiting", text, blocks)
	appr.Answered = &views.StepAnswer{By: "Carol", Reason: "not needed"}
	text, blocks = views.StepMessage(appr)
	if !strings.Contains(text, "Denied by Carol. Reason: not needed") {
		t.Fatalf("text %q", text)
	}
	checkMsg(t, "step_approval_denied", text, blocks)

	note := base
	note.Kind, note.Title = "notification", "Access update"
	text, blocks = views.StepMessage(note)
	checkMsg(t, "step_notification", text, blocks)

	checkModal(t, "step_reason_cant", views.StepReasonModal(false, views.StepRef("f-1", 2)))
	checkModal(t, "step_reason_deny", views.StepReasonModal(true, views.StepRef("f-1", 2)))
}

func TestStepRef(t *testing.T) {
	for _, tc := range []struct {
		v    string
		ok   bool
		flow string
		idx  int
	}{
		{"f-1:2", true, "f-1", 2}, {"f-1", false, "", 0}, {":2", false, "", 0}, {"f:-1", false, "", 0}, {"f:x", false, "", 0},
	} {
		f, i, ok := views.ParseStepRef(tc.v)
		if ok != tc.ok || f != tc.flow || i != tc.idx {
			t.Errorf("%q: %q %d %v", tc.v, f, i, ok)
		}
	}
}
