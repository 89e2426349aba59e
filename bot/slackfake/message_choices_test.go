package slackfake_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot/bot/slackfake"
)

// TestChoicesOnMessages: overflow, radio buttons and checkboxes on a posted
// message give block_actions in Slack's shapes, which slack-go decodes the
// way a handler reads them; what the message does not offer is refused.
func TestChoicesOnMessages(t *testing.T) {
	f := newFixture(t)
	opt := func(v string) *slack.OptionBlockObject {
		return slack.NewOptionBlockObject(v, slack.NewTextBlockObject("plain_text", "Text "+v, false, false), nil)
	}
	section := slack.NewSectionBlock(slack.NewTextBlockObject("mrkdwn", "item", false, false), nil,
		slack.NewAccessory(slack.NewOverflowBlockElement("item_menu", opt("ack:F1"), opt("resolve:F1"))), slack.SectionBlockOptionBlockID("item:F1"))
	actions := slack.NewActionBlock("choices", slack.NewRadioButtonsBlockElement("pick", opt("a"), opt("b")),
		slack.NewCheckboxGroupsBlockElement("flags", opt("x"), opt("y"), opt("z")))
	_, ts, err := f.api.PostMessage("C1", slack.MsgOptionText("digest", false), slack.MsgOptionBlocks(section, actions))
	if err != nil {
		t.Fatal(err)
	}
	decode := func(p slackfake.InteractionPayload) slack.BlockAction {
		t.Helper()
		js, _ := json.Marshal(p)
		var cb slack.InteractionCallback
		if err := json.Unmarshal(js, &cb); err != nil {
			t.Fatal(err)
		}
		if cb.Type != slack.InteractionTypeBlockActions || cb.Container.MessageTs != ts || len(cb.Message.Blocks.BlockSet) != 2 || len(cb.ActionCallback.BlockActions) != 1 {
			t.Fatalf("payload %s", js)
		}
		return *cb.ActionCallback.BlockActions[0]
	}

	p, err := f.fake.ClickOverflow("T1", "U1", "C1", ts, "item:F1", "item_menu", "resolve:F1")
	if err != nil {
		t.Fatal(err)
	}
	if a := decode(p); a.Type != "overflow" || a.BlockID != "item:F1" || a.ActionID != "item_menu" ||
		a.SelectedOption.Value != "resolve:F1" || a.SelectedOption.Text.Text != "Text resolve:F1" || a.Value != "" || a.ActionTs == "" {
		t.Fatalf("overflow action %+v", a)
	}
	if raw := p.Actions[0]; raw["value"] != nil {
		t.Fatalf("overflow action carries value: %v", raw)
	}
	// The builder gives the same shape.
	if a := decode(f.fake.MessageAction("T1", "U1", "C1", ts, slackfake.OverflowAction("item:F1", "item_menu", "ack:F1", "Ack"))); a.SelectedOption.Value != "ack:F1" || a.Type != "overflow" {
		t.Fatalf("OverflowAction %+v", a)
	}
	if a := decode(f.fake.BlockActionOnMessage("T1", "U1", "C1", ts, slackfake.Action{Type: "overflow", BlockID: "item:F1", ActionID: "item_menu", Value: "ack:F1"})); a.SelectedOption.Value != "ack:F1" || a.Value != "" {
		t.Fatalf("Action overflow %+v", a)
	}

	radio, err := f.fake.ChooseOnMessage("C1", ts, "choices", "pick", "b")
	if err != nil {
		t.Fatal(err)
	}
	if a := decode(f.fake.MessageAction("T1", "U1", "C1", ts, radio)); a.Type != "radio_buttons" || a.SelectedOption.Value != "b" || a.SelectedOption.Text.Text != "Text b" {
		t.Fatalf("radio action %+v", a)
	}
	boxes, err := f.fake.ChooseOnMessage("C1", ts, "choices", "flags", "x", "z")
	if err != nil {
		t.Fatal(err)
	}
	if a := decode(f.fake.MessageAction("T1", "U1", "C1", ts, boxes)); a.Type != "checkboxes" || len(a.SelectedOptions) != 2 || a.SelectedOptions[1].Value != "z" {
		t.Fatalf("checkboxes action %+v", a)
	}
	if a := decode(f.fake.MessageAction("T1", "U1", "C1", ts, slackfake.CheckboxesAction("choices", "flags"))); a.Type != "checkboxes" || len(a.SelectedOptions) != 0 {
		t.Fatalf("no boxes checked %+v", a)
	}
	if a := decode(f.fake.MessageAction("T1", "U1", "C1", ts, slackfake.RadioButtonsAction("choices", "pick", "a", "A"))); a.SelectedOption.Value != "a" {
		t.Fatalf("RadioButtonsAction %+v", a)
	}

	// What a person could not do is refused.
	if _, err := f.fake.ClickOverflow("T1", "U1", "C1", ts, "item:F1", "item_menu", "delete:F1"); !errors.Is(err, slackfake.ErrNotOffered) {
		t.Fatalf("option not in the menu: %v", err)
	}
	for name, call := range map[string]func() error{
		"two overflow options": func() error {
			_, err := f.fake.ChooseOnMessage("C1", ts, "item:F1", "item_menu", "ack:F1", "resolve:F1")
			return err
		},
		"no radio option": func() error { _, err := f.fake.ChooseOnMessage("C1", ts, "choices", "pick"); return err },
		"no such element": func() error { _, err := f.fake.ChooseOnMessage("C1", ts, "choices", "other", "a"); return err },
		"no such message": func() error {
			_, err := f.fake.ChooseOnMessage("C1", "1.000", "item:F1", "item_menu", "ack:F1")
			return err
		},
		"radio is no overflow": func() error { _, err := f.fake.ClickOverflow("T1", "U1", "C1", ts, "choices", "pick", "a"); return err },
	} {
		if err := call(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
