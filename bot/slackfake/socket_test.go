package slackfake_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"

	"github.com/accessbot/accessbot/bot/slackfake"
)

// smClient runs a slack-go socketmode client against the fake and forwards
// its events; it is stopped on cleanup.
type smClient struct {
	client *socketmode.Client
	events chan socketmode.Event
	done   chan error
}

func startClient(t *testing.T, f *fixture, appToken string, opts ...socketmode.Option) *smClient {
	t.Helper()
	api := slack.New(f.team.BotToken, slack.OptionAPIURL(f.fake.URL()), slack.OptionAppLevelToken(appToken))
	c := &smClient{client: socketmode.New(api, opts...), events: make(chan socketmode.Event, 100), done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { c.done <- c.client.RunContext(ctx) }()
	go func() {
		for {
			select {
			case evt := <-c.client.Events:
				select {
				case c.events <- evt:
				default: // never block the client's reader
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-c.done:
		case <-time.After(5 * time.Second):
			t.Error("socketmode client did not stop")
		}
	})
	return c
}

// next waits for the next event of type typ.
func (c *smClient) next(t *testing.T, typ socketmode.EventType) socketmode.Event {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case evt := <-c.events:
			if evt.Type == typ {
				return evt
			}
		case err := <-c.done:
			t.Fatalf("client stopped while waiting for %s: %v", typ, err)
		case <-deadline:
			t.Fatalf("no %s event", typ)
		}
	}
}

func TestSocketHelloAndSlashCommandAck(t *testing.T) {
	f := newFixture(t)
	c := startClient(t, f, f.fake.AppToken())
	hello := c.next(t, socketmode.EventTypeHello)
	if hello.Request.ConnectionInfo.AppID != f.fake.AppID() || hello.Request.NumConnections != 1 ||
		hello.Request.DebugInfo.ApproximateConnectionTime != 18060 || hello.Request.DebugInfo.Host == "" {
		t.Fatalf("hello = %+v", hello.Request)
	}
	id := f.fake.SendSlashCommand(f.fake.SlashCommand("T1", "U1", "help"))
	evt := c.next(t, socketmode.EventTypeSlashCommand)
	cmd := evt.Data.(slack.SlashCommand)
	if evt.Request.EnvelopeID != id || !evt.Request.AcceptsResponsePayload || cmd.TeamID != "T1" || cmd.UserID != "U1" ||
		cmd.Command != "/access" || cmd.Text != "help" || cmd.TriggerID == "" || !strings.HasPrefix(cmd.ResponseURL, f.fake.BaseURL()) ||
		cmd.APIAppID != f.fake.AppID() || cmd.ChannelID != "DU1" {
		t.Fatalf("slash command = %+v request %+v", cmd, evt.Request)
	}
	if err := c.client.Ack(*evt.Request, map[string]any{"text": "Here is help"}); err != nil {
		t.Fatal(err)
	}
	ack, err := f.fake.AwaitAck(ctxT(t), id)
	if err != nil || !ack.Known || !strings.Contains(string(ack.Payload), "Here is help") {
		t.Fatalf("ack = %+v, %v", ack, err)
	}
	msgs := f.fake.Messages("DU1")
	if len(msgs) != 1 || msgs[0].Text != "Here is help" || !msgs[0].Ephemeral || msgs[0].Recipient != "U1" {
		t.Fatalf("ack message = %+v", msgs)
	}
}

func TestSocketEnvelopesDecode(t *testing.T) {
	f := newFixture(t)
	c := startClient(t, f, f.fake.AppToken())
	c.next(t, socketmode.EventTypeHello)
	_, ts, err := f.api.PostMessage("C7", slack.MsgOptionText("approve?", false))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		send  func() string
		typ   socketmode.EventType
		check func(t *testing.T, evt socketmode.Event)
	}{
		{"block action on message", func() string {
			return f.fake.SendInteractive(f.fake.BlockActionOnMessage("T1", "U1", "C7", ts,
				slackfake.Action{ActionID: "approve", Value: "req-1", Text: "Approve"}))
		}, socketmode.EventTypeInteractive, func(t *testing.T, evt socketmode.Event) {
			cb := evt.Data.(slack.InteractionCallback)
			acts := cb.ActionCallback.BlockActions
			if cb.Type != slack.InteractionTypeBlockActions || cb.Team.ID != "T1" || cb.User.ID != "U1" || cb.TriggerID == "" ||
				cb.ResponseURL == "" || cb.APIAppID != f.fake.AppID() || cb.Container.MessageTs != ts || cb.Channel.ID != "C7" ||
				cb.Message.Text != "approve?" || len(acts) != 1 || acts[0].ActionID != "approve" || acts[0].Value != "req-1" {
				t.Fatalf("callback = %+v", cb)
			}
		}},
		{"view submission", func() string {
			return f.fake.SendInteractive(f.fake.ViewSubmission("T1", "U1", "V1", map[string]map[string]slackfake.StateValue{
				"reason": {"reason_input": slackfake.PlainTextValue("on call")},
				"role":   {"role_select": slackfake.StaticSelectValue("admin", "Admin")},
			}))
		}, socketmode.EventTypeInteractive, func(t *testing.T, evt socketmode.Event) {
			cb := evt.Data.(slack.InteractionCallback)
			vals := cb.View.State.Values
			if cb.Type != slack.InteractionTypeViewSubmission || cb.View.ID != "V1" || vals["reason"]["reason_input"].Value != "on call" ||
				vals["role"]["role_select"].SelectedOption.Value != "admin" {
				t.Fatalf("callback = %+v", cb)
			}
		}},
		{"app_home_opened", func() string { return f.fake.SendEvent(f.fake.AppHomeOpened("T1", "U1")) },
			socketmode.EventTypeEventsAPI, func(t *testing.T, evt socketmode.Event) {
				ev := evt.Data.(slackevents.EventsAPIEvent)
				inner, ok := ev.InnerEvent.Data.(*slackevents.AppHomeOpenedEvent)
				cb := ev.Data.(*slackevents.EventsAPICallbackEvent)
				if evt.Request.AcceptsResponsePayload || ev.TeamID != "T1" || !ok || inner.User != "U1" || inner.Tab != "home" ||
					!strings.HasPrefix(cb.EventID, "Ev") || cb.EventTime == 0 || cb.APIAppID != f.fake.AppID() {
					t.Fatalf("event = %+v inner %+v", ev, ev.InnerEvent)
				}
			}},
		{"user_change", func() string { return f.fake.SendEvent(f.fake.UserChange("T1", "U1")) },
			socketmode.EventTypeEventsAPI, func(t *testing.T, evt socketmode.Event) {
				ev := evt.Data.(slackevents.EventsAPIEvent)
				inner, ok := ev.InnerEvent.Data.(*slackevents.UserChangeEvent)
				if !ok || inner.User.ID != "U1" || inner.User.Name != "alice" || inner.User.TeamID != "T1" {
					t.Fatalf("inner = %+v", ev.InnerEvent)
				}
			}},
		{"app_mention", func() string { return f.fake.SendEvent(f.fake.AppMention("T1", "U1", "C7", "<@UBOT> hi")) },
			socketmode.EventTypeEventsAPI, func(t *testing.T, evt socketmode.Event) {
				ev := evt.Data.(slackevents.EventsAPIEvent)
				inner, ok := ev.InnerEvent.Data.(*slackevents.AppMentionEvent)
				if !ok || inner.User != "U1" || inner.Channel != "C7" || inner.Text != "<@UBOT> hi" {
					t.Fatalf("inner = %+v", ev.InnerEvent)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := tc.send()
			evt := c.next(t, tc.typ)
			if evt.Request.EnvelopeID != id {
				t.Fatalf("envelope %s, want %s", evt.Request.EnvelopeID, id)
			}
			tc.check(t, evt)
			if err := c.client.Ack(*evt.Request); err != nil {
				t.Fatal(err)
			}
			if ack, err := f.fake.AwaitAck(ctxT(t), id); err != nil || ack.Payload != nil {
				t.Fatalf("ack = %+v, %v", ack, err)
			}
		})
	}
}

func TestSocketRefreshRequestedKeepsQueuedEnvelope(t *testing.T) {
	f := newFixture(t)
	c := startClient(t, f, f.fake.AppToken())
	c.next(t, socketmode.EventTypeHello)
	// Slow the reopen so the envelope below is sent while no socket is open.
	f.fake.Delay("apps.connections.open", 300*time.Millisecond)
	if _, err := f.fake.Disconnect(slackfake.ReasonRefreshRequested); err != nil {
		t.Fatal(err)
	}
	id := f.fake.SendEvent(f.fake.AppHomeOpened("T1", "U1"))
	if q := f.fake.Queued(); q != 1 {
		t.Fatalf("queued = %d, want 1", q)
	}
	evt := c.next(t, socketmode.EventTypeEventsAPI)
	if evt.Request.EnvelopeID != id {
		t.Fatalf("got envelope %s, want %s", evt.Request.EnvelopeID, id)
	}
	if err := c.client.Ack(*evt.Request); err != nil {
		t.Fatal(err)
	}
	if _, err := f.fake.AwaitAck(ctxT(t), id); err != nil {
		t.Fatal(err)
	}
	if n := f.fake.ConnectCount(); n != 2 {
		t.Fatalf("connects = %d, want 2", n)
	}
}

func TestSocketDropReconnects(t *testing.T) {
	f := newFixture(t)
	c := startClient(t, f, f.fake.AppToken())
	c.next(t, socketmode.EventTypeHello)
	f.fake.DropConnections()
	id := f.fake.SendSlashCommand(f.fake.SlashCommand("T1", "U1", "after drop"))
	evt := c.next(t, socketmode.EventTypeSlashCommand)
	if evt.Request.EnvelopeID != id || f.fake.ConnectCount() < 2 {
		t.Fatalf("envelope %s connects %d", evt.Request.EnvelopeID, f.fake.ConnectCount())
	}
}

func TestSocketPings(t *testing.T) {
	cases := []struct {
		name          string
		fakePing      time.Duration
		wantReconnect bool
	}{
		{"pings keep the socket alive", 30 * time.Millisecond, false},
		{"no pings make slack-go reconnect", 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, slackfake.WithPingInterval(tc.fakePing))
			c := startClient(t, f, f.fake.AppToken(), socketmode.OptionPingInterval(200*time.Millisecond))
			c.next(t, socketmode.EventTypeHello)
			ctx := ctxT(t)
			if tc.wantReconnect {
				if err := f.fake.WaitFor(ctx, func() bool { return f.fake.ConnectCount() >= 2 }); err != nil {
					t.Fatal("slack-go never reconnected without pings")
				}
				return
			}
			first := f.fake.Conns()[0].ID
			// 25 pongs at 30 ms span well over slack-go's 200 ms ping timeout.
			if err := f.fake.WaitFor(ctx, func() bool { return f.fake.Pongs(first) >= 25 }); err != nil {
				t.Fatal(err)
			}
			if n := f.fake.ConnectCount(); n != 1 {
				t.Fatalf("connects = %d, want 1", n)
			}
		})
	}
}

func TestSocketRateLimitedOpen(t *testing.T) {
	f := newFixture(t)
	f.fake.FailNext("apps.connections.open", 1, http.StatusTooManyRequests, time.Second)
	c := startClient(t, f, f.fake.AppToken())
	evt := c.next(t, socketmode.EventTypeConnectionError)
	var rl *slack.RateLimitedError
	if ce := evt.Data.(*slack.ConnectionErrorEvent); !errors.As(ce.ErrorObj, &rl) || rl.RetryAfter != time.Second {
		t.Fatalf("connection error = %+v", evt.Data)
	}
	c.next(t, socketmode.EventTypeHello)
}

func TestSocketInvalidAppToken(t *testing.T) {
	f := newFixture(t)
	c := startClient(t, f, "xapp-1-wrong")
	select {
	case err := <-c.done:
		if err == nil || err.Error() != "invalid_auth" {
			t.Fatalf("RunContext = %v", err)
		}
		c.done <- err // let cleanup see it
	case <-time.After(10 * time.Second):
		t.Fatal("client kept running with a bad app token")
	}
}

// dialRaw opens a socket with a bare WebSocket client and reads hello.
func dialRaw(t *testing.T, f *fixture) (*websocket.Conn, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.fake.URL()+"apps.connections.open", nil)
	req.Header.Set("Authorization", "Bearer "+f.fake.AppToken())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var open struct {
		OK  bool   `json:"ok"`
		URL string `json:"url"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&open); err != nil || !open.OK || !strings.Contains(open.URL, "app_id="+f.fake.AppID()) {
		t.Fatalf("apps.connections.open = %+v %v", open, err)
	}
	ws, _, err := websocket.DefaultDialer.Dial(open.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	return ws, readFrame(t, ws)
}

func readFrame(t *testing.T, ws *websocket.Conn) map[string]any {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	var m map[string]any
	if err := ws.ReadJSON(&m); err != nil {
		t.Fatalf("read frame: %v", err)
	}
	return m
}

func TestSocketDisconnectReasons(t *testing.T) {
	for _, reason := range []string{slackfake.ReasonWarning, slackfake.ReasonRefreshRequested, slackfake.ReasonLinkDisabled} {
		t.Run(reason, func(t *testing.T) {
			f := newFixture(t)
			ws, hello := dialRaw(t, f)
			if hello["type"] != "hello" {
				t.Fatalf("hello = %v", hello)
			}
			if _, err := f.fake.Disconnect(reason); err != nil {
				t.Fatal(err)
			}
			m := readFrame(t, ws)
			if m["type"] != "disconnect" || m["reason"] != reason || m["debug_info"] == nil {
				t.Fatalf("frame = %v", m)
			}
			if _, _, err := ws.ReadMessage(); err == nil {
				t.Fatal("socket still open after disconnect")
			}
			if len(f.fake.Conns()) != 0 {
				t.Fatalf("conns = %v", f.fake.Conns())
			}
		})
	}
}

func TestSocketTooManyWebsockets(t *testing.T) {
	f := newFixture(t)
	for i := range slackfake.MaxSockets {
		if _, hello := dialRaw(t, f); hello["num_connections"] != float64(i+1) {
			t.Fatalf("socket %d hello = %v", i+1, hello)
		}
	}
	ws, m := dialRaw(t, f)
	if m["type"] != "disconnect" || m["reason"] != slackfake.ReasonTooManyWebsockets {
		t.Fatalf("11th socket got %v", m)
	}
	if _, _, err := ws.ReadMessage(); err == nil {
		t.Fatal("11th socket still open")
	}
	if len(f.fake.Conns()) != slackfake.MaxSockets || f.fake.RejectedCount() != 1 {
		t.Fatalf("conns %d rejected %d", len(f.fake.Conns()), f.fake.RejectedCount())
	}
}

func TestSocketRedelivery(t *testing.T) {
	f := newFixture(t, slackfake.WithAckTimeout(100*time.Millisecond))
	ws, _ := dialRaw(t, f)
	id := f.fake.SendEvent(f.fake.AppHomeOpened("T1", "U1"))
	first := readFrame(t, ws)
	retry := readFrame(t, ws) // not acked: the fake retries after its ack timeout
	if first["envelope_id"] != id || first["retry_attempt"] != float64(0) || first["retry_reason"] != "" ||
		retry["envelope_id"] != id || retry["retry_attempt"] != float64(1) || retry["retry_reason"] != "timeout" {
		t.Fatalf("first %v retry %v", first, retry)
	}
	if string(mustJSON(t, first["payload"])) != string(mustJSON(t, retry["payload"])) {
		t.Fatal("redelivered payload differs")
	}
	if err := ws.WriteJSON(map[string]any{"envelope_id": id}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.fake.AwaitAck(ctxT(t), id); err != nil {
		t.Fatal(err)
	}
	// A manual redelivery of an acked envelope, as when Slack missed the ack.
	if err := f.fake.Redeliver(id); err != nil {
		t.Fatal(err)
	}
	if again := readFrame(t, ws); again["retry_attempt"] != float64(2) {
		t.Fatalf("manual redelivery = %v", again)
	}
	if err := f.fake.Redeliver("nope"); !errors.Is(err, slackfake.ErrUnknownEnvelope) {
		t.Fatalf("unknown envelope err = %v", err)
	}
}

func TestSocketViewSubmissionAckClosesView(t *testing.T) {
	f := newFixture(t)
	c := startClient(t, f, f.fake.AppToken())
	c.next(t, socketmode.EventTypeHello)
	modal := slack.ModalViewRequest{Type: slack.VTModal, Title: slack.NewTextBlockObject("plain_text", "Req", false, false), CallbackID: "req"}
	v, err := f.api.OpenView(f.fake.NewTriggerID("T1", "U1"), modal)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		ack       any
		wantViews int
	}{
		{"errors keep the view", slack.NewErrorsViewSubmissionResponse(map[string]string{"reason": "required"}), 1},
		{"empty ack closes it", nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := f.fake.SendInteractive(f.fake.ViewSubmission("T1", "U1", v.ID, nil))
			evt := c.next(t, socketmode.EventTypeInteractive)
			if cb := evt.Data.(slack.InteractionCallback); cb.View.CallbackID != "req" || cb.View.ID != v.ID {
				t.Fatalf("view = %+v", cb.View)
			}
			if err := c.client.Ack(*evt.Request, tc.ack); err != nil {
				t.Fatal(err)
			}
			if _, err := f.fake.AwaitAck(ctxT(t), id); err != nil {
				t.Fatal(err)
			}
			if n := len(f.fake.OpenViews("U1")); n != tc.wantViews {
				t.Fatalf("open views = %d, want %d", n, tc.wantViews)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSocketRoundRobinAndRaw(t *testing.T) {
	f := newFixture(t)
	a, _ := dialRaw(t, f)
	b, _ := dialRaw(t, f)
	id1 := f.fake.SendEvent(f.fake.AppHomeOpened("T1", "U1"))
	id2 := f.fake.SendEvent(f.fake.AppHomeOpened("T1", "U2"))
	got := map[any]bool{readFrame(t, a)["envelope_id"]: true, readFrame(t, b)["envelope_id"]: true}
	if !got[id1] || !got[id2] {
		t.Fatalf("sockets got %v, want %s and %s", got, id1, id2)
	}
	d := f.fake.Deliveries()
	if len(d) != 2 || d[0].ConnID == d[1].ConnID {
		t.Fatalf("deliveries = %+v", d)
	}
	f.fake.SendRaw([]byte(`{"type":"no_such_type"}`))
	f.fake.SendRaw([]byte(`{"type":"no_such_type"}`))
	for _, ws := range []*websocket.Conn{a, b} {
		if m := readFrame(t, ws); m["type"] != "no_such_type" {
			t.Fatalf("raw frame = %v", m)
		}
	}
}

// TestSocketEnds: the fake tells a client's goodbye (a close frame, then
// the close) from a socket that just went away (a killed process) and from
// one it closed itself.
func TestSocketEnds(t *testing.T) {
	f := newFixture(t)
	clean, _ := dialRaw(t, f)
	abrupt, _ := dialRaw(t, f)
	dropped, _ := dialRaw(t, f)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.fake.WaitForConnections(ctx, 3); err != nil {
		t.Fatal(err)
	}
	ids := f.fake.Conns()
	_ = clean.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	clean.Close()
	if err := f.fake.WaitFor(ctx, func() bool { return len(f.fake.ConnEnds()) == 1 }); err != nil {
		t.Fatal(err)
	}
	abrupt.Close()
	if err := f.fake.WaitFor(ctx, func() bool { return len(f.fake.ConnEnds()) == 2 }); err != nil {
		t.Fatal(err)
	}
	f.fake.DropConnections()
	if err := f.fake.WaitFor(ctx, func() bool { return len(f.fake.ConnEnds()) == 3 }); err != nil {
		t.Fatal(err)
	}
	_ = dropped
	want := []slackfake.ConnEnd{{ID: ids[0].ID, ByClient: true, Clean: true}, {ID: ids[1].ID, ByClient: true}, {ID: ids[2].ID}}
	for i, e := range f.fake.ConnEnds() {
		e.Time = time.Time{}
		if e != want[i] {
			t.Errorf("end %d = %+v, want %+v", i, e, want[i])
		}
	}
}
