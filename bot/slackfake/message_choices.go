package slackfake

import (
	"encoding/json"
	"fmt"
)

// Choices on messages: overflow menus, radio buttons, checkboxes and
// selects among a message's blocks (a section's accessory or an actions
// block). A click sends a block_actions payload whose action object has the
// element's selection, in Slack's shapes:
//
//	overflow, static_select, radio_buttons: "selected_option": {text, value}
//	checkboxes, multi_static_select: "selected_options": [{text, value}, …]
//
// An overflow menu has no state: each click picks exactly one option and
// the action carries it (never "value"). Checkboxes send every box checked
// after the click.

// OverflowAction is the action object of a click on the option (value,
// text) of the overflow menu (blockID, actionID).
func OverflowAction(blockID, actionID, value, text string) RawAction {
	return RawAction{"type": "overflow", "block_id": blockID, "action_id": actionID, "selected_option": Choice{Value: value, Text: text}.option()}
}

// RadioButtonsAction is the action object of choosing (value, text) in the
// radio buttons (blockID, actionID) of a message.
func RadioButtonsAction(blockID, actionID, value, text string) RawAction {
	return RawAction{"type": "radio_buttons", "block_id": blockID, "action_id": actionID, "selected_option": Choice{Value: value, Text: text}.option()}
}

// CheckboxesAction is the action object of the checkboxes (blockID,
// actionID) of a message after a click, with checked the boxes now checked.
func CheckboxesAction(blockID, actionID string, checked ...Choice) RawAction {
	return multi("checkboxes", checked).AsAction(blockID, actionID)
}

// ChooseOnMessage returns the action object a person produces by choosing
// values in the element (blockID, actionID) of the message (channel, ts)
// the fake holds, with the texts the message shows. Only offered values
// are accepted (ErrNotOffered); an overflow, a radio group or a single
// select takes exactly one value, checkboxes and multi selects any number.
func (s *Server) ChooseOnMessage(channel, ts, blockID, actionID string, values ...string) (RawAction, error) {
	m, ok := s.Message(channel, ts)
	if !ok || m.Deleted {
		return nil, fmt.Errorf("choose on message %s/%s: no such message", channel, ts)
	}
	wrapped, err := json.Marshal(map[string]json.RawMessage{"blocks": m.Blocks})
	if err != nil {
		return nil, fmt.Errorf("choose on message %s/%s: %w", channel, ts, err)
	}
	el, err := viewElement(wrapped, blockID, actionID)
	if err != nil {
		return nil, fmt.Errorf("choose on message %s/%s: %w", channel, ts, err)
	}
	typ, _ := el["type"].(string)
	opts := offered(el)
	picked := make([]Choice, 0, len(values))
	for _, v := range values {
		text, ok := opts[v]
		if !ok {
			return nil, fmt.Errorf("choose %q in %s/%s (%s) on message %s: %w", v, blockID, actionID, typ, ts, ErrNotOffered)
		}
		picked = append(picked, Choice{Value: v, Text: text})
	}
	switch typ {
	case "overflow", "radio_buttons", "static_select":
		if len(picked) != 1 {
			return nil, fmt.Errorf("choose in %s/%s on message %s: a %s click picks one value, got %d", blockID, actionID, ts, typ, len(picked))
		}
		return RawAction{"type": typ, "block_id": blockID, "action_id": actionID, "selected_option": picked[0].option()}, nil
	case "checkboxes", "multi_static_select":
		return multi(typ, picked).AsAction(blockID, actionID), nil
	}
	return nil, fmt.Errorf("choose in %s/%s on message %s: a %q has no options to choose", blockID, actionID, ts, typ)
}

// ClickOverflow builds the block_actions payload of user picking the option
// value of the overflow menu (blockID, actionID) on the message (channel,
// ts): like BlockActionOnMessage, with the message as it is now.
func (s *Server) ClickOverflow(team, user, channel, ts, blockID, actionID, value string) (InteractionPayload, error) {
	a, err := s.ChooseOnMessage(channel, ts, blockID, actionID, value)
	if err != nil {
		return InteractionPayload{}, err
	}
	if a["type"] != "overflow" {
		return InteractionPayload{}, fmt.Errorf("click overflow %s/%s on message %s: the element is a %v", blockID, actionID, ts, a["type"])
	}
	return s.MessageAction(team, user, channel, ts, a), nil
}
