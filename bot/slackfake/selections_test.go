package slackfake_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot/bot/slackfake"
)

func TestChooseShapesEachElementAsSlackDoes(t *testing.T) {
	f := newFixture(t)
	opts := func(vals ...string) []*slack.OptionBlockObject {
		var out []*slack.OptionBlockObject
		for _, v := range vals {
			out = append(out, slack.NewOptionBlockObject(v, slack.NewTextBlockObject("plain_text", "Text "+v, false, false), nil))
		}
		return out
	}
	label := slack.NewTextBlockObject("plain_text", "L", false, false)
	v, err := f.api.OpenView(f.fake.NewTriggerID("T1", "U1"), slack.ModalViewRequest{
		Type: slack.VTModal, CallbackID: "form", Title: label, Submit: label,
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			slack.NewInputBlock("kind", label, nil, slack.NewRadioButtonsBlockElement("kind_radio", opts("create", "delete")...)),
			slack.NewInputBlock("flags", label, nil, slack.NewCheckboxGroupsBlockElement("flags_check", opts("a", "b", "c")...)),
			slack.NewInputBlock("grants", label, nil, slack.NewOptionsMultiSelectBlockElement(slack.MultiOptTypeStatic, label, "grants_select", opts("g1", "g2")...)),
			slack.NewInputBlock("type", label, nil, slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, label, "type_select", opts("group")...)),
			slack.NewInputBlock("app", label, nil, slack.NewOptionsSelectBlockElement(slack.OptTypeExternal, label, "app_select")),
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	must := func(sv slackfake.StateValue, err error) slackfake.StateValue {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return sv
	}
	values := map[string]map[string]slackfake.StateValue{
		"kind":   {"kind_radio": must(f.fake.Choose(v.ID, "kind", "kind_radio", "delete"))},
		"flags":  {"flags_check": must(f.fake.Choose(v.ID, "flags", "flags_check", "a", "c"))},
		"grants": {"grants_select": must(f.fake.Choose(v.ID, "grants", "grants_select"))},
		"type":   {"type_select": must(f.fake.Choose(v.ID, "type", "type_select", "group"))},
		"app":    {"app_select": must(f.fake.Choose(v.ID, "app", "app_select", "A123"))},
	}
	raw, _ := json.Marshal(values)
	want := `{"app":{"app_select":{"selected_option":{"text":{"emoji":true,"text":"A123","type":"plain_text"},"value":"A123"},"type":"external_select"}},` +
		`"flags":{"flags_check":{"selected_options":[{"text":{"emoji":true,"text":"Text a","type":"plain_text"},"value":"a"},{"text":{"emoji":true,"text":"Text c","type":"plain_text"},"value":"c"}],"type":"checkboxes"}},` +
		`"grants":{"grants_select":{"selected_options":[],"type":"multi_static_select"}},` +
		`"kind":{"kind_radio":{"selected_option":{"text":{"emoji":true,"text":"Text delete","type":"plain_text"},"value":"delete"},"type":"radio_buttons"}},` +
		`"type":{"type_select":{"selected_option":{"text":{"emoji":true,"text":"Text group","type":"plain_text"},"value":"group"},"type":"static_select"}}}`
	if string(raw) != want {
		t.Fatalf("state values\n got %s\nwant %s", raw, want)
	}

	// slack-go reads them back as a handler would.
	js, _ := json.Marshal(f.fake.ViewSubmission("T1", "U1", v.ID, values))
	var cb slack.InteractionCallback
	if err := json.Unmarshal(js, &cb); err != nil {
		t.Fatal(err)
	}
	st := cb.View.State.Values
	if st["kind"]["kind_radio"].SelectedOption.Value != "delete" || len(st["flags"]["flags_check"].SelectedOptions) != 2 ||
		st["type"]["type_select"].SelectedOption.Value != "group" ||
		st["app"]["app_select"].SelectedOption.Value != "A123" {
		t.Fatalf("decoded state %+v", st)
	}

	// A radio choice dispatched as a block action has the same selection.
	js, _ = json.Marshal(f.fake.ViewAction("T1", "U1", v.ID, values, values["kind"]["kind_radio"].AsAction("kind", "kind_radio")))
	cb = slack.InteractionCallback{}
	if err := json.Unmarshal(js, &cb); err != nil {
		t.Fatal(err)
	}
	if acts := cb.ActionCallback.BlockActions; len(acts) != 1 || acts[0].Type != "radio_buttons" || acts[0].SelectedOption.Value != "delete" || acts[0].Value != "" {
		t.Fatalf("radio action %+v", cb.ActionCallback.BlockActions)
	}
	// So does Action with Type radio_buttons.
	js, _ = json.Marshal(f.fake.BlockActionInView("T1", "U1", v.ID, slackfake.Action{ActionID: "kind_radio", BlockID: "kind", Type: "radio_buttons", Value: "create"}))
	cb = slack.InteractionCallback{}
	if err := json.Unmarshal(js, &cb); err != nil {
		t.Fatal(err)
	}
	if acts := cb.ActionCallback.BlockActions; len(acts) != 1 || acts[0].SelectedOption.Value != "create" || acts[0].Value != "" {
		t.Fatalf("radio Action %+v", acts)
	}

	// What a person could not pick is refused.
	for _, c := range []struct{ block, action, value string }{
		{"kind", "kind_radio", "rename"}, {"flags", "flags_check", "z"}, {"type", "type_select", "role"},
	} {
		if _, err := f.fake.Choose(v.ID, c.block, c.action, c.value); !errors.Is(err, slackfake.ErrNotOffered) {
			t.Fatalf("choose %s in %s: %v, want ErrNotOffered", c.value, c.block, err)
		}
	}
	if _, err := f.fake.Choose(v.ID, "kind", "kind_radio", "create", "delete"); err == nil {
		t.Fatal("two radio values accepted")
	}
	if _, err := f.fake.Choose(v.ID, "nope", "kind_radio", "create"); err == nil {
		t.Fatal("unknown block accepted")
	}
	if sv := slackfake.RadioButtonsValue("", ""); sv["selected_option"] != nil || sv["type"] != "radio_buttons" {
		t.Fatalf("empty radio %v", sv)
	}
}
