package bot

import (
	"context"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/rs/zerolog"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// A click on a button no route knows (one of an older version, or of a
// removed feature) is answered "I don't know that button" whatever else the
// payload says, so it need not be decoded whole: decodeClick reads what the
// answer needs, and checks on the way that the payload is plain, i.e. that
// encoding/json would decode it into a slack.InteractionCallback without
// error (a payload it would refuse gets no answer, so the fast path must
// not answer it either). Anything less plain is decoded whole as before.

// click is a plain block_actions payload's head.
type click struct {
	slots   [nSlots]string
	actions []*slack.BlockAction // ActionID, BlockID and ActionTs only
}

// slot names a string a click keeps.
type slot int

const (
	noSlot slot = iota
	slotType
	slotTeamID
	slotUserID
	slotUserTeamID
	slotTriggerID
	slotResponseURL
	slotChannelID
	slotContainerChannelID
	slotActionID
	slotBlockID
	slotActionTs
	nSlots
)

// shape is what a plain payload may hold under a key: a string or null, a
// bool or null, or an object (or null) with the keys named, each of its own
// shape. Any other key that names a field of the object's Go type (names),
// in whatever case, makes the payload not plain; other keys encoding/json
// ignores.
type shape struct {
	kind  jsontext.Kind // '"', 't' or '{'
	slot  slot
	keys  map[string]*shape
	names []string
	// numberless: other keys may hold only strings, bools and null.
	// ActionCallbacks decodes each action into a map[string]any first,
	// which refuses a number beyond float64's range.
	numberless bool
}

var (
	anyStr  = &shape{kind: '"'}
	anyBool = &shape{kind: 't'}
)

func strIn(s slot) *shape { return &shape{kind: '"', slot: s} }

func objectOf(t reflect.Type, keys map[string]*shape) *shape {
	return &shape{kind: '{', keys: keys, names: jsonNames(t)}
}

func numberless(s *shape) *shape {
	s.numberless = true
	for _, sub := range s.keys {
		if sub.kind == '{' {
			numberless(sub)
		}
	}
	return s
}

// actionShape is one element of "actions": a block action (block_id a
// string) of the common kinds.
var actionShape = numberless(objectOf(reflect.TypeFor[slack.BlockAction](), map[string]*shape{
	"action_id": strIn(slotActionID), "block_id": strIn(slotBlockID), "action_ts": strIn(slotActionTs),
	"type": anyStr, "value": anyStr, "selected_user": anyStr, "selected_channel": anyStr, "selected_conversation": anyStr,
	"selected_date": anyStr, "selected_time": anyStr, "timezone": anyStr,
	"text": objectOf(reflect.TypeFor[slack.TextBlockObject](), map[string]*shape{
		"type": anyStr, "text": anyStr, "emoji": anyBool, "verbatim": anyBool}),
}))

// clickShape is the top level of a plain block_actions payload; "actions"
// is read apart.
var clickShape = objectOf(reflect.TypeFor[slack.InteractionCallback](), map[string]*shape{
	"type": strIn(slotType), "trigger_id": strIn(slotTriggerID), "response_url": strIn(slotResponseURL),
	"token": anyStr, "callback_id": anyStr, "action_ts": anyStr, "api_app_id": anyStr, "is_enterprise_install": anyBool,
	"team": objectOf(reflect.TypeFor[slack.Team](), map[string]*shape{
		"id": strIn(slotTeamID), "name": anyStr, "domain": anyStr, "enterprise_id": anyStr, "enterprise_name": anyStr}),
	"user": objectOf(reflect.TypeFor[slack.User](), map[string]*shape{
		"id": strIn(slotUserID), "team_id": strIn(slotUserTeamID), "name": anyStr, "username": anyStr, "real_name": anyStr}),
	"channel": objectOf(reflect.TypeFor[slack.Channel](), map[string]*shape{"id": strIn(slotChannelID), "name": anyStr}),
	"container": objectOf(reflect.TypeFor[slack.Container](), map[string]*shape{
		"type": anyStr, "view_id": anyStr, "message_ts": anyStr, "thread_ts": anyStr, "channel_id": strIn(slotContainerChannelID),
		"is_ephemeral": anyBool, "is_app_unfurl": anyBool}),
	"enterprise": objectOf(reflect.TypeFor[slack.Enterprise](), map[string]*shape{"id": anyStr, "name": anyStr}),
})

// decodeClick reads a plain block_actions payload; ok is false for any
// other payload (including one encoding/json would refuse).
func decodeClick(payload []byte) (c click, ok bool) {
	w := newWire(payload)
	defer w.free()
	if w.peek() != '{' {
		return c, false
	}
	plain, actions := true, false
	_ = w.open()
	for w.next() {
		if string(w.key) == "actions" {
			// ActionCallbacks appends a second list to the first: not plain.
			plain = !actions && w.actions(&c) && plain
			actions = true
			continue
		}
		plain = w.plain(clickShape, &c.slots) && plain
	}
	if !w.end() || !plain || c.slots[slotType] != string(slack.InteractionTypeBlockActions) {
		return click{}, false
	}
	return c, true
}

// plain checks the value under the key just read, against the keys of
// object s, and consumes it; strings go to their slots.
func (w *wire) plain(s *shape, slots *[nSlots]string) bool {
	sub, ok := s.keys[string(w.key)]
	if !ok {
		plain := !w.known(s.names)
		if k := w.peek(); s.numberless && k != '"' && k != 't' && k != 'f' && k != 'n' {
			plain = false
		}
		w.skip()
		return plain
	}
	switch k := w.peek(); {
	case k == 'n':
		w.skip() // null: the field keeps its value
		return true
	case sub.kind == '"' && k == '"':
		if sub.slot == noSlot {
			w.skip()
		} else {
			w.str(&slots[sub.slot])
		}
		return true
	case sub.kind == 't' && (k == 't' || k == 'f'):
		w.skip()
		return true
	case sub.kind == '{' && k == '{':
		_ = w.open()
		plain := true
		for w.next() {
			plain = w.plain(sub, slots) && plain
		}
		return plain
	}
	w.skip()
	return false
}

// known reports whether the key just read is one of names, or would match
// one in another case (or might, having non-ASCII letters).
func (w *wire) known(names []string) bool {
	for _, c := range w.key {
		if c >= utf8.RuneSelf {
			return true
		}
	}
	for _, n := range names {
		if len(n) == len(w.key) && strings.EqualFold(string(w.key), n) {
			return true
		}
	}
	return false
}

// actions reads "actions": an array of plain block actions.
func (w *wire) actions(c *click) bool {
	if w.peek() != '[' {
		w.skip()
		return false
	}
	_, _ = w.dec.ReadToken()
	plain := true
	for w.more() {
		if w.peek() != '{' {
			w.skip()
			plain = false
			continue
		}
		_ = w.open()
		var slots [nSlots]string
		block := false // block_id a string: a block action, not an attachment's
		for w.next() {
			if string(w.key) == "block_id" {
				block = w.peek() == '"'
			}
			plain = w.plain(actionShape, &slots) && plain
		}
		plain = plain && block
		c.actions = append(c.actions, &slack.BlockAction{
			ActionID: slots[slotActionID], BlockID: slots[slotBlockID], ActionTs: slots[slotActionTs]})
	}
	return plain
}

// routes reports whether any of c's actions has a route.
func (r *Router) routes(c *click) bool {
	for _, a := range c.actions {
		if r.actions[a.ActionID] != nil {
			return true
		}
	}
	return false
}

// handleUnknownClick answers a plain click none of whose actions has a
// route, as handleInteractive does with the whole payload.
func (d *Dispatcher) handleUnknownClick(ctx context.Context, env *socketmode.Request, c *click, log zerolog.Logger) {
	teamID := c.slots[slotTeamID]
	if teamID == "" {
		teamID = c.slots[slotUserTeamID]
	}
	req := d.newRequest(ctx, nil, env, KindAction, teamID, c.slots[slotUserID], log)
	req.TriggerID, req.ResponseURL = c.slots[slotTriggerID], c.slots[slotResponseURL]
	req.ChannelID = c.slots[slotChannelID]
	if req.ChannelID == "" {
		req.ChannelID = c.slots[slotContainerChannelID]
	}
	d.handleBlockActions(ctx, req, dedupeKey(teamID, env.EnvelopeID, req.TriggerID), c.actions)
}

// dedupeKey names an interaction for dedupe: by trigger_id, which Slack
// keeps across redeliveries, else by envelope.
func dedupeKey(teamID, envelopeID, triggerID string) string {
	if triggerID != "" {
		return "interactive:" + teamID + ":" + triggerID
	}
	return "interactive:" + teamID + ":" + envelopeID
}
