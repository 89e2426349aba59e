package bot_test

// Benchmarks of the dispatcher hot path without a socket: decode the
// envelope frame, dedupe, route, resolve (stubbed), run the real handler
// with a stub Web API, ack. Figures are in BENCHMARKS.md:
//
//	go test ./bot -run '^$' -bench BenchmarkDispatch -benchmem -count 3

import (
	"context"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot"
	"github.com/accessbot/accessbot/bot/slackapi"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/handlers"
)

// idMark is replaced by a per-iteration number wherever ids must be unique
// (envelope_id, trigger_id, event_id) so dedupe never short-circuits.
const idMark = "@@ID@@"

// frameTemplate is a frame split at idMark; build appends the parts with n
// between them into buf, without allocating once buf has grown.
type frameTemplate []string

func (f frameTemplate) build(buf []byte, n int) []byte {
	buf = buf[:0]
	for i, part := range f {
		if i > 0 {
			buf = strconv.AppendInt(buf, int64(n), 10)
		}
		buf = append(buf, part...)
	}
	return buf
}

func envelopeTemplate(b *testing.B, typ string, payload any) frameTemplate {
	b.Helper()
	js, err := json.Marshal(payload)
	if err != nil {
		b.Fatal(err)
	}
	frame, err := json.Marshal(slackfake.Envelope{EnvelopeID: "env-" + idMark, Type: typ,
		AcceptsResponsePayload: typ != slackfake.TypeEventsAPI, Payload: js})
	if err != nil {
		b.Fatal(err)
	}
	return strings.Split(string(frame), idMark)
}

// benchSignals counts acks and finished work.
type benchSignals struct{ ch chan struct{} }

func (s benchSignals) signal() { s.ch <- struct{}{} }

func (s benchSignals) wait(n int) {
	for range n {
		<-s.ch
	}
}

// benchAcker marshals the payload, as slack-go does before writing the frame.
type benchAcker struct{ benchSignals }

func (a benchAcker) AckCtx(_ context.Context, _ string, payload any) error {
	if payload != nil {
		if _, err := json.Marshal(payload); err != nil {
			return err
		}
	}
	a.signal()
	return nil
}

// benchAPI is a Web API that answers at once and signals the calls that end
// a handler's work.
type benchAPI struct{ benchSignals }

var _ bot.WebAPI = benchAPI{}

func (benchAPI) PostMessage(context.Context, string, slackapi.Message) (string, string, error) {
	return "D1", "1.1", nil
}

func (a benchAPI) PostEphemeral(context.Context, string, string, slackapi.Message) (string, error) {
	a.signal()
	return "1.1", nil
}

func (a benchAPI) PublishView(context.Context, string, slack.HomeTabViewRequest, string) (*slack.ViewResponse, error) {
	a.signal()
	return &slack.ViewResponse{}, nil
}

func (benchAPI) OpenView(context.Context, string, slack.ModalViewRequest) (*slack.ViewResponse, error) {
	return &slack.ViewResponse{}, nil
}

// benchResolver resolves every user of T1 at once; Invalidate signals.
type benchResolver struct{ benchSignals }

func (benchResolver) Resolve(_ context.Context, team, user string) (bot.Actor, error) {
	return bot.Actor{TeamID: team, SlackUserID: user, Tenant: accessbot.Tenant{ID: "t1", Slug: "acme", Name: "Acme Corp"},
		User: accessbot.User{ID: "u1", TenantID: "t1", Email: "ada@acme.test", Name: "Ada", Role: accessbot.RoleAdmin, Status: accessbot.UserActive}}, nil
}

func (r benchResolver) ProfileChanged(ctx context.Context, team, user, _ string) error {
	return r.Invalidate(ctx, team, user)
}

func (r benchResolver) Invalidate(context.Context, string, string) error {
	r.signal()
	return nil
}

type benchCase struct {
	name  string
	frame frameTemplate
	waits int // signals that end one envelope: its ack, and its work after the ack
}

// benchSetup builds a dispatcher routed by the real handlers, and one frame
// per envelope kind from slackfake's payload shapes.
func benchSetup(b *testing.B) (*bot.Dispatcher, benchSignals, []benchCase) {
	b.Helper()
	sig := benchSignals{ch: make(chan struct{}, 1024)}
	res := benchResolver{sig}
	api := benchAPI{sig}
	r := bot.NewRouter()
	if err := handlers.Register(r, handlers.Deps{Identity: res}); err != nil {
		b.Fatal(err)
	}
	d, err := bot.NewDispatcher(bot.DispatcherConfig{
		Router: r, Resolver: res,
		Clients: bot.ClientsFunc(func(context.Context, string) (bot.WebAPI, error) { return api, nil }),
		Log:     zerolog.New(io.Discard).Level(zerolog.InfoLevel).With().Timestamp().Logger(),
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.Start(ctx)
	b.Cleanup(func() { cancel(); d.Wait() })

	fake := slackfake.New()
	b.Cleanup(fake.Close)
	fake.AddTeam(slackfake.Team{ID: "T1", Name: "Acme"})
	if _, err := fake.AddUser(slackfake.User{ID: "UADA", TeamID: "T1", Name: "ada", Email: "ada@acme.test"}); err != nil {
		b.Fatal(err)
	}
	action := fake.BlockAction("T1", "UADA", slackfake.Action{ActionID: "no_such_button", Value: "x"})
	action.TriggerID, action.ResponseURL = idMark, "" // no response_url: answered by chat.postEphemeral
	home := fake.AppHomeOpened("T1", "UADA")
	home.EventID = "Ev" + idMark
	change := fake.UserChange("T1", "UADA")
	change.EventID = "Ev" + idMark
	unrouted := fake.AppMention("T1", "UADA", "C1", "hi")
	unrouted.EventID = "Ev" + idMark
	return d, sig, []benchCase{
		{"slash_help", envelopeTemplate(b, slackfake.TypeSlashCommands, fake.SlashCommand("T1", "UADA", "help")), 1},
		{"unknown_action", envelopeTemplate(b, slackfake.TypeInteractive, action), 2},
		{"app_home_opened", envelopeTemplate(b, slackfake.TypeEventsAPI, home), 2},
		{"user_change", envelopeTemplate(b, slackfake.TypeEventsAPI, change), 2},
		{"unrouted_event", envelopeTemplate(b, slackfake.TypeEventsAPI, unrouted), 1},
	}
}

// BenchmarkDispatch runs one envelope at a time through the whole path and
// waits for its ack and its work: the latency of one envelope on an idle bot.
func BenchmarkDispatch(b *testing.B) {
	d, sig, cases := benchSetup(b)
	acker := benchAcker{sig}
	n := 0
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			var buf []byte
			b.ReportAllocs()
			for b.Loop() {
				n++
				buf = c.frame.build(buf, n)
				d.HandleFrame(ctx, acker, buf)
				sig.wait(c.waits)
			}
		})
	}
}

// BenchmarkDispatchPipelined hands envelopes of the three acked-then-queued
// kinds to the dispatcher back to back, as a socket's drain loop does, and
// waits for all their work at the end: throughput of the worker pool.
func BenchmarkDispatchPipelined(b *testing.B) {
	d, sig, cases := benchSetup(b)
	var async []benchCase
	for _, c := range cases {
		if c.name != "slash_help" && c.name != "unrouted_event" {
			async = append(async, c)
		}
	}
	want := 0
	for i := range b.N {
		want += async[i%len(async)].waits
	}
	// Acks and finished work are counted, not waited for one by one: a
	// goroutine drains the signals so Handle never blocks on them.
	done := make(chan struct{})
	go func() {
		for range want {
			<-sig.ch
		}
		close(done)
	}()
	var buf []byte
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		c := async[i%len(async)]
		buf = c.frame.build(buf, 1_000_000+i)
		d.HandleFrame(context.Background(), benchAcker{sig}, buf)
	}
	<-done
}
