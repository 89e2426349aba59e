package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/flows/tenantfile"
	"github.com/accessbot/accessbot/handlers/views"
)

// pgClient drives a running playground over its JSON API.
type pgClient struct {
	t    *testing.T
	base string
}

// startPlayground runs `accessbot playground` in process on a free port
// with args (the built-in example tenant when they name no file) and
// returns a client once the banner names the URL. The command is stopped
// (and must exit cleanly) on cleanup.
func startPlayground(t *testing.T, args ...string) (*pgClient, *syncBuffer) {
	t.Helper()
	m, stdout, stderr := testMain(map[string]string{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- m.Run(ctx, append([]string{"playground", "--listen", "127.0.0.1:0"}, args...))
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("playground after cancel: %v\nlog:\n%s", err, stderr)
			}
		case <-time.After(30 * time.Second):
			t.Error("playground did not stop after cancel")
		}
	})
	open := regexp.MustCompile(`Open (http://127\.0\.0\.1:\d+)/`)
	// Start-up migrates and seeds a store under -race: generous, since
	// several playground tests start at once on a loaded CI machine.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if sm := open.FindStringSubmatch(stdout.String()); sm != nil {
			return &pgClient{t: t, base: sm[1]}, stdout
		}
		select {
		case err := <-done:
			t.Fatalf("playground exited before serving: %v\nlog:\n%s", err, stderr)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("playground printed no URL\nstdout:\n%s\nlog:\n%s", stdout, stderr)
		}
	}
}

// with is c for a subtest, whose failures it reports.
func (c *pgClient) with(t *testing.T) *pgClient { return &pgClient{t: t, base: c.base} }

// call sends method path with body (JSON) and decodes the answer into out.
func (c *pgClient) call(method, path string, body, out any) int {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			c.t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode
}

type pgAck struct {
	Ack   json.RawMessage `json:"ack"`
	Error string          `json:"error"`
}

// command sends a slash command as user and returns the ack's text.
func (c *pgClient) command(user, text string) string {
	c.t.Helper()
	var a pgAck
	if code := c.call("POST", "/api/command", map[string]string{"user": user, "text": text}, &a); code != 200 {
		c.t.Fatalf("command %q as %s: %d %s", text, user, code, a.Error)
	}
	var p struct {
		Text string `json:"text"`
	}
	if len(a.Ack) > 0 && string(a.Ack) != "null" {
		if err := json.Unmarshal(a.Ack, &p); err != nil {
			c.t.Fatalf("ack %s: %v", a.Ack, err)
		}
	}
	return p.Text
}

type pgView struct {
	ID   string `json:"id"`
	Hash string `json:"hash"`
	View struct {
		CallbackID string            `json:"callback_id"`
		Blocks     []json.RawMessage `json:"blocks"`
	} `json:"view"`
}

type pgMessage struct {
	Channel   string `json:"channel"`
	TS        string `json:"ts"`
	Text      string `json:"text"`
	Ephemeral bool   `json:"ephemeral"`
}

type pgState struct {
	Messages []pgMessage `json:"messages"`
	Channels []struct {
		ID       string      `json:"id"`
		Name     string      `json:"name"`
		Messages []pgMessage `json:"messages"`
	} `json:"channels"`
	Modal *pgView `json:"modal"`
	Home  *pgView `json:"home"`
}

// channel returns the messages of the channel called name.
func (s pgState) channel(name string) []pgMessage {
	for _, c := range s.Channels {
		if c.Name == name {
			return c.Messages
		}
	}
	return nil
}

// anyText reports whether a message's text contains want.
func anyText(ms []pgMessage, want string) bool {
	for _, m := range ms {
		if strings.Contains(m.Text, want) {
			return true
		}
	}
	return false
}

// waitState polls /api/state for user until cond holds (deadline 20 s).
func (c *pgClient) waitState(user string, what string, cond func(pgState) bool) pgState {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var st pgState
	for {
		st = pgState{}
		if code := c.call("GET", "/api/state?user="+user, nil, &st); code == 200 && cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("state of %s never showed %s; last %+v", user, what, st)
		}
		time.Sleep(25 * time.Millisecond) // polling a condition with a deadline
	}
}

// TestPlayground runs the playground from an empty directory, with the
// built-in example tenant and data (not parallel: it changes directory).
func TestPlayground(t *testing.T) {
	t.Chdir(t.TempDir())
	c, stdout := startPlayground(t)
	const (
		maya  = "UMAYACHEN"    // member, matched
		sofia = "USOFIAROSSI"  // member, matched
		james = "UJAMESOKAFOR" // Sofia's manager: reviews her GitLab access
		priya = "UPRIYANAIR"   // James's manager
		noah  = "UNOAHWILLIAM" // terminated in the tenant file
		guest = "UGUEST"       // email unknown to the tenant
	)
	for _, want := range []string{"Open http://127.0.0.1:", "UMAYACHEN", "maya.chen@acme.com", "UGUEST", "sam.visitor@acme.com", "/access request",
		"request Slack @oncall for 3 minutes"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("banner lacks %q:\n%s", want, stdout)
		}
	}

	t.Run("people", func(t *testing.T) {
		var p struct {
			Team   struct{ ID string } `json:"team"`
			Start  string              `json:"start"`
			People []struct {
				ID, Email, Note string
			} `json:"people"`
		}
		c.call("GET", "/api/people", nil, &p)
		f, _, err := loadPlaygroundTenant("")
		if err != nil {
			t.Fatal(err)
		}
		if p.Team.ID != f.Slack.TeamID || len(p.People) != len(f.Users)+1 || p.People[len(p.People)-1].ID != guest || p.Start != james {
			t.Fatalf("people = %+v", p)
		}
	})

	t.Run("help answered and shown in the DM", func(t *testing.T) {
		if got := c.command(maya, "/access help"); !strings.Contains(got, "/access help") {
			t.Fatalf("ack text %q", got)
		}
		c.waitState(maya, "the help message", func(s pgState) bool {
			return len(s.Messages) > 0 && strings.Contains(s.Messages[len(s.Messages)-1].Text, "/access help") && s.Messages[len(s.Messages)-1].Ephemeral
		})
		// Another user does not see Maya's ephemeral answer.
		st := c.waitState(sofia, "an empty DM", func(pgState) bool { return true })
		if len(st.Messages) != 0 {
			t.Fatalf("sofia sees %+v", st.Messages)
		}
	})

	t.Run("app home", func(t *testing.T) {
		var h struct {
			Home  json.RawMessage `json:"home"`
			Error string          `json:"error"`
		}
		if code := c.call("POST", "/api/home", map[string]string{"user": maya}, &h); code != 200 ||
			!strings.Contains(string(h.Home), "Acme Analytics") || !strings.Contains(string(h.Home), `"type":"home"`) {
			t.Fatalf("home = %d %s %s", code, h.Home, h.Error)
		}
		c.waitState(maya, "the home view", func(s pgState) bool { return s.Home != nil && s.Home.ID != "" })
	})

	t.Run("refusals name the email", func(t *testing.T) {
		if got := c.command(guest, "help"); !strings.Contains(got, "sam.visitor@acme.com") {
			t.Fatalf("guest ack %q, want the unmatched email named", got)
		}
		if got := c.command(noah, "mine"); !strings.Contains(got, "noah.williams@acme.com") {
			t.Fatalf("terminated ack %q, want the email named", got)
		}
	})

	t.Run("request modal", func(t *testing.T) {
		c.command(sofia, "/access request")
		st := c.waitState(sofia, "the request modal", func(s pgState) bool {
			return s.Modal != nil && s.Modal.View.CallbackID == views.CallbackRequestForm
		})
		form := st.Modal
		// Type-ahead: block_suggestion answered with the matching application.
		var sug struct {
			Options []struct {
				Text  struct{ Text string } `json:"text"`
				Value string                `json:"value"`
			} `json:"options"`
		}
		if code := c.call("POST", "/api/suggest", map[string]string{"user": sofia, "view_id": form.ID,
			"block_id": views.BlockReqApp, "action_id": views.ActionReqApp, "value": "git"}, &sug); code != 200 ||
			len(sug.Options) != 1 || sug.Options[0].Text.Text != "GitLab" {
			t.Fatalf("suggestions = %d %+v", code, sug)
		}
		// Choosing it is a dispatch_action: the form is redrawn with GitLab's entitlements.
		chosen := map[string]any{"type": "external_select", "selected_option": map[string]any{
			"text": map[string]any{"type": "plain_text", "text": "GitLab"}, "value": sug.Options[0].Value}}
		var a pgAck
		if code := c.call("POST", "/api/action", map[string]any{"user": sofia, "view_id": form.ID,
			"action": map[string]any{"action_id": views.ActionReqApp, "block_id": views.BlockReqApp, "type": "external_select",
				"selected_option": chosen["selected_option"]},
			"values": map[string]any{views.BlockReqApp: map[string]any{views.ActionReqApp: chosen}}}, &a); code != 200 {
			t.Fatalf("action = %d %s", code, a.Error)
		}
		c.waitState(sofia, "GitLab's entitlements", func(s pgState) bool {
			return s.Modal != nil && s.Modal.ID == form.ID && s.Modal.Hash != form.Hash &&
				strings.Contains(string(mustJSON(t, s.Modal.View.Blocks)), "platform-maintainers")
		})
		// Submitting without an entitlement or justification: errors inline, the modal stays.
		var sub struct {
			ResponseAction string            `json:"response_action"`
			Errors         map[string]string `json:"errors"`
		}
		if code := c.call("POST", "/api/submit", map[string]any{"user": sofia, "view_id": form.ID,
			"values": map[string]any{views.BlockReqApp: map[string]any{views.ActionReqApp: chosen}}}, &sub); code != 200 ||
			sub.ResponseAction != "errors" || len(sub.Errors) == 0 {
			t.Fatalf("submit = %d %+v", code, sub)
		}
		var closed map[string]any
		if code := c.call("POST", "/api/close", map[string]string{"user": sofia, "view_id": form.ID}, &closed); code != 200 {
			t.Fatalf("close = %d", code)
		}
		c.waitState(sofia, "no modal", func(s pgState) bool { return s.Modal == nil })
		if code := c.call("POST", "/api/submit", map[string]any{"user": sofia, "view_id": form.ID}, nil); code != 400 {
			t.Fatalf("submit of a closed view = %d, want 400", code)
		}
	})

	// The example's approvers' and routed channels are on the page, and
	// /access request typed in #it-help is routed: Slack preselected.
	t.Run("request in a routed channel", func(t *testing.T) {
		c := c.with(t)
		st := c.waitState(sofia, "the channels", func(s pgState) bool { return len(s.Channels) > 0 })
		names := map[string]string{}
		for _, ch := range st.Channels {
			names[ch.Name] = ch.ID
		}
		if names["it-help"] != "C0ITHELP" || names["aws-administrator-approvers"] != "C0SECAPPROVE" {
			t.Fatalf("channels on the page: %v", names)
		}
		var a pgAck
		if code := c.call("POST", "/api/command", map[string]string{"user": sofia, "text": "/access request", "channel": "C0NOPE"}, &a); code != 400 {
			t.Fatalf("a command in a channel not on the page = %d, want 400", code)
		}
		if code := c.call("POST", "/api/command", map[string]string{"user": sofia, "text": "/access request", "channel": "C0ITHELP"}, &a); code != 200 {
			t.Fatalf("command in #it-help = %d %s", code, a.Error)
		}
		st = c.waitState(sofia, "the routed request form", func(s pgState) bool {
			return s.Modal != nil && s.Modal.View.CallbackID == views.CallbackRequestForm
		})
		if b := string(mustJSON(t, st.Modal.View.Blocks)); !strings.Contains(b, views.BlockReqChannel) || !strings.Contains(b, "Slack") {
			t.Fatalf("the form in #it-help does not preselect the channel's applications: %s", b)
		}
		if code := c.call("POST", "/api/close", map[string]string{"user": sofia, "view_id": st.Modal.ID}, nil); code != 200 {
			t.Fatalf("close = %d", code)
		}
		c.waitState(sofia, "no modal", func(s pgState) bool { return s.Modal == nil })
	})

	t.Run("starts with a digest, alerts and a review", func(t *testing.T) {
		c := c.with(t)
		st := c.waitState(james, "the review DM and #access-alerts", func(s pgState) bool {
			return anyText(s.Messages, playgroundReviewName) && anyText(s.channel("access-alerts"), "Critical finding")
		})
		if !anyText(st.channel("access-alerts"), "Findings digest") {
			t.Fatalf("#access-alerts has no digest: %+v", st.channel("access-alerts"))
		}
		// The review has items (it used to close at once: nothing to review).
		if !anyText(st.Messages, "2 items for you") {
			t.Fatalf("James's review DM: %+v", st.Messages)
		}
		// Another person sees the same channel (alerts may still be arriving).
		c.waitState(maya, "the digest and alerts in the channel", func(s pgState) bool {
			return anyText(s.channel("access-alerts"), "Findings digest") && anyText(s.channel("access-alerts"), "Critical finding")
		})
	})

	t.Run("bad calls", func(t *testing.T) {
		var e struct{ Error string }
		if code := c.call("POST", "/api/command", map[string]string{"user": "UNOBODY", "text": "help"}, &e); code != 400 || !strings.Contains(e.Error, "UNOBODY") {
			t.Fatalf("unknown user = %d %q", code, e.Error)
		}
		if code := c.call("POST", "/api/command", map[string]string{"user": maya, "text": "/deploy now"}, &e); code != 400 || !strings.Contains(e.Error, "/access") {
			t.Fatalf("other command = %d %q", code, e.Error)
		}
		resp, err := http.Post(c.base+"/api/command", "text/plain", strings.NewReader(`{"user":"UMAYACHEN"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnsupportedMediaType {
			t.Fatalf("text/plain post = %d, want 415", resp.StatusCode)
		}
	})

	t.Run("page", func(t *testing.T) {
		resp, err := http.Get(c.base + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), "/static/app.js") ||
			!strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'self'") {
			t.Fatalf("GET / = %d %s", resp.StatusCode, resp.Header)
		}
	})

	// Last: it moves the bot's clock.
	t.Run("clock and run now", func(t *testing.T) {
		c := c.with(t)
		var clk struct {
			Now   time.Time
			Jobs  []struct{ Name string }
			Error string
		}
		c.call("GET", "/api/clock", nil, &clk)
		start := clk.Now
		if time.Since(start).Abs() > time.Minute || len(clk.Jobs) != 2 {
			t.Fatalf("clock = %+v", clk)
		}
		before := len(c.waitState(maya, "the channel", func(pgState) bool { return true }).channel("access-alerts"))
		if code := c.call("POST", "/api/run", map[string]string{"job": "findings_digest"}, &clk); code != 200 {
			t.Fatalf("run the digest = %d %s", code, clk.Error)
		}
		c.waitState(maya, "a second digest", func(s pgState) bool { return len(s.channel("access-alerts")) > before })
		// 17 days on, the review (due in 14) is overdue: James is reminded
		// and, past the 2-day grace, escalated to his manager Priya.
		if code := c.call("POST", "/api/clock", map[string]string{"advance": "408h"}, &clk); code != 200 || clk.Now.Sub(start) < 408*time.Hour {
			t.Fatalf("advance = %d %+v", code, clk)
		}
		if code := c.call("POST", "/api/run", map[string]string{"job": "review_reminders"}, &clk); code != 200 {
			t.Fatalf("send reminders = %d %s", code, clk.Error)
		}
		c.waitState(james, "a reminder", func(s pgState) bool { return anyText(s.Messages, "Reminder: access review") })
		c.waitState(priya, "an escalation about James", func(s pgState) bool { return anyText(s.Messages, "James Okafor") })
	})
}

// TestPlaygroundTenantFile: --tenant-file replaces the built-in tenant,
// whose example data is then not imported.
func TestPlaygroundTenantFile(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "tenant.yaml")
	if err := os.WriteFile(file, []byte(`version: 1
tenant: {slug: tiny, name: Tiny Co}
users:
  - {email: ada@tiny.test, name: Ada Admin, role: admin}
alerts:
  channels: [C0TINY]
`), 0o600); err != nil {
		t.Fatal(err)
	}
	c, stdout := startPlayground(t, "--tenant-file", file)
	var p struct {
		People []struct{ ID string } `json:"people"`
	}
	c.call("GET", "/api/people", nil, &p)
	if len(p.People) != 2 || p.People[0].ID != "UADA" || strings.Contains(stdout.String(), "example tenant is loaded") {
		t.Fatalf("people = %+v\n%s", p, stdout)
	}
	// The first digest still runs: nothing to report, so all clear.
	st := c.waitState("UADA", "the all-clear digest", func(s pgState) bool { return len(s.channel("access-alerts")) > 0 })
	if ms := st.channel("access-alerts"); len(ms) != 1 || strings.Contains(ms[0].Text, "new (") {
		t.Fatalf("#access-alerts = %+v", ms)
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

func TestPlaygroundPeopleIDs(t *testing.T) {
	fake := slackfake.New()
	t.Cleanup(fake.Close)
	fake.AddTeam(slackfake.Team{ID: "T1"})
	people, err := addPlaygroundPeople(fake, "T1", []tenantfile.User{
		{Email: "ana.lee@a.test", Name: "Ana", Role: accessbot.RoleAdmin},
		{Email: "ana.lee@b.test", Name: "Ana B"},
		{Email: "x+very.long.local.part@b.test", Name: "X", Status: accessbot.UserTerminated},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ id, note string }{
		{"UANALEE", "admin"}, {"UANALEE2", ""}, {"UXVERYLONGLO", "terminated: refused"}, {playgroundGuestID, "not in the tenant file: refused"},
	}
	if len(people) != len(want) {
		t.Fatalf("people = %+v", people)
	}
	for i, w := range want {
		if people[i].ID != w.id || people[i].Note != w.note {
			t.Errorf("person %d = %+v, want id %s note %q", i, people[i], w.id, w.note)
		}
		if u, ok := fake.User(w.id); !ok || u.Email != people[i].Email {
			t.Errorf("fake user %s = %+v, %v", w.id, u, ok)
		}
	}
	if people[3].Email != "sam.visitor@b.test" {
		t.Errorf("guest email %q", people[3].Email)
	}
}
