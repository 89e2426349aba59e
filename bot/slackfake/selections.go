package slackfake

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

// Selections in Slack's exact shapes. Each element type reports its choice
// differently, in view.state.values and in block_actions alike:
//
//	static_select, external_select, radio_buttons: "selected_option": {…} (null when none)
//	multi_static_select, multi_external_select, checkboxes: "selected_options": […]
//
// Choose reads the offered options from a view the fake holds, so a test
// can only pick what a person could.

// ErrNotOffered is returned by Choose for a value the element does not offer.
var ErrNotOffered = errors.New("slackfake: value not offered by the element")

// Choice is one option picked: its value and the text it was shown with.
type Choice struct {
	Value string
	Text  string
}

func (c Choice) option() map[string]any {
	return map[string]any{"text": map[string]any{"type": "plain_text", "text": c.Text, "emoji": true}, "value": c.Value}
}

func single(typ string, c *Choice) StateValue {
	if c == nil {
		return StateValue{"type": typ, "selected_option": nil}
	}
	return StateValue{"type": typ, "selected_option": c.option()}
}

func multi(typ string, cs []Choice) StateValue {
	opts := make([]map[string]any, 0, len(cs))
	for _, c := range cs {
		opts = append(opts, c.option())
	}
	return StateValue{"type": typ, "selected_options": opts}
}

// RadioButtonsValue is a radio_buttons state value; an empty value is "nothing chosen".
func RadioButtonsValue(value, text string) StateValue {
	if value == "" {
		return single("radio_buttons", nil)
	}
	return single("radio_buttons", &Choice{Value: value, Text: text})
}

// ExternalSelectValue is an external_select state value.
func ExternalSelectValue(value, text string) StateValue {
	if value == "" {
		return single("external_select", nil)
	}
	return single("external_select", &Choice{Value: value, Text: text})
}

// CheckboxesValue is a checkboxes state value (none checked: no choices).
func CheckboxesValue(choices ...Choice) StateValue { return multi("checkboxes", choices) }

// MultiStaticSelectValue is a multi_static_select state value.
func MultiStaticSelectValue(choices ...Choice) StateValue {
	return multi("multi_static_select", choices)
}

// AsAction turns a state value into the block_actions action object Slack
// sends when the element dispatches (same selection fields, plus ids).
func (v StateValue) AsAction(blockID, actionID string) RawAction {
	a := RawAction{"block_id": blockID, "action_id": actionID}
	for k, x := range v {
		a[k] = x
	}
	return a
}

// viewElement finds the element (blockID, actionID) in a view object.
func viewElement(view json.RawMessage, blockID, actionID string) (map[string]any, error) {
	var v struct {
		Blocks []map[string]any `json:"blocks"`
	}
	if err := json.Unmarshal(view, &v); err != nil {
		return nil, fmt.Errorf("read view: %w", err)
	}
	for _, b := range v.Blocks {
		if id, _ := b["block_id"].(string); id != blockID {
			continue
		}
		var els []any
		if e, ok := b["element"]; ok {
			els = append(els, e)
		}
		if e, ok := b["accessory"]; ok {
			els = append(els, e)
		}
		if es, ok := b["elements"].([]any); ok {
			els = append(els, es...)
		}
		for _, e := range els {
			if m, ok := e.(map[string]any); ok && m["action_id"] == actionID {
				return m, nil
			}
		}
	}
	return nil, fmt.Errorf("view has no element %s/%s", blockID, actionID)
}

// offered lists an element's options (flattening option_groups) by value.
func offered(el map[string]any) map[string]string {
	out := map[string]string{}
	add := func(list any) {
		opts, _ := list.([]any)
		for _, o := range opts {
			m, _ := o.(map[string]any)
			val, _ := m["value"].(string)
			text := ""
			if t, ok := m["text"].(map[string]any); ok {
				text, _ = t["text"].(string)
			}
			out[val] = text
		}
	}
	add(el["options"])
	if gs, ok := el["option_groups"].([]any); ok {
		for _, g := range gs {
			if m, ok := g.(map[string]any); ok {
				add(m["options"])
			}
		}
	}
	return out
}

// Choose returns the state value a person produces by choosing values in
// the element (blockID, actionID) of the view viewID, shaped for the
// element's type. Static elements accept only values they offer; external
// selects accept any value (their options came from a block_suggestion).
// No values means nothing chosen.
func (s *Server) Choose(viewID, blockID, actionID string, values ...string) (StateValue, error) {
	v, ok := s.ViewByID(viewID)
	if !ok {
		return nil, fmt.Errorf("choose in view %s: %w", viewID, ErrViewNotOpen)
	}
	el, err := viewElement(v.JSON, blockID, actionID)
	if err != nil {
		return nil, fmt.Errorf("choose in view %s: %w", viewID, err)
	}
	typ, _ := el["type"].(string)
	opts := offered(el)
	var picked []Choice
	for _, val := range values {
		text, ok := opts[val]
		switch {
		case ok:
		case typ == "external_select" || typ == "multi_external_select":
			text = val
		default:
			return nil, fmt.Errorf("choose %q in %s/%s (%s): %w", val, blockID, actionID, typ, ErrNotOffered)
		}
		picked = append(picked, Choice{Value: val, Text: text})
	}
	switch typ {
	case "static_select", "external_select", "radio_buttons":
		if len(picked) > 1 {
			return nil, fmt.Errorf("choose in %s/%s: a %s takes one value, got %d", blockID, actionID, typ, len(picked))
		}
		if len(picked) == 0 {
			return single(typ, nil), nil
		}
		return single(typ, &picked[0]), nil
	case "multi_static_select", "multi_external_select", "checkboxes":
		return multi(typ, picked), nil
	}
	if slices.Contains([]string{"plain_text_input", "button", "datepicker", "users_select"}, typ) {
		return nil, fmt.Errorf("choose in %s/%s: a %s has no options", blockID, actionID, typ)
	}
	return nil, fmt.Errorf("choose in %s/%s: element type %q unknown to the fake", blockID, actionID, typ)
}
