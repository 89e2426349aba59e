package slackfake

import (
	"context"
	"encoding/json"
	"net/url"
	"time"
)

// Token kinds recorded on each Call.
const (
	TokenNone  = "none"
	TokenBot   = "bot"   // xoxb
	TokenApp   = "app"   // xapp
	TokenUser  = "user"  // xoxp
	TokenBasic = "basic" // OAuth client credentials
	TokenOther = "other"
)

// Call is one Web API request the fake answered (response_url posts are
// recorded with Method "response_url", and Params "channel" and, for a
// click on a message, "ts": the message the URL answers for).
type Call struct {
	Method    string
	Team      string // team the token (or code) belongs to; "" when unknown
	TokenKind string
	Token     string
	Params    url.Values      // query + form fields
	JSON      json.RawMessage // the body when it was JSON
	Time      time.Time
	Status    int    // HTTP status answered
	Error     string // Slack error code answered, "" on ok
}

// Param returns a request parameter from the form/query, or a top-level
// string/number/bool field of the JSON body.
func (c Call) Param(name string) string {
	if v := c.Params.Get(name); v != "" {
		return v
	}
	if len(c.JSON) == 0 {
		return ""
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(c.JSON, &m) != nil {
		return ""
	}
	raw, ok := m[name]
	if !ok {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// OK reports whether the call was answered with ok:true.
func (c Call) OK() bool { return c.Status == 200 && c.Error == "" }

// Ack is one acknowledgement received over a socket.
type Ack struct {
	EnvelopeID string
	Payload    json.RawMessage // nil when the ack carried none
	ConnID     int
	Time       time.Time
	Known      bool // the envelope id was one the fake sent
}

// Message is the current state of a message the bot posted.
type Message struct {
	Channel     string
	TS          string
	ThreadTS    string
	Team        string
	User        string // bot user id that posted
	Text        string
	Blocks      json.RawMessage
	Attachments json.RawMessage
	Ephemeral   bool
	Recipient   string // ephemeral target user
	Deleted     bool
	Edits       int       // chat.update / replace_original count
	Source      string    // "chat.postMessage", "chat.postEphemeral", "response_url"
	Metadata    *Metadata // chat.postMessage's metadata, if any
}

// View is a modal or Home tab the fake holds.
type View struct {
	ID             string
	Team           string
	User           string
	Type           string // "modal" or "home"
	CallbackID     string
	ExternalID     string
	Hash           string
	RootViewID     string
	PreviousViewID string
	JSON           json.RawMessage // the full view object as views.* answered it
	Closed         bool
}

// Calls returns the recorded calls for method, or all calls when method is "".
func (s *Server) Calls(method string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if method == "" || c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// WaitForCall waits until a call to method (any method when "") matching
// pred (nil matches all) is recorded, and returns the first such call.
func (s *Server) WaitForCall(ctx context.Context, method string, pred func(Call) bool) (Call, error) {
	var found Call
	err := s.WaitFor(ctx, func() bool {
		for _, c := range s.Calls(method) {
			if pred == nil || pred(c) {
				found = c
				return true
			}
		}
		return false
	})
	return found, err
}

// Acks returns every ack received, in order.
func (s *Server) Acks() []Ack {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Ack(nil), s.acks...)
}

// AwaitAck waits for the first ack of envelopeID.
func (s *Server) AwaitAck(ctx context.Context, envelopeID string) (Ack, error) {
	var found Ack
	err := s.WaitFor(ctx, func() bool {
		for _, a := range s.Acks() {
			if a.EnvelopeID == envelopeID {
				found = a
				return true
			}
		}
		return false
	})
	return found, err
}

// Messages returns the live (not deleted) messages of a channel in post
// order, with text and blocks as last updated.
func (s *Server) Messages(channel string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, m := range s.messages[channel] {
		if !m.Deleted {
			out = append(out, *m)
		}
	}
	return out
}

// AllMessages returns every message ever posted, deleted ones included.
func (s *Server) AllMessages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, ms := range s.messages {
		for _, m := range ms {
			out = append(out, *m)
		}
	}
	return out
}

// Message returns one message by channel and ts.
func (s *Server) Message(channel, ts string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.findMessageLocked(channel, ts); m != nil {
		return *m, true
	}
	return Message{}, false
}

// WaitForMessage waits for a live message in channel matching pred.
func (s *Server) WaitForMessage(ctx context.Context, channel string, pred func(Message) bool) (Message, error) {
	var found Message
	err := s.WaitFor(ctx, func() bool {
		for _, m := range s.Messages(channel) {
			if pred == nil || pred(m) {
				found = m
				return true
			}
		}
		return false
	})
	return found, err
}

// OpenViews returns the user's modal stack, bottom first.
func (s *Server) OpenViews(userID string) []View {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []View
	for _, id := range s.stacks[userID] {
		out = append(out, *s.views[id])
	}
	return out
}

// HomeView returns the view last published to the user's Home tab.
func (s *Server) HomeView(userID string) (View, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.homes[userID]
	if !ok {
		return View{}, false
	}
	return *s.views[id], true
}

// ViewByID returns any view the fake knows.
func (s *Server) ViewByID(id string) (View, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.views[id]
	if !ok {
		return View{}, false
	}
	return *v, true
}

// CloseViews empties the user's modal stack (as if the user closed it).
func (s *Server) CloseViews(userID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clearStackLocked(userID)
	s.notifyLocked()
}

// Reset forgets recorded calls and acks (state such as messages stays).
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = nil
	s.acks = nil
	s.notifyLocked()
}

func (s *Server) recordCallLocked(c Call) {
	s.calls = append(s.calls, c)
	s.notifyLocked()
}

func (s *Server) findMessageLocked(channel, ts string) *Message {
	for _, m := range s.messages[channel] {
		if m.TS == ts {
			return m
		}
	}
	return nil
}

func (s *Server) clearStackLocked(userID string) {
	for _, id := range s.stacks[userID] {
		s.views[id].Closed = true
	}
	delete(s.stacks, userID)
}
