package playground

import (
	"encoding/json"
	"net/http"

	"github.com/accessbot/accessbot/bot/slackfake"
)

// Message is one message of the visitor's conversation with the bot.
type Message struct {
	Channel   string          `json:"channel"`
	TS        string          `json:"ts"`
	ThreadTS  string          `json:"thread_ts,omitempty"`
	Text      string          `json:"text"`
	Blocks    json.RawMessage `json:"blocks,omitempty"`
	Ephemeral bool            `json:"ephemeral"`
	Edited    bool            `json:"edited"`
	Source    string          `json:"source"`
}

// ViewState is a modal or Home view as the fake holds it.
type ViewState struct {
	ID   string          `json:"id"`
	Hash string          `json:"hash"`
	View json.RawMessage `json:"view"`
}

// ChannelState is a channel's messages as one user sees them.
type ChannelState struct {
	Channel
	Messages []Message `json:"messages"`
}

// State is GET /api/state: everything the visitor sees as one user.
type State struct {
	User     Person         `json:"user"`
	Messages []Message      `json:"messages"` // the DM with the bot
	Channels []ChannelState `json:"channels"`
	Modal    *ViewState     `json:"modal"` // top of the modal stack, nil when none
	Stack    int            `json:"stack"` // modals open (Slack allows 3)
	Home     *ViewState     `json:"home"`  // last published Home view, nil before one
}

// visibleTo reports whether user sees m: ephemeral messages only their recipient.
func visibleTo(m slackfake.Message, user string) bool {
	return !m.Ephemeral || m.Recipient == user
}

// messages are the live messages of channel that user sees.
func (s *Server) messages(channel, user string) []Message {
	out := []Message{}
	for _, m := range s.cfg.Fake.Messages(channel) {
		if !visibleTo(m, user) {
			continue
		}
		out = append(out, Message{Channel: m.Channel, TS: m.TS, ThreadTS: m.ThreadTS, Text: m.Text,
			Blocks: m.Blocks, Ephemeral: m.Ephemeral, Edited: m.Edits > 0, Source: m.Source})
	}
	return out
}

// state collects the user's DM (with the ephemeral answers meant for them),
// the channels, modal stack and Home view.
func (s *Server) state(p Person) State {
	st := State{User: p, Messages: s.messages(slackfake.DMChannel(p.ID), p.ID), Channels: []ChannelState{}}
	for _, c := range s.cfg.Channels {
		st.Channels = append(st.Channels, ChannelState{Channel: c, Messages: s.messages(c.ID, p.ID)})
	}
	if vs := s.cfg.Fake.OpenViews(p.ID); len(vs) > 0 {
		top := vs[len(vs)-1]
		st.Modal = &ViewState{ID: top.ID, Hash: top.Hash, View: top.JSON}
		st.Stack = len(vs)
	}
	if h, ok := s.cfg.Fake.HomeView(p.ID); ok {
		st.Home = &ViewState{ID: h.ID, Hash: h.Hash, View: h.JSON}
	}
	return st
}

func (s *Server) handleState(w http.ResponseWriter, r *http.Request) {
	p, err := s.person(r.URL.Query().Get("user"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.state(p))
}
