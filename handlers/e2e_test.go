package handlers_test

// End-to-end tests: the real bot (sockets, dispatcher, router, identity,
// Web API clients, handlers) against bot/slackfake and a real store.

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot"
	"github.com/accessbot/accessbot/bot/slackapi"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/handlers"
	"github.com/accessbot/accessbot/internal/secrets"
	"github.com/accessbot/accessbot/internal/testenv"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/storetest"
)

type e2e struct {
	t     *testing.T
	fake  *slackfake.Server
	st    store.Store
	team  slackfake.Team
	ctx   context.Context
	runCh chan error
}

type e2eOpts struct {
	connections int
	redis       bool
	replicas    int
	ackTimeout  time.Duration // the fake redelivers unacked envelopes, as Slack does
	connectors  bool          // show admins the directory connectors on the Home tab
	published   handlers.Memo // the memo of Home tabs found unchanged
	homeReads   *homeReads    // when set, the Home's version and connector reads go through it
	now         func() time.Time
	driver      string // the store: "sqlite" (when empty) or "postgres"
}

// start runs replicas of the bot (each its own App and sockets) against one
// fake and one store. Tenant "acme" has ada@acme.test (admin); eve is in
// Slack but not in accessbot.
func start(t *testing.T, o e2eOpts) *e2e {
	t.Helper()
	if o.connections == 0 {
		o.connections = 2
	}
	if o.replicas == 0 {
		o.replicas = 1
	}
	fake := slackfake.New(slackfake.WithPingInterval(200*time.Millisecond), slackfake.WithAckTimeout(o.ackTimeout))
	t.Cleanup(fake.Close)
	team := fake.AddTeam(slackfake.Team{ID: "T1", Name: "Acme"})
	for _, u := range []slackfake.User{
		{ID: "UADA", TeamID: "T1", Name: "ada", RealName: "Ada Lovelace", Email: "Ada@Acme.test"},
		{ID: "UEVE", TeamID: "T1", Name: "eve", Email: "eve@acme.test"},
	} {
		if _, err := fake.AddUser(u); err != nil {
			t.Fatal(err)
		}
	}
	if o.driver == "" {
		o.driver = "sqlite"
	}
	st := storetest.Open(t, o.driver)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	tenant := &accessbot.Tenant{Slug: "acme", Name: "Acme Corp"}
	must(t, st.CreateTenant(ctx, tenant))
	must(t, st.CreateUser(ctx, &accessbot.User{TenantID: tenant.ID, Email: "ada@acme.test", Name: "Ada Lovelace",
		Status: accessbot.UserActive, Role: accessbot.RoleAdmin}))
	if _, err := bot.BindSingleWorkspace(ctx, st, secrets.Secret(team.BotToken), "acme",
		slackapi.Options{APIURL: fake.URL(), Guard: slackapi.Strict{}}); err != nil {
		t.Fatal(err)
	}
	e := &e2e{t: t, fake: fake, st: st, team: team, ctx: ctx, runCh: make(chan error, o.replicas)}
	var wg sync.WaitGroup
	runCtx, stop := context.WithCancel(context.Background())
	cfg := bot.AppConfig{
		Store: st, AppToken: secrets.Secret(fake.AppToken()), BotToken: secrets.Secret(team.BotToken),
		APIURL: fake.URL(), Connections: o.connections, PingInterval: 5 * time.Second,
		Pacing: &slackapi.Pacing{}, Guard: slackapi.Strict{},
		Register: func(r *bot.Router, id bot.Resolver) error {
			deps := handlers.Deps{Identity: id}
			var q store.Queries = st
			if o.homeReads != nil {
				q = o.homeReads
			}
			if o.connectors {
				deps.Connectors = handlers.NewConnectors(q)
			}
			deps.Published = o.published
			deps.HomeVersions = q
			deps.Now = o.now
			return handlers.Register(r, deps)
		},
	}
	if o.redis {
		c, _ := testenv.Redis(t)
		cfg.Redis = c
	}
	for i := range o.replicas {
		cfg.Log = zerolog.New(zerolog.NewTestWriter(t)).With().Int("replica", i).Logger().Level(zerolog.InfoLevel)
		app, err := bot.NewApp(cfg)
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() { e.runCh <- app.Run(runCtx) })
	}
	t.Cleanup(func() {
		stop()
		wg.Wait()
		for range o.replicas {
			if err := <-e.runCh; err != nil {
				t.Errorf("Run returned %v after a clean stop", err)
			}
		}
	})
	if err := fake.WaitForConnections(ctx, o.connections*o.replicas); err != nil {
		t.Fatalf("bot did not connect %d sockets: %v", o.connections*o.replicas, err)
	}
	return e
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// ackText waits for the ack of env and returns its payload's text ("" if none).
func (e *e2e) ackText(env string) string {
	e.t.Helper()
	a, err := e.fake.AwaitAck(e.ctx, env)
	if err != nil {
		e.t.Fatalf("no ack for %s: %v", env, err)
	}
	var p struct {
		Text string `json:"text"`
	}
	if len(a.Payload) > 0 && string(a.Payload) != "null" {
		if err := json.Unmarshal(a.Payload, &p); err != nil {
			e.t.Fatalf("ack payload %s: %v", a.Payload, err)
		}
	}
	return p.Text
}

func (e *e2e) command(user, text string) string {
	return e.fake.SendSlashCommand(e.fake.SlashCommand(e.team.ID, user, text))
}

func (e *e2e) home(user string, want ...string) string {
	e.t.Helper()
	var got string
	err := e.fake.WaitFor(e.ctx, func() bool {
		v, ok := e.fake.HomeView(user)
		if !ok {
			return false
		}
		got = string(v.JSON)
		for _, w := range want {
			if !strings.Contains(got, w) {
				return false
			}
		}
		return true
	})
	if err != nil {
		e.t.Fatalf("home of %s never showed %q; last: %s", user, want, got)
	}
	return got
}

// responseText waits for a response_url/ephemeral message to user containing want.
func (e *e2e) messageTo(user, want string) {
	e.t.Helper()
	err := e.fake.WaitFor(e.ctx, func() bool {
		for _, m := range e.fake.AllMessages() {
			if (m.Recipient == user || m.Channel == slackfake.DMChannel(user)) && strings.Contains(m.Text, want) {
				return true
			}
		}
		return false
	})
	if err != nil {
		e.t.Fatalf("no message to %s containing %q: %v", user, want, err)
	}
}

func TestE2ECommands(t *testing.T) {
	e := start(t, e2eOpts{})
	cases := []struct {
		name, user, text, want string
	}{
		{"help", "UADA", "help", "/access help"},
		{"bare command is help", "UADA", "", "/access help"},
		{"unmatched email refused, named", "UEVE", "help", "eve@acme.test"},
		{"unmatched user told who the admins are", "UEVE", "help", "Your accessbot administrator (<@UADA>) must add a user"},
		{"unknown subcommand", "UADA", "frobnicate now", "I don't know that command. Try `/access help`."},
		{"oversized text", "UADA", strings.Repeat("ü", 5000), "I don't know that command"},
		{"oversized help args", "UADA", "help " + strings.Repeat("x", 5000), "/access help"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := e.ackText(e.command(c.user, c.text)); !strings.Contains(got, c.want) {
				t.Fatalf("ack text %q, want it to contain %q", got, c.want)
			}
		})
	}
}

func TestE2ETerminatedUserRefused(t *testing.T) {
	e := start(t, e2eOpts{connections: 1})
	tenant, err := e.st.GetTenantBySlug(e.ctx, "acme")
	must(t, err)
	u, err := e.st.GetUserByEmail(e.ctx, tenant.ID, "ada@acme.test")
	must(t, err)
	u.Status = accessbot.UserTerminated
	must(t, e.st.UpdateUser(e.ctx, u))
	if got := e.ackText(e.command("UADA", "help")); !strings.Contains(got, "marked as terminated") {
		t.Fatalf("ack %q, want the terminated answer", got)
	}
}

func TestE2EUnlinkedWorkspace(t *testing.T) {
	e := start(t, e2eOpts{connections: 1})
	e.fake.AddTeam(slackfake.Team{ID: "T2", Name: "Other"})
	if _, err := e.fake.AddUser(slackfake.User{ID: "UOTHER", TeamID: "T2", Email: "x@other.test"}); err != nil {
		t.Fatal(err)
	}
	env := e.fake.SendSlashCommand(e.fake.SlashCommand("T2", "UOTHER", "help"))
	if got := e.ackText(env); !strings.Contains(got, "isn't linked to accessbot") {
		t.Fatalf("ack %q, want the workspace-not-linked answer", got)
	}
	// A button from the unlinked workspace is answered through its response_url.
	e.fake.SendInteractive(e.fake.BlockAction("T2", "UOTHER", slackfake.Action{ActionID: "home_help"}))
	e.messageTo("UOTHER", "I don't know that button")
}

func TestE2ENoEmailScope(t *testing.T) {
	e := start(t, e2eOpts{connections: 1})
	must(t, e.fake.SetEmailScope(e.team.ID, false))
	got := e.ackText(e.command("UADA", "help"))
	if !strings.Contains(got, "can't see an email address") {
		t.Fatalf("ack %q, want the no-email answer", got)
	}
}

func TestE2EAppHome(t *testing.T) {
	e := start(t, e2eOpts{})
	e.fake.SendEvent(e.fake.AppHomeOpened(e.team.ID, "UADA"))
	e.home("UADA", "Acme Corp", "Admin", "Linked")
	e.fake.SendEvent(e.fake.AppHomeOpened(e.team.ID, "UEVE"))
	e.home("UEVE", "not linked", "eve@acme.test", "What to do", `ask your accessbot admin (\u003c@UADA\u003e)`) // the view JSON escapes < and >
}

func TestE2EAppHomeAfter429(t *testing.T) {
	e := start(t, e2eOpts{connections: 1})
	e.fake.FailNext("views.publish", 1, 429, time.Second)
	e.fake.SendEvent(e.fake.AppHomeOpened(e.team.ID, "UADA"))
	e.home("UADA", "Acme Corp")
	calls := e.fake.Calls("views.publish")
	if len(calls) != 2 {
		t.Fatalf("views.publish called %d times, want 2 (a 429 then the retry)", len(calls))
	}
	if gap := calls[1].Time.Sub(calls[0].Time); gap < time.Second {
		t.Fatalf("retry came %v after the 429, want at least Retry-After (1s)", gap)
	}
}

func TestE2EUserChangeInvalidates(t *testing.T) {
	e := start(t, e2eOpts{connections: 1})
	// Resolve (and cache) ada, then change her Slack email to one accessbot
	// does not know: after user_change the new email must be looked up.
	if got := e.ackText(e.command("UADA", "help")); !strings.Contains(got, "/access help") {
		t.Fatalf("first help: %q", got)
	}
	if _, err := e.fake.AddUser(slackfake.User{ID: "UADA", TeamID: "T1", Name: "ada", Email: "ada.new@acme.test"}); err != nil {
		t.Fatal(err)
	}
	env := e.fake.SendEvent(e.fake.UserChange(e.team.ID, "UADA"))
	e.ackText(env)
	// The invalidation runs on a worker after the ack: ask until the answer
	// names the new email (each round trip is a few ms), with a deadline.
	for deadline := time.Now().Add(5 * time.Second); ; {
		got := e.ackText(e.command("UADA", "help"))
		if strings.Contains(got, "ada.new@acme.test") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after user_change the new email was never looked up; last answer %q", got)
		}
	}
}

func TestE2EDisconnectRefreshLosesNothing(t *testing.T) {
	// An envelope written just before the socket closes has its ack lost
	// with the socket; Slack redelivers it, so the fake does too.
	e := start(t, e2eOpts{connections: 2, ackTimeout: 500 * time.Millisecond})
	before := e.fake.ConnectCount()
	var envs []string
	for i := range 10 {
		if i == 3 {
			if _, err := e.fake.Disconnect("refresh_requested"); err != nil {
				t.Fatal(err)
			}
		}
		envs = append(envs, e.command("UADA", "help"))
	}
	for _, env := range envs {
		err := e.fake.WaitFor(e.ctx, func() bool {
			for _, a := range e.fake.AcksFor(env) {
				if strings.Contains(string(a.Payload), "/access help") {
					return true
				}
			}
			return false
		})
		if err != nil {
			t.Fatalf("envelope %s never answered (acks %+v): %v", env, e.fake.AcksFor(env), err)
		}
	}
	if err := e.fake.WaitFor(e.ctx, func() bool { return e.fake.ConnectCount() > before && len(e.fake.Conns()) == 2 }); err != nil {
		t.Fatalf("the refreshed socket was not replaced: %v", err)
	}
}

func TestE2ERedeliveredHandledOnce(t *testing.T) {
	for _, c := range []struct {
		name string
		o    e2eOpts
	}{
		{"in process", e2eOpts{connections: 2}},
		{"redis, two replicas", e2eOpts{connections: 1, redis: true, replicas: 2}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := start(t, c.o)
			env := e.command("UADA", "help")
			e.ackText(env)
			for range 3 {
				must(t, e.fake.Redeliver(env))
			}
			err := e.fake.WaitFor(e.ctx, func() bool { return len(e.fake.AcksFor(env)) == 4 })
			if err != nil {
				t.Fatalf("acks of %s: %d, want 4: %v", env, len(e.fake.AcksFor(env)), err)
			}
			// Each redelivery replays the first answer (or, on another
			// replica, acks empty): it is never handled as a new command.
			answered := 0
			for _, a := range e.fake.AcksFor(env) {
				switch {
				case strings.Contains(string(a.Payload), "/access help"):
					answered++
				case len(a.Payload) != 0:
					t.Fatalf("a redelivery was answered differently: %s", a.Payload)
				}
			}
			if answered == 0 || (!c.o.redis && answered != 4) {
				t.Fatalf("%d of 4 acks carried the answer", answered)
			}

			// An event redelivered publishes the Home once.
			ev := e.fake.SendEvent(e.fake.AppHomeOpened(e.team.ID, "UADA"))
			e.home("UADA", "Acme Corp")
			must(t, e.fake.Redeliver(ev))
			if err := e.fake.WaitFor(e.ctx, func() bool { return len(e.fake.AcksFor(ev)) == 2 }); err != nil {
				t.Fatal(err)
			}
			// The duplicate's worker runs after its ack; a later Home for eve
			// proves the pool moved on.
			e.fake.SendEvent(e.fake.AppHomeOpened(e.team.ID, "UEVE"))
			e.home("UEVE", "not linked")
			n := 0
			for _, c := range e.fake.Calls("views.publish") {
				if c.Param("user_id") == "UADA" {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("views.publish for UADA called %d times, want 1", n)
			}
		})
	}
}

func TestE2EMalformedAndUnknown(t *testing.T) {
	e := start(t, e2eOpts{connections: 1})
	cases := []struct {
		name, frame, env, want string
	}{
		{"slash payload not an object", `{"envelope_id":"m1","type":"slash_commands","accepts_response_payload":true,"payload":"oops"}`, "m1", "could not read that request (ref m1)"},
		{"unknown inner event", `{"envelope_id":"m2","type":"events_api","payload":{"type":"event_callback","team_id":"T1","event_id":"EvX","event":{"type":"brand_new_event"}}}`, "m2", ""},
		{"unknown envelope type", `{"envelope_id":"m3","type":"telepathy","payload":{}}`, "m3", ""},
		{"interactive garbage", `{"envelope_id":"m4","type":"interactive","payload":{"type":"block_actions","actions":7}}`, "m4", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.fake.SendRaw([]byte(c.frame))
			if got := e.ackText(c.env); !strings.Contains(got, c.want) {
				t.Fatalf("ack %q, want %q", got, c.want)
			}
		})
	}
	// Not JSON at all: nothing to ack, but the bot must stay up and answer.
	e.fake.SendRaw([]byte(`{{{ not json`))
	e.fake.SendInteractive(e.fake.BlockAction(e.team.ID, "UADA", slackfake.Action{ActionID: "no_such_button", Value: "x"}))
	e.messageTo("UADA", "I don't know that button")
	if got := e.ackText(e.command("UADA", "help")); !strings.Contains(got, "/access help") {
		t.Fatalf("bot stopped answering after bad frames: %q", got)
	}
}

func TestE2EFatalAuthStopsRun(t *testing.T) {
	fake := slackfake.New()
	t.Cleanup(fake.Close)
	st := storetest.Open(t, "sqlite")
	app, err := bot.NewApp(bot.AppConfig{
		Store: st, AppToken: "xapp-1-wrong", APIURL: fake.URL(), Connections: 2,
		Register: func(r *bot.Router, id bot.Resolver) error { return handlers.Register(r, handlers.Deps{Identity: id}) },
		Log:      zerolog.New(zerolog.NewTestWriter(t)),
	})
	must(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = app.Run(ctx)
	if !errors.Is(err, bot.ErrSlackAuth) || !strings.Contains(err.Error(), "invalid_auth") {
		t.Fatalf("Run = %v, want ErrSlackAuth naming invalid_auth", err)
	}
}

// TestE2EHelpAnsweredOnTheAck: "/access help" is answered on the slash
// command's ack, which the fake Slack shows the user as Slack does (an
// ephemeral message in the channel); no response_url post or chat.* call
// carries it.
func TestE2EHelpAnsweredOnTheAck(t *testing.T) {
	e := start(t, e2eOpts{connections: 1})
	followUps := func() int {
		return e.fake.CallCount("response_url") + e.fake.CallCount("chat.postEphemeral") + e.fake.CallCount("chat.postMessage")
	}
	before := followUps()
	cmd := e.fake.SlashCommand(e.team.ID, "UADA", "help")
	env := e.fake.SendSlashCommand(cmd)
	if got := e.ackText(env); !strings.Contains(got, "/access help") {
		t.Fatalf("ack text %q, want the help", got)
	}
	var shown *slackfake.Message
	for _, m := range e.fake.Messages(cmd.ChannelID) {
		if m.Source == "ack" && strings.Contains(m.Text, "/access help") {
			shown = &m
		}
	}
	if shown == nil || !shown.Ephemeral || shown.Recipient != "UADA" {
		t.Fatalf("help shown to the user from the ack: %+v; want an ephemeral message to UADA", shown)
	}
	time.Sleep(500 * time.Millisecond) // a follow-up, if any, would come now
	t.Logf("[counts] help: 1 ack with the answer, %d follow-up calls", followUps()-before)
	if n := followUps() - before; n != 0 {
		t.Errorf("%d response_url or chat.* calls for help, want 0 (the answer rides on the ack)", n)
	}
}
