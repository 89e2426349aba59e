package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	jsonv1 "github.com/go-json-experiment/json/v1"
	"github.com/rs/zerolog"
	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot/bot/blockkit"
)

// Kind says what sort of payload a Request carries.
type Kind string

const (
	KindCommand    Kind = "slash_command"
	KindAction     Kind = "block_actions"
	KindView       Kind = "view_submission"
	KindViewClosed Kind = "view_closed"
	KindSuggestion Kind = "block_suggestion"
	KindEvent      Kind = "event"
)

// ErrAckSent is returned by SetAck once the envelope has been acknowledged
// (the handler took longer than the ack deadline, or answered twice).
var ErrAckSent = errors.New("envelope already acknowledged")

// Message is an answer to the user. Ephemeral unless InChannel.
type Message struct {
	Text            string
	Blocks          []slack.Block
	InChannel       bool
	ReplaceOriginal bool
}

// wire is the JSON shape shared by ack payloads and response_url posts.
func (m Message) wire() map[string]any {
	w := map[string]any{"text": m.Text, "response_type": "ephemeral"}
	if m.InChannel {
		w["response_type"] = "in_channel"
	}
	if len(m.Blocks) > 0 {
		w["blocks"] = m.Blocks
	}
	if m.ReplaceOriginal {
		w["replace_original"] = true
	}
	return w
}

// Event is the inner event of an events_api envelope.
type Event struct {
	ID   string          // event_id
	Type string          // inner event type, e.g. app_home_opened
	Raw  json.RawMessage // the inner event, to decode into a fresh value
}

// Decode unmarshals the inner event into v, as encoding/json does. It uses
// go-json-experiment's encoding/json (v1 semantics on the v2 decoder, which
// Go ships as encoding/json under GOEXPERIMENT=jsonv2): one pass, and a
// fast skip of what v does not hold, such as the blocks of the Home view
// an app_home_opened event carries. TestEventDecode and FuzzEventDecode
// hold it against encoding/json.
func (e *Event) Decode(v any) error {
	if err := jsonv1.Unmarshal(e.Raw, v); err != nil {
		return fmt.Errorf("decode %s event: %w", e.Type, err)
	}
	return nil
}

// Request is what a handler receives: who asked (Actor), where, and how to answer.
type Request struct {
	EnvelopeID  string
	Kind        Kind
	TeamID      string
	UserID      string // Slack user id
	ChannelID   string
	TriggerID   string
	ResponseURL string

	// Actor is always set for commands, actions, views and suggestions: the
	// router answers identity failures itself. For events it is set only when
	// the route asked for it, and ActorErr then says why it is nil.
	Actor    *Actor
	ActorErr error

	Command     *slack.SlashCommand
	Args        string // command text after the subcommand word
	Interaction *slack.InteractionCallback
	Action      *slack.BlockAction // the action this handler was routed by
	Event       *Event

	// API is the workspace's Web API client; nil when the workspace has none.
	API WebAPI
	Log zerolog.Logger

	ack       *ackState
	responder *responder
}

// SetAck sets the payload that rides on the ack (a view_submission
// response_action, block_suggestion options, a slash command's message). It
// passes the Block Kit guard first: see guardAck. It fails with ErrAckSent
// after the ack has gone.
func (r *Request) SetAck(payload any) error {
	if r.ack == nil {
		return ErrAckSent
	}
	if r.Kind == KindCommand && payload != nil {
		m, err := messageFromWire(payload)
		if err != nil {
			r.Log.Error().Err(err).Msg("command answer unreadable; answering with an apology")
			m = Message{Text: fmt.Sprintf(MsgSorry, r.EnvelopeID)}
		}
		if !r.ack.setMessage(guardMessage(r, m)) {
			return ErrAckSent
		}
		return nil
	}
	if !r.ack.set(guardAck(r, payload)) {
		return ErrAckSent
	}
	return nil
}

// messageFromWire reads a message body (text, blocks, response_type,
// replace_original) that a handler set as a command's ack.
func messageFromWire(payload any) (Message, error) {
	if m, ok := payload.(Message); ok {
		return m, nil
	}
	var w struct {
		Text            string       `json:"text"`
		Blocks          slack.Blocks `json:"blocks"`
		ResponseType    string       `json:"response_type"`
		ReplaceOriginal bool         `json:"replace_original"`
	}
	if err := decodeAs(payload, &w); err != nil {
		return Message{}, err
	}
	return Message{Text: w.Text, Blocks: w.Blocks.BlockSet, InChannel: w.ResponseType == "in_channel", ReplaceOriginal: w.ReplaceOriginal}, nil
}

// Respond answers the user: on the ack for a slash command still within its
// deadline, else through response_url, else chat.postEphemeral (or a DM).
func (r *Request) Respond(ctx context.Context, m Message) error {
	if r.Kind == KindCommand && r.ack != nil && r.ack.setMessage(guardMessage(r, m)) {
		return nil
	}
	return r.responder.send(ctx, r, m)
}

// Prepared is an answer that is the same every time (help), passed through
// the Block Kit guard and encoded once: answering a command with it on the
// ack costs neither. See Prepare and Request.RespondPrepared.
type Prepared struct {
	build func() Message
	wire  json.RawMessage // the guarded message as an ack payload or response_url body
}

// Prepare guards and encodes the message build returns, as Respond would
// (fitted to Slack's limits). build makes a fresh message each call (the
// guard edits blocks in place): it is called again only when the answer
// cannot ride on the ack. Unescaped markup, which Respond escapes with a
// warning, and a message the guard cannot fit are errors: a prepared
// answer is the code's own.
func Prepare(build func() Message) (*Prepared, error) {
	m := build()
	if paths := blockkit.MarkupPaths(m.Text, m.Blocks); len(paths) > 0 {
		return nil, fmt.Errorf("prepare answer: unescaped Slack markup at %s", strings.Join(paths, ", "))
	}
	text, blocks, err := blockkit.FitMessage(m.Text, m.Blocks)
	if err != nil {
		return nil, fmt.Errorf("prepare answer: %w", err)
	}
	m.Text, m.Blocks = text, blocks
	b, err := json.Marshal(m.wire())
	if err != nil {
		return nil, fmt.Errorf("prepare answer: encode: %w", err)
	}
	return &Prepared{build: build, wire: b}, nil
}

// RespondPrepared is Respond with a prepared answer: on the ack, its bytes
// as they are; else built anew and sent as Respond does.
func (r *Request) RespondPrepared(ctx context.Context, p *Prepared) error {
	if r.Kind == KindCommand && r.ack != nil && r.ack.setPrepared(p) {
		return nil
	}
	return r.responder.send(ctx, r, p.build())
}

// ackState holds the ack payload until the one ack is sent.
type ackState struct {
	mu      sync.Mutex
	sent    bool
	payload any
	msg     *Message  // the command answer behind payload, for a follow-up if the ack fails
	prep    *Prepared // or the prepared one
	req     *Request
}

// setPrepared stores a prepared command answer as the ack payload unless
// the ack has gone.
func (a *ackState) setPrepared(p *Prepared) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.sent {
		return false
	}
	a.payload, a.msg, a.prep = p.wire, nil, p
	return true
}

// followUpMessage is the command answer to send by response_url when the
// ack could not carry it; nil if there is none.
func (a *ackState) followUpMessage() *Message {
	a.mu.Lock()
	msg, prep := a.msg, a.prep
	a.mu.Unlock()
	if msg == nil && prep != nil {
		m := prep.build()
		return &m
	}
	return msg
}

// setMessage stores a command answer as the ack payload unless the ack has gone.
func (a *ackState) setMessage(m Message) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.sent {
		return false
	}
	a.payload, a.msg, a.prep = m.wire(), &m, nil
	return true
}

// set stores payload unless the ack has gone.
func (a *ackState) set(payload any) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.sent {
		return false
	}
	a.payload = payload
	return true
}

// take marks the ack sent and returns its payload; ok is false if already sent.
func (a *ackState) take() (payload any, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.sent {
		return nil, false
	}
	a.sent = true
	return a.payload, true
}
