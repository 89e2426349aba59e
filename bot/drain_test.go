package bot_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack/socketmode"

	"github.com/accessbot/accessbot/bot"
	"github.com/accessbot/accessbot/bot/slackfake"
)

// waitUntil polls cond until it holds or d passes.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestDrainKeepsReadingWhileHandlersHang runs the real drain loop over one
// Socket Mode connection. Every async handler hangs, so the 2 workers are
// stuck from the second envelope on; 1000 envelopes later the socket must
// still be read: every envelope acked, /access help still answered on its
// ack, and no reconnect (a loop that stopped reading would miss the pings).
func TestDrainKeepsReadingWhileHandlersHang(t *testing.T) {
	fake := slackfake.New(slackfake.WithPingInterval(200 * time.Millisecond))
	t.Cleanup(fake.Close)
	fake.AddTeam(slackfake.Team{ID: "T1", Name: "Acme"})
	if _, err := fake.AddUser(slackfake.User{ID: "U1", TeamID: "T1", Name: "ann", Email: "ann@acme.test"}); err != nil {
		t.Fatal(err)
	}

	release := make(chan struct{})
	var ran atomic.Int32
	hang := func(ctx context.Context, _ *bot.Request) error {
		<-release
		ran.Add(1)
		return nil
	}
	r := bot.NewRouter()
	r.Event("app_mention", bot.NoActor, hang)
	r.Action("hang", hang)
	r.Command("/access", "help", func(ctx context.Context, req *bot.Request) error {
		return req.Respond(ctx, bot.Message{Text: "here is help"})
	})
	d, err := bot.NewDispatcher(bot.DispatcherConfig{
		Router: r, Resolver: &stubResolver{}, Workers: 2,
		Clients: bot.ClientsFunc(func(context.Context, string) (bot.WebAPI, error) { return nil, errors.New("no client") }),
		Log:     zerolog.New(io.Discard),
	})
	if err != nil {
		t.Fatal(err)
	}
	m, err := bot.NewManager(bot.ManagerConfig{AppToken: fake.AppToken(), APIURL: fake.URL(), Connections: 1,
		PingInterval: 2 * time.Second}, d, zerolog.New(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- m.Run(ctx) }()
	t.Cleanup(func() {
		stop()
		if err := <-runErr; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	released := false
	t.Cleanup(func() { // before the stop above: Run waits for the handlers
		if !released {
			close(release)
		}
	})
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := fake.WaitForConnections(wctx, 1); err != nil {
		t.Fatal(err)
	}

	const n = 1000
	helps := make([]string, 10)
	sent := make(chan struct{})
	go func() { // a socket nobody reads would block the sender; the wait below then fails
		defer close(sent)
		for i := range n {
			if i%2 == 0 {
				fake.SendEvent(fake.AppMention("T1", "U1", "C1", "hi"))
			} else {
				fake.SendInteractive(fake.BlockAction("T1", "U1", slackfake.Action{ActionID: "hang", Value: "x"}))
			}
		}
		for i := range helps {
			helps[i] = fake.SendSlashCommand(fake.SlashCommand("T1", "U1", "help"))
		}
	}()
	waitUntil(t, 20*time.Second, "every envelope acked", func() bool { return fake.AckCount() >= n+len(helps) })
	<-sent
	for _, id := range helps {
		a, err := fake.AwaitAck(wctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(a.Payload), "here is help") {
			t.Errorf("help ack %s = %s, want the help answer", id, a.Payload)
		}
	}
	if got := fake.CallCount("apps.connections.open"); got != 1 {
		t.Errorf("apps.connections.open called %d times, want 1: the socket reconnected", got)
	}
	st := d.Stats()
	if st.Running != 2 || st.Queued != n-2 || st.Dropped != 0 {
		t.Errorf("stats %+v, want 2 running, %d queued, none dropped", st, n-2)
	}

	close(release)
	released = true
	waitUntil(t, 20*time.Second, "the queued work done", func() bool { return ran.Load() == n })
	waitUntil(t, 5*time.Second, "the queue empty", func() bool { st := d.Stats(); return st.Queued == 0 && st.Running == 0 })
}

// TestFullQueueDropsWithBusyAnswer fills a tiny queue: later envelopes are
// still acked at once, their work is dropped and counted, and a block
// action's user is told by response_url that the bot is busy.
func TestFullQueueDropsWithBusyAnswer(t *testing.T) {
	release := make(chan struct{})
	var ran atomic.Int32
	r := bot.NewRouter()
	r.Action("hang", func(context.Context, *bot.Request) error {
		<-release
		ran.Add(1)
		return nil
	})
	d, err := bot.NewDispatcher(bot.DispatcherConfig{
		Router: r, Resolver: &stubResolver{}, Workers: 1, Queue: 5,
		Clients: bot.ClientsFunc(func(context.Context, string) (bot.WebAPI, error) { return nil, errors.New("no client") }),
		Log:     zerolog.New(io.Discard),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.Start(ctx)
	t.Cleanup(func() { cancel(); d.Wait() })
	released := false
	t.Cleanup(func() {
		if !released {
			close(release)
		}
	})
	acks := newAckRecorder()
	resp := newResponseURL(t)
	send := func(i int) {
		payload := `{"type":"block_actions","team":{"id":"T1"},"user":{"id":"U1"},"trigger_id":"tr` + strconv.Itoa(i) +
			`","response_url":"` + resp.URL + `/r","actions":[{"block_id":"b","action_id":"hang","value":"v","action_ts":"1"}]}`
		d.Handle(ctx, acks, &socketmode.Request{Type: "interactive", EnvelopeID: "e" + strconv.Itoa(i), Payload: json.RawMessage(payload)})
	}
	send(0)
	waitUntil(t, 5*time.Second, "the worker busy", func() bool { return d.Stats().Running == 1 })
	const n = 20
	start := time.Now()
	for i := 1; i < n; i++ {
		send(i)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("handing over %d envelopes took %v: Handle must not wait for the queue", n-1, took)
	}
	for i := range n {
		if got := acks.get("e" + strconv.Itoa(i)); len(got) != 1 || got[0] != "null" {
			t.Errorf("acks of e%d = %v, want one empty ack", i, got)
		}
	}
	if st := d.Stats(); st.Queued != 5 || st.Dropped != n-6 {
		t.Errorf("stats %+v, want 5 queued and %d dropped", st, n-6)
	}
	waitUntil(t, 5*time.Second, "busy answers", func() bool { return len(resp.all()) == n-6 })
	for _, p := range resp.all() {
		if !strings.Contains(p, "very busy") {
			t.Errorf("response_url post %s, want the busy answer", p)
		}
	}
	close(release)
	released = true
	waitUntil(t, 5*time.Second, "the kept work done", func() bool { return ran.Load() == 6 })
}

// TestClickNotQueuedBehindEvents: with the one worker busy and 30 App Home
// events queued, a click queued after them runs third (after the running
// event and the events' turn), not last: the workspace's clicks and events
// take turns.
func TestClickNotQueuedBehindEvents(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var order []string
	record := func(what string) {
		mu.Lock()
		order = append(order, what)
		mu.Unlock()
	}
	r := bot.NewRouter()
	r.Event("app_home_opened", bot.NoActor, func(context.Context, *bot.Request) error {
		<-release
		record("home")
		return nil
	})
	r.Action("approve", func(context.Context, *bot.Request) error { record("click"); return nil })
	d, ctx := oneWorker(t, r)
	acks := newAckRecorder()
	const homes = 31
	for i := range homes {
		payload := `{"type":"event_callback","team_id":"T1","event_id":"Ev` + strconv.Itoa(i) + `","event":{"type":"app_home_opened","user":"U1","tab":"home"}}`
		d.Handle(ctx, acks, &socketmode.Request{Type: "events_api", EnvelopeID: "h" + strconv.Itoa(i), Payload: json.RawMessage(payload)})
		if i == 0 {
			waitUntil(t, 5*time.Second, "the worker busy", func() bool { return d.Stats().Running == 1 })
		}
	}
	click := `{"type":"block_actions","team":{"id":"T1"},"user":{"id":"U1"},"trigger_id":"tr1","actions":[{"block_id":"b","action_id":"approve","value":"v","action_ts":"1"}]}`
	d.Handle(ctx, acks, &socketmode.Request{Type: "interactive", EnvelopeID: "c1", Payload: json.RawMessage(click)})
	close(release)
	waitUntil(t, 5*time.Second, "all work done", func() bool { mu.Lock(); defer mu.Unlock(); return len(order) == homes+1 })
	mu.Lock()
	defer mu.Unlock()
	at := slices.Index(order, "click")
	t.Logf("[counts] %d Home events queued before a click; the click ran %d of %d", homes-1, at+1, len(order))
	if at > 2 {
		t.Fatalf("the click ran %d of %d, want 3rd at the latest (the running event, one event's turn, the click's)", at+1, len(order))
	}
}

// TestClickNotQueuedBehindStaleClicks: with the one worker busy and 30
// clicks on buttons no route knows queued (each answered on its
// response_url), a click that decides something, queued after them, runs
// within the first turns, not after every stale answer.
func TestClickNotQueuedBehindStaleClicks(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var order []string
	record := func(what string) {
		mu.Lock()
		order = append(order, what)
		mu.Unlock()
	}
	stale := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		record("stale")
	}))
	t.Cleanup(stale.Close)
	r := bot.NewRouter()
	r.Action("hold", func(context.Context, *bot.Request) error { <-release; record("hold"); return nil })
	r.Action("approve", func(context.Context, *bot.Request) error { record("approve"); return nil })
	d, ctx := oneWorker(t, r)
	acks := newAckRecorder()
	click := func(env, action string) {
		p := `{"type":"block_actions","team":{"id":"T1"},"user":{"id":"U1"},"trigger_id":"tr-` + env +
			`","response_url":"` + stale.URL + `/` + env + `","actions":[{"block_id":"b","action_id":"` + action + `","value":"v","action_ts":"1"}]}`
		d.Handle(ctx, acks, &socketmode.Request{Type: "interactive", EnvelopeID: env, Payload: json.RawMessage(p)})
	}
	click("c0", "hold")
	waitUntil(t, 5*time.Second, "the worker busy", func() bool { return d.Stats().Running == 1 })
	const stales = 30
	for i := range stales {
		click("s"+strconv.Itoa(i), "gone_button")
	}
	click("c1", "approve")
	close(release)
	waitUntil(t, 5*time.Second, "all work done", func() bool { mu.Lock(); defer mu.Unlock(); return len(order) == stales+2 })
	mu.Lock()
	defer mu.Unlock()
	at := slices.Index(order, "approve")
	t.Logf("[counts] %d stale clicks queued before a click; the click ran %d of %d", stales, at+1, len(order))
	if at > 2 {
		t.Fatalf("the click ran %d of %d (%v), want 3rd at the latest (the held click, one stale answer, the click)", at+1, len(order), order)
	}
}

// oneWorker starts a dispatcher for r with a single worker, stopped when
// the test ends.
func oneWorker(t *testing.T, r *bot.Router) (*bot.Dispatcher, context.Context) {
	t.Helper()
	d, err := bot.NewDispatcher(bot.DispatcherConfig{
		Router: r, Resolver: &stubResolver{}, Workers: 1,
		Clients: bot.ClientsFunc(func(context.Context, string) (bot.WebAPI, error) { return nil, errors.New("no client") }),
		Log:     zerolog.New(io.Discard),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.Start(ctx)
	t.Cleanup(func() { cancel(); d.Wait() })
	return d, ctx
}
