package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"

	"github.com/accessbot/accessbot"
)

// fuzzAcker counts acks per envelope.
type fuzzAcker struct {
	mu   sync.Mutex
	acks map[string]int
}

func (a *fuzzAcker) AckCtx(_ context.Context, env string, payload any) error {
	if _, err := json.Marshal(payload); err != nil {
		return fmt.Errorf("ack payload does not encode: %w", err)
	}
	a.mu.Lock()
	a.acks[env]++
	a.mu.Unlock()
	return nil
}

func (a *fuzzAcker) count(env string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.acks[env]
}

// panicWatch is a log writer that remembers any recovered handler panic.
type panicWatch struct {
	mu  sync.Mutex
	msg string
}

func (p *panicWatch) Write(b []byte) (int, error) {
	if strings.Contains(string(b), "panicked") {
		p.mu.Lock()
		if p.msg == "" {
			p.msg = string(b)
		}
		p.mu.Unlock()
	}
	return len(b), nil
}

func (p *panicWatch) take() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.msg
	p.msg = ""
	return m
}

type fuzzResolver struct{}

func (fuzzResolver) Resolve(_ context.Context, team, user string) (Actor, error) {
	if team != "T1" {
		return Actor{}, errors.New("workspace not linked")
	}
	return Actor{TeamID: team, SlackUserID: user, Tenant: accessbot.Tenant{ID: "t1"}, User: accessbot.User{ID: "u-" + user}}, nil
}
func (fuzzResolver) Invalidate(context.Context, string, string) error             { return nil }
func (fuzzResolver) ProfileChanged(context.Context, string, string, string) error { return nil }

// noNetwork refuses every response_url post: fuzzed payloads name any URL.
type noNetwork struct{}

func (noNetwork) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("fuzz: no network")
}

// fuzzRouter has a route of every kind, each reading what real handlers read.
func fuzzRouter() *Router {
	r := NewRouter()
	r.Command("/access", "", func(_ context.Context, req *Request) error {
		return req.SetAck(map[string]any{"text": "args: " + req.Args})
	})
	r.Command("/access", "help", func(_ context.Context, req *Request) error {
		return req.SetAck(Message{Text: "help " + req.Command.Text}.wire())
	})
	r.Action("approve", func(_ context.Context, req *Request) error {
		_ = req.Action.Value + req.Action.SelectedOption.Value + req.Interaction.View.PrivateMetadata
		return nil
	})
	r.View("form", func(_ context.Context, req *Request) error {
		errs := map[string]string{}
		for block, actions := range req.Interaction.View.State.Values {
			for _, v := range actions {
				if v.Value == "" && len(v.SelectedOptions) == 0 {
					errs[block] = "Required."
				}
			}
		}
		if len(errs) > 0 {
			return req.SetAck(slack.NewErrorsViewSubmissionResponse(errs))
		}
		return req.SetAck(slack.NewClearViewSubmissionResponse())
	})
	r.ViewClosed("form", func(context.Context, *Request) error { return nil })
	r.Suggestion("pick", func(_ context.Context, req *Request) error {
		return req.SetAck(map[string]any{"options": []any{map[string]any{
			"text": map[string]string{"type": "plain_text", "text": "x" + req.Interaction.Value}, "value": "v"}}})
	})
	r.Event("app_home_opened", ActorOptional, func(_ context.Context, req *Request) error {
		var ev slackevents.AppHomeOpenedEvent
		return req.Event.Decode(&ev)
	})
	r.Event("user_change", NoActor, func(_ context.Context, req *Request) error {
		var ev struct {
			User struct {
				ID      string `json:"id"`
				Profile struct {
					Email string `json:"email"`
				} `json:"profile"`
			} `json:"user"`
		}
		_ = req.Event.Decode(&ev) // a bad one is logged by real handlers, not fatal
		return nil
	})
	return r
}

// FuzzEnvelope feeds Socket Mode frames through the path a socket's
// frames take (HandleFrame, as the read loop calls it) into routes of every
// kind. Whatever the
// frame: no panic, not even a recovered one in a handler, and an envelope
// with an id (other than hello/disconnect) is acked exactly once.
func FuzzEnvelope(f *testing.F) {
	for _, seed := range []string{
		`{"envelope_id":"e1","type":"slash_commands","payload":{"team_id":"T1","user_id":"U1","command":"/access","text":"help me"}}`,
		`{"envelope_id":"e2","type":"events_api","payload":{"type":"event_callback","team_id":"T1","event_id":"Ev1","event":{"type":"app_home_opened","user":"U1","tab":"home"}}}`,
		`{"envelope_id":"e3","type":"events_api","payload":{"type":"event_callback","team_id":"T1","event_id":"Ev2","event":{"type":"user_change","user":{"id":"U1","profile":{"email":"a@b"}}}}}`,
		`{"envelope_id":"e4","type":"interactive","payload":{"type":"block_actions","team":{"id":"T1"},"user":{"id":"U1"},"actions":[{"action_id":"approve","value":"r1"}]}}`,
		`{"envelope_id":"e5","type":"interactive","payload":{"type":"view_submission","team":{"id":"T1"},"user":{"id":"U1"},"view":{"callback_id":"form","state":{"values":{"b":{"a":{"type":"plain_text_input","value":""}}}}}}}`,
		`{"envelope_id":"e6","type":"interactive","payload":{"type":"block_suggestion","team":{"id":"T1"},"user":{"id":"U1"},"action_id":"pick","value":"gi"}}`,
		`{"envelope_id":"e7","type":"interactive","payload":{"type":"view_closed","team":{"id":"T1"},"user":{"id":"U1"},"view":{"callback_id":"form"}}}`,
		`{"envelope_id":"e8","type":"events_api","payload":{"type":"event_callback","team_id":"T1","event":{"type":"some_new_event"}}}`,
		`{"envelope_id":"e9","type":"interactive","payload":{"type":"block_actions","team":{"id":"T9"},"user":{"id":"U1"},"response_url":"http://127.0.0.1:1/x","actions":[{"action_id":"nope"}]}}`,
		`{"envelope_id":"e10","type":"slash_commands","payload":"not an object"}`,
		`{"envelope_id":"e11","type":"weird"}`,
		`{"envelope_id":"e12","type":"events_api","retry_attempt":"one","payload":{"team_id":"T1","event":{"type":"app_mention"}}}`,
		`{"type":"disconnect","reason":"refresh_requested"}`,
		`{"type":"hello","num_connections":1}`,
		`{{{`,
	} {
		f.Add([]byte(seed))
	}
	watch := &panicWatch{}
	d, err := NewDispatcher(DispatcherConfig{
		Router: fuzzRouter(), Resolver: fuzzResolver{},
		Clients:     ClientsFunc(func(context.Context, string) (WebAPI, error) { return nil, errors.New("no client") }),
		AckDeadline: 500 * time.Millisecond, HTTPClient: &http.Client{Transport: noNetwork{}},
		Log: zerolog.New(watch).Level(zerolog.ErrorLevel),
	})
	if err != nil {
		f.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.Start(ctx)
	f.Cleanup(func() { cancel(); d.Wait() })

	f.Fuzz(func(t *testing.T, frame []byte) {
		// Each input gets its own envelope id space, so dedupe across inputs
		// does not hide a missing ack.
		acker := &fuzzAcker{acks: map[string]int{}}
		d.HandleFrame(ctx, acker, frame)
		// An envelope is acked when it decodes, or when at least its
		// envelope_id does (its other fields being of the wrong type).
		var env socketmode.Request
		if json.Unmarshal(frame, &env) != nil {
			env = socketmode.Request{}
			var fields map[string]json.RawMessage
			if json.Unmarshal(frame, &fields) == nil {
				_ = json.Unmarshal(fields["envelope_id"], &env.EnvelopeID)
				_ = json.Unmarshal(fields["type"], &env.Type)
			}
		}
		want := env.EnvelopeID != "" && env.Type != socketmode.RequestTypeHello && env.Type != socketmode.RequestTypeDisconnect
		deadline := time.Now().Add(5 * time.Second)
		for {
			st := d.Stats()
			acked := !want || acker.count(env.EnvelopeID) > 0
			if acked && st.Queued == 0 && st.Running == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("frame %q: not acked and idle within 5 s (acks %d, stats %+v)", frame, acker.count(env.EnvelopeID), st)
			}
			time.Sleep(time.Millisecond)
		}
		if want {
			if got := acker.count(env.EnvelopeID); got != 1 {
				t.Fatalf("frame %q: acked %d times, want once", frame, got)
			}
		}
		if p := watch.take(); p != "" {
			t.Fatalf("frame %q: %s", frame, p)
		}
	})
}
