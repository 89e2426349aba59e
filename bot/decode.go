package bot

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// Decoders of frames and payload heads: each tries one pass with wire (see
// wire.go) and, when that gives up, decodes with encoding/json as before.

var (
	requestNames = jsonNames(reflect.TypeFor[socketmode.Request]())
	eventsNames  = jsonNames(reflect.TypeFor[eventsPayload]())
	innerNames   = jsonNames(reflect.TypeFor[innerEvent]())
	commandNames = jsonNames(reflect.TypeFor[slack.SlashCommand]())
	headNames    = jsonNames(reflect.TypeFor[interactionHead]())
	idNames      = []string{"id"}
	teamIDNames  = []string{"team_id"}
	urlNames     = []string{"response_url"}
)

// decodeFrame is json.Unmarshal of a Socket Mode frame into a
// socketmode.Request, for frames that carry an envelope; ok is false for
// anything else (hello and disconnect too).
func decodeFrame(frame []byte) (*socketmode.Request, bool) { return decodeFrameOf(frame, false) }

// decodeFrameOf is decodeFrame; with owned (the frame is the caller's to
// give: a socket read allocates each), the payload is a slice of frame
// rather than a copy.
func decodeFrameOf(frame []byte, owned bool) (*socketmode.Request, bool) {
	w := newWire(frame)
	defer w.free()
	env := new(socketmode.Request)
	if !w.open() {
		return nil, false
	}
	for w.next() {
		switch w.field(requestNames) {
		case "type":
			w.str(&env.Type)
		case "envelope_id":
			w.str(&env.EnvelopeID)
		case "payload":
			if owned {
				env.Payload = w.rawIn()
			} else {
				env.Payload = w.raw()
			}
		case "accepts_response_payload":
			w.boolean(&env.AcceptsResponsePayload)
		case "retry_attempt":
			w.integer(&env.RetryAttempt)
		case "retry_reason":
			w.str(&env.RetryReason)
		case "":
			w.skip()
		default: // hello and disconnect fields
			w.fail()
		}
	}
	if !w.end() {
		return nil, false
	}
	return env, true
}

// eventsPayload is the outer events_api payload; decoded fresh every time.
type eventsPayload struct {
	TeamID  string          `json:"team_id"`
	EventID string          `json:"event_id"`
	Event   json.RawMessage `json:"event"`

	// inner is Event's head, when the outer decode read it already.
	inner *eventHead
}

type innerEvent struct {
	Type    string          `json:"type"`
	User    json.RawMessage `json:"user"` // a user id, or a user object (user_change)
	Channel json.RawMessage `json:"channel"`
}

// eventHead is what routing an inner event needs of it.
type eventHead struct {
	Type, UserID, ChannelID string
}

// decodeEvents reads the outer events_api payload.
func decodeEvents(payload json.RawMessage) (eventsPayload, error) {
	if outer, ok := decodeEventsWire(payload); ok {
		return outer, nil
	}
	var outer eventsPayload
	if err := json.Unmarshal(payload, &outer); err != nil {
		return outer, fmt.Errorf("decode events_api payload: %w", err)
	}
	if len(outer.Event) == 0 {
		return outer, errors.New("decode events_api payload: no event")
	}
	return outer, nil
}

// decodeEventsWire reads the outer payload and its inner event's head in
// one pass; Event is a slice of payload.
func decodeEventsWire(payload []byte) (eventsPayload, bool) {
	w := newWire(payload)
	defer w.free()
	var outer eventsPayload
	var head eventHead
	if !w.open() {
		return outer, false
	}
	for w.next() {
		switch w.field(eventsNames) {
		case "team_id":
			w.str(&outer.TeamID)
		case "event_id":
			w.str(&outer.EventID)
		case "event":
			if outer.Event != nil {
				w.fail() // a second event
				break
			}
			start := w.start()
			w.open() // another value fails: encoding/json cannot decode it into innerEvent
			for w.next() {
				switch w.field(innerNames) {
				case "type":
					w.str(&head.Type)
				case "user":
					w.strOrEmpty(&head.UserID)
				case "channel":
					w.strOrEmpty(&head.ChannelID)
				case "":
					w.skip()
				default:
					w.fail()
				}
			}
			if !w.bad {
				outer.Event = payload[start:w.dec.InputOffset()]
			}
		case "":
			w.skip()
		default:
			w.fail()
		}
	}
	if !w.end() || outer.Event == nil {
		return eventsPayload{}, false
	}
	outer.inner = &head
	return outer, true
}

// decodeInner reads the head of an inner event.
func decodeInner(outer eventsPayload) (eventHead, error) {
	if outer.inner != nil {
		return *outer.inner, nil
	}
	var inner innerEvent
	if err := json.Unmarshal(outer.Event, &inner); err != nil {
		return eventHead{}, err
	}
	head := eventHead{Type: inner.Type}
	_ = json.Unmarshal(inner.User, &head.UserID) // stays "" for a user object
	_ = json.Unmarshal(inner.Channel, &head.ChannelID)
	return head, nil
}

// decodeCommand decodes a slash command payload into a fresh value.
func decodeCommand(payload json.RawMessage) (*slack.SlashCommand, error) {
	if cmd, ok := decodeCommandWire(payload); ok {
		return cmd, nil
	}
	cmd := new(slack.SlashCommand)
	if err := json.Unmarshal(payload, cmd); err != nil {
		return nil, fmt.Errorf("decode slash command payload: %w", err)
	}
	return cmd, nil
}

func decodeCommandWire(payload []byte) (*slack.SlashCommand, bool) {
	w := newWire(payload)
	defer w.free()
	cmd := new(slack.SlashCommand)
	if !w.open() {
		return nil, false
	}
	for w.next() {
		name := w.field(commandNames)
		if name == "is_enterprise_install" {
			w.boolean(&cmd.IsEnterpriseInstall)
		} else if s := commandField(cmd, name); s != nil {
			w.str(s)
		} else if name == "" {
			w.skip()
		} else {
			w.fail()
		}
	}
	if !w.end() {
		return nil, false
	}
	return cmd, true
}

// commandField is the string field of cmd named name in JSON.
func commandField(cmd *slack.SlashCommand, name string) *string {
	switch name {
	case "token":
		return &cmd.Token
	case "team_id":
		return &cmd.TeamID
	case "team_domain":
		return &cmd.TeamDomain
	case "enterprise_id":
		return &cmd.EnterpriseID
	case "enterprise_name":
		return &cmd.EnterpriseName
	case "channel_id":
		return &cmd.ChannelID
	case "channel_name":
		return &cmd.ChannelName
	case "user_id":
		return &cmd.UserID
	case "user_name":
		return &cmd.UserName
	case "command":
		return &cmd.Command
	case "text":
		return &cmd.Text
	case "response_url":
		return &cmd.ResponseURL
	case "trigger_id":
		return &cmd.TriggerID
	case "api_app_id":
		return &cmd.APIAppID
	}
	return nil
}

// interactionHead is what the read loop needs of an interactive payload to
// ack and queue it; the whole payload is decoded once, by the handler.
type interactionHead struct {
	Type slack.InteractionType `json:"type"`
	Team struct {
		ID string `json:"id"`
	} `json:"team"`
	User struct {
		TeamID string `json:"team_id"`
	} `json:"user"`
	ResponseURL  string `json:"response_url"`
	ResponseURLs []struct {
		ResponseURL string `json:"response_url"`
	} `json:"response_urls"`
}

// decodeHead reads the head of an interactive payload.
func decodeHead(payload json.RawMessage) (interactionHead, error) {
	if head, ok := decodeHeadWire(payload); ok {
		return head, nil
	}
	var head interactionHead
	if err := json.Unmarshal(payload, &head); err != nil {
		return head, fmt.Errorf("decode interactive payload: %w", err)
	}
	return head, nil
}

func decodeHeadWire(payload []byte) (interactionHead, bool) {
	w := newWire(payload)
	defer w.free()
	var head interactionHead
	if !w.open() {
		return head, false
	}
	urls := false
	for w.next() {
		switch w.field(headNames) {
		case "type":
			s := string(head.Type)
			w.str(&s)
			head.Type = slack.InteractionType(s)
		case "team":
			w.object(idNames, &head.Team.ID)
		case "user":
			w.object(teamIDNames, &head.User.TeamID)
		case "response_url":
			w.str(&head.ResponseURL)
		case "response_urls":
			if urls {
				w.fail() // encoding/json would decode into the first's elements
				break
			}
			urls = true
			if !w.openArray() {
				break
			}
			head.ResponseURLs = make([]struct {
				ResponseURL string `json:"response_url"`
			}, 0)
			for w.more() {
				var url string
				w.object(urlNames, &url)
				head.ResponseURLs = append(head.ResponseURLs, struct {
					ResponseURL string `json:"response_url"`
				}{url})
			}
		case "":
			w.skip()
		default:
			w.fail()
		}
	}
	if !w.end() {
		return interactionHead{}, false
	}
	return head, true
}

// object reads an object (or null) into a struct of one string field,
// whose JSON name is names[0].
func (w *wire) object(names []string, dst *string) {
	if !w.openOrNull() {
		return
	}
	for w.next() {
		switch w.field(names) {
		case names[0]:
			w.str(dst)
		case "":
			w.skip()
		default:
			w.fail()
		}
	}
}
