package playground_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/playground"
)

// fixture is a playground over a fake with no bot connected: what the bot
// would post is posted through the Web API by the test itself.
type fixture struct {
	fake *slackfake.Server
	api  *slack.Client
	srv  *httptest.Server
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	fake := slackfake.New()
	t.Cleanup(fake.Close)
	team := fake.AddTeam(slackfake.Team{ID: "T1", Name: "Acme"})
	for _, u := range []slackfake.User{{ID: "UADA", TeamID: "T1", Email: "ada@acme.test"}, {ID: "UBOB", TeamID: "T1", Email: "bob@acme.test"}} {
		if _, err := fake.AddUser(u); err != nil {
			t.Fatal(err)
		}
	}
	pg, err := playground.New(playground.Config{Fake: fake, TeamID: "T1", TeamName: "Acme",
		People:     []playground.Person{{ID: "UADA", Name: "Ada"}, {ID: "UBOB", Name: "Bob"}},
		Channels:   []playground.Channel{{ID: "CALERTS", Name: "access-alerts"}},
		AckTimeout: 200 * time.Millisecond, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{fake: fake, api: slack.New(team.BotToken, slack.OptionAPIURL(fake.URL())), srv: newServer(t, pg)}
}

func newServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func (f *fixture) post(t *testing.T, path, contentType, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(f.srv.URL+path, contentType, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestNewRefusesBadConfig(t *testing.T) {
	fake := slackfake.New()
	t.Cleanup(fake.Close)
	fake.AddTeam(slackfake.Team{ID: "T1"})
	if _, err := fake.AddUser(slackfake.User{ID: "UADA", TeamID: "T1"}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		cfg  playground.Config
		want string
	}{
		{"no fake", playground.Config{TeamID: "T1", People: []playground.Person{{ID: "U1"}}}, "fake Slack"},
		{"no people", playground.Config{Fake: fake, TeamID: "T1"}, "no people"},
		{"unknown person", playground.Config{Fake: fake, TeamID: "T1", People: []playground.Person{{ID: "UNOPE"}}}, "UNOPE"},
		{"unknown start", playground.Config{Fake: fake, TeamID: "T1", People: []playground.Person{{ID: "UADA"}}, Start: "UBOB"}, "start person UBOB"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := playground.New(c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("New = %v, want an error naming %q", err, c.want)
			}
		})
	}
}

func TestStateShowsOnlyWhatTheUserSees(t *testing.T) {
	f := newFixture(t)
	if _, _, err := f.api.PostMessage("UADA", slack.MsgOptionText("<script>alert(1)</script> *hi*", false)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.api.PostEphemeral(slackfake.DMChannel("UADA"), "UBOB", slack.MsgOptionText("for bob only", false)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(f.srv.URL + "/api/state?user=UADA")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st playground.State
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	if len(st.Messages) != 1 || st.Messages[0].Text != "<script>alert(1)</script> *hi*" || st.Modal != nil || st.Home != nil {
		t.Fatalf("state = %+v", st)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("content type %q: text must reach the page as JSON data, never as HTML", ct)
	}
}

func TestStateShowsChannels(t *testing.T) {
	f := newFixture(t)
	if _, _, err := f.api.PostMessage("CALERTS", slack.MsgOptionText("Findings digest: 2 new", false)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.api.PostMessage("COTHER", slack.MsgOptionText("not shown", false)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.api.PostEphemeral("CALERTS", "UBOB", slack.MsgOptionText("for bob only", false)); err != nil {
		t.Fatal(err)
	}
	var st playground.State
	getJSON(t, f.srv.URL+"/api/state?user=UADA", &st)
	if len(st.Channels) != 1 || st.Channels[0].Name != "access-alerts" || len(st.Channels[0].Messages) != 1 ||
		st.Channels[0].Messages[0].Text != "Findings digest: 2 new" || len(st.Messages) != 0 {
		t.Fatalf("state = %+v", st)
	}
	// A button in a channel message can be clicked by anyone in the channel.
	ts := st.Channels[0].Messages[0].TS
	code, body := f.post(t, "/api/action", "application/json", `{"user":"UADA","channel":"CALERTS","ts":"`+ts+`","action":{"action_id":"ack"}}`)
	if code != 504 || !strings.Contains(body, "did not answer") { // sent: no bot in this fixture acks it
		t.Fatalf("action in channel = %d %s", code, body)
	}
}

func getJSON(t *testing.T, url string, out any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s = %d %s", url, resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatal(err)
	}
}

func TestAPIRefusals(t *testing.T) {
	f := newFixture(t)
	v, err := f.api.OpenView(f.fake.NewTriggerID("T1", "UBOB"), slack.ModalViewRequest{Type: slack.VTModal,
		Title: slack.NewTextBlockObject("plain_text", "Bob's", false, false)})
	if err != nil {
		t.Fatal(err)
	}
	_, bobTS, err := f.api.PostMessage("UBOB", slack.MsgOptionText("Bob's DM", false))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, path, ctype, body string
		code                    int
		want                    string
	}{
		{"not JSON", "/api/command", "text/plain", `{"user":"UADA","text":"help"}`, 415, "application/json"},
		{"bad JSON", "/api/command", "application/json", `{"user":`, 400, "bad JSON"},
		{"unknown user", "/api/command", "application/json", `{"user":"UX","text":"help"}`, 400, `unknown user \"UX\"`},
		{"another command", "/api/command", "application/json", `{"user":"UADA","text":"/giphy cat"}`, 400, "only /access"},
		{"no bot answers", "/api/command", "application/json", `{"user":"UADA","text":"/access help"}`, 504, "did not answer"},
		{"someone else's view", "/api/action", "application/json",
			`{"user":"UADA","view_id":"` + v.ID + `","action":{"action_id":"x"}}`, 400, "not open for UADA"},
		{"suggest in someone else's view", "/api/suggest", "application/json",
			`{"user":"UADA","view_id":"` + v.ID + `","action_id":"x","value":"a"}`, 400, "not open for UADA"},
		{"action without id", "/api/action", "application/json", `{"user":"UADA","view_id":"V1","action":{}}`, 400, "action_id"},
		{"action on someone else's DM", "/api/action", "application/json",
			`{"user":"UADA","channel":"DUBOB","ts":"` + bobTS + `","action":{"action_id":"x"}}`, 400, "no message"},
		{"clock without controls", "/api/clock", "application/json", `{"advance":"1h"}`, 404, "no clock controls"},
		{"action on an unknown message", "/api/action", "application/json",
			`{"user":"UADA","channel":"DUADA","ts":"1.000001","action":{"action_id":"x"}}`, 400, "no message"},
		{"submit a view not open", "/api/submit", "application/json", `{"user":"UADA","view_id":"` + v.ID + `"}`, 400, "not open"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := f.post(t, c.path, c.ctype, c.body)
			if code != c.code || !strings.Contains(body, c.want) {
				t.Fatalf("%s = %d %s, want %d with %q", c.path, code, body, c.code, c.want)
			}
		})
	}
}

func TestCloseNotifiesOnlyWhenAsked(t *testing.T) {
	f := newFixture(t)
	for _, notify := range []bool{false, true} {
		v, err := f.api.OpenView(f.fake.NewTriggerID("T1", "UADA"), slack.ModalViewRequest{Type: slack.VTModal,
			Title: slack.NewTextBlockObject("plain_text", "Form", false, false), NotifyOnClose: notify})
		if err != nil {
			t.Fatal(err)
		}
		if code, body := f.post(t, "/api/close", "application/json", `{"user":"UADA","view_id":"`+v.ID+`"}`); code != 200 {
			t.Fatalf("close = %d %s", code, body)
		}
		if n := len(f.fake.OpenViews("UADA")); n != 0 {
			t.Fatalf("%d views still open", n)
		}
		sent := 0
		for _, d := range f.fake.Deliveries() {
			if strings.Contains(string(d.Envelope.Payload), `"view_closed"`) {
				sent++
			}
		}
		if notify && f.fake.Queued() != 1 || !notify && f.fake.Queued() != 0 || sent != 0 {
			t.Fatalf("notify_on_close=%v: queued %d, delivered %d view_closed", notify, f.fake.Queued(), sent)
		}
	}
}

func TestPageServed(t *testing.T) {
	f := newFixture(t)
	for _, p := range []struct{ path, want string }{
		{"/", "/static/app.js"}, {"/", `rel="icon"`}, {"/static/app.js", "textContent"}, {"/static/app.css", ".modal"},
		{"/static/favicon.svg", "<svg"},
	} {
		resp, err := http.Get(f.srv.URL + p.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), p.want) ||
			!strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'self'") {
			t.Fatalf("GET %s = %d, CSP %q", p.path, resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
		}
	}
}
