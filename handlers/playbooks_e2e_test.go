package handlers_test

// End-to-end tests of "/access playbooks": the real bot against
// bot/slackfake and a real store.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot"
	"github.com/accessbot/accessbot/bot/slackapi"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/flows/playbooks"
	"github.com/accessbot/accessbot/handlers"
	"github.com/accessbot/accessbot/handlers/views"
	"github.com/accessbot/accessbot/internal/secrets"
	"github.com/accessbot/accessbot/store/storetest"
)

func TestPlaybooksModal(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) { testPlaybooksModal(t, driver) })
	}
}

func testPlaybooksModal(t *testing.T, driver string) {
	fake := slackfake.New(slackfake.WithPingInterval(200*time.Millisecond), slackfake.WithTriggerTTL(0))
	t.Cleanup(fake.Close)
	team := fake.AddTeam(slackfake.Team{ID: "T1", Name: "Acme"})
	st := storetest.Open(t, driver)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	e := &rvEnv{t: t, ctx: ctx, fake: fake, st: st, team: team, users: map[string]*accessbot.User{}}
	e.tenant = &accessbot.Tenant{Slug: "acme", Name: "Acme Corp"}
	must(t, st.CreateTenant(ctx, e.tenant))
	for _, name := range []string{"ada", "mia"} {
		u := &accessbot.User{TenantID: e.tenant.ID, Email: name + "@acme.test", Name: name, Status: accessbot.UserActive, Role: accessbot.RoleMember}
		if name == "ada" {
			u.Role = accessbot.RoleAdmin
		}
		must(t, st.CreateUser(ctx, u))
		e.users[name] = u
		if _, err := fake.AddUser(slackfake.User{ID: rvSlack(name), TeamID: "T1", Name: name, RealName: name, Email: u.Email}); err != nil {
			t.Fatal(err)
		}
	}
	app := &accessbot.Application{TenantID: e.tenant.ID, Name: "GitLab", Connector: "manual"}
	must(t, st.CreateApplication(ctx, app))
	if _, err := bot.BindSingleWorkspace(ctx, st, secrets.Secret(team.BotToken), "acme",
		slackapi.Options{APIURL: fake.URL(), Guard: slackapi.Strict{}}); err != nil {
		t.Fatal(err)
	}
	keys, err := secrets.NewKeyring(secrets.Key{ID: "k1", Key: make([]byte, 32)})
	must(t, err)
	// Every log line at debug is kept: the token must be in none of them.
	logs := &lockedBuffer{}
	log := zerolog.New(io.MultiWriter(zerolog.NewTestWriter(t), logs)).Level(zerolog.DebugLevel)
	bapp, err := bot.NewApp(bot.AppConfig{
		Store: st, AppToken: secrets.Secret(fake.AppToken()), BotToken: secrets.Secret(team.BotToken),
		APIURL: fake.URL(), Connections: 1, PingInterval: 5 * time.Second,
		Pacing: &slackapi.Pacing{}, Guard: slackapi.Strict{}, Log: log,
		Register: func(r *bot.Router, id bot.Resolver) error {
			return handlers.Register(r, handlers.Deps{Identity: id, Playbooks: handlers.NewPlaybooks(st, keys, nil, log).WithResolver(pbDNS)})
		},
	})
	must(t, err)
	runApp(t, ctx, fake, bapp)

	// Non-admins are refused.
	if a := e.command("mia", "playbooks"); !strings.Contains(a.Text, "Only accessbot admins") {
		t.Fatalf("member's /access playbooks answered %q", a.Text)
	}
	e.command("ada", "playbooks")
	list := e.top("ada", views.CallbackPlaybooks, "No playbooks yet")
	fake.SendInteractive(fake.BlockActionInView(team.ID, rvSlack("ada"), list.ID,
		slackfake.Action{ActionID: views.ActionPlaybookNew, BlockID: views.BlockPlaybooksNew, Value: "new"}))
	e.top("ada", views.CallbackPlaybookForm, "New playbook")

	valuesNamed := func(name, url, token string) map[string]map[string]slackfake.StateValue {
		return map[string]map[string]slackfake.StateValue{
			views.BlockPBName:    {views.ActionPBName: slackfake.PlainTextValue(name)},
			views.BlockPBType:    {views.ActionPBType: slackfake.StaticSelectValue("request", "Request")},
			views.BlockPBApp:     {views.ActionPBApp: slackfake.StaticSelectValue(app.ID, "GitLab")},
			views.BlockPBURL:     {views.ActionPBURL: slackfake.PlainTextValue(url)},
			views.BlockPBToken:   {views.ActionPBToken: slackfake.PlainTextValue(token)},
			views.BlockPBOptions: {views.ActionPBOpts: slackfake.CheckboxesValue(slackfake.Choice{Value: views.PBOptActive, Text: "Active"})},
		}
	}
	values := func(url, token string) map[string]map[string]slackfake.StateValue {
		return valuesNamed("open-ticket", url, token)
	}
	// A private address, a name resolving to one, and plain http are refused inline.
	for url, want := range map[string]string{"https://10.0.0.5/hook": "non-public", "http://hooks.example.com/": "Only https",
		"https://intranet.example.com/hook": "The name intranet.example.com resolves to 10.9.8.7"} {
		a := e.ack(fake.SendInteractive(fake.ViewSubmission(team.ID, rvSlack("ada"), "", values(url, ""))))
		if a.ResponseAction != "errors" || !strings.Contains(a.Errors[views.BlockPBURL], want) {
			t.Fatalf("url %s: ack %+v; want an inline error with %q", url, a, want)
		}
	}
	const token = "tok-SECRET-in-slack-1"
	a := e.ack(fake.SendInteractive(fake.ViewSubmission(team.ID, rvSlack("ada"), "", values("https://hooks.example.com/accessbot", token))))
	if a.ResponseAction != "update" || !strings.Contains(string(a.View), "whsec_") || strings.Contains(string(a.View), token) {
		t.Fatalf("save ack %+v %s; want the signing secret once and never the token", a, a.View)
	}
	p, err := st.GetPlaybookByName(ctx, e.tenant.ID, "open-ticket")
	must(t, err)
	if p.AppID != app.ID || !p.Active || p.Type != accessbot.PlaybookRequest || p.Source != accessbot.SourceSlack || p.TokenSecret == "" {
		t.Fatalf("stored %+v", p)
	}
	tok, err := playbooks.GetSecret(ctx, st, keys, e.tenant.ID, p.TokenSecret)
	if err != nil || tok.Reveal() != token {
		t.Fatalf("token opens to %v, %v", tok, err)
	}
	// The same name again is refused inline.
	e.command("ada", "playbooks")
	list = e.top("ada", views.CallbackPlaybooks, "open-ticket")
	fake.SendInteractive(fake.BlockActionInView(team.ID, rvSlack("ada"), list.ID,
		slackfake.Action{ActionID: views.ActionPlaybookNew, BlockID: views.BlockPlaybooksNew, Value: "new"}))
	e.top("ada", views.CallbackPlaybookForm, "New playbook")
	if a := e.ack(fake.SendInteractive(fake.ViewSubmission(team.ID, rvSlack("ada"), "", values("https://hooks.example.com/x", "")))); a.ResponseAction != "errors" || !strings.Contains(a.Errors[views.BlockPBName], "Another playbook") {
		t.Fatalf("duplicate name ack %+v", a)
	}

	// Disable from the list: the modal redraws in place and the store follows.
	fake.SendInteractive(fake.BlockActionInView(team.ID, rvSlack("ada"), list.ID,
		slackfake.Action{ActionID: views.ActionPlaybookToggle, BlockID: views.BlockPlaybookActions + "." + p.ID, Value: p.ID}))
	// The list is under the form: it is redrawn where it is.
	if err := fake.WaitFor(ctx, func() bool {
		for _, v := range fake.OpenViews(rvSlack("ada")) {
			if v.ID == list.ID && strings.Contains(string(v.JSON), "Inactive") && strings.Contains(string(v.JSON), `"text":"Enable"`) {
				return true
			}
		}
		return false
	}); err != nil {
		t.Fatalf("the list was not redrawn with the playbook inactive: %v", err)
	}
	p, _ = st.GetPlaybook(ctx, e.tenant.ID, p.ID)
	if p.Active {
		t.Fatal("still active after Disable")
	}
	entries, _ := st.ListAudit(ctx, e.tenant.ID, p.ID)
	var actions []string
	for _, en := range entries {
		actions = append(actions, en.Action)
		if strings.Contains(string(en.After), token) {
			t.Fatal("token in the audit log")
		}
	}
	if strings.Join(actions, ",") != "playbook.created,playbook.disabled" {
		t.Fatalf("audit actions %v", actions)
	}
	// A member cannot toggle it, even with a forged click.
	fake.SendInteractive(fake.BlockActionInView(team.ID, rvSlack("mia"), list.ID,
		slackfake.Action{ActionID: views.ActionPlaybookToggle, BlockID: views.BlockPlaybookActions + "." + p.ID, Value: p.ID}))
	time.Sleep(300 * time.Millisecond)
	if p2, _ := st.GetPlaybook(ctx, e.tenant.ID, p.ID); p2.Active {
		t.Fatal("a member enabled the playbook")
	}

	// Edit: the form comes back filled in, without the token; saved with
	// the token left empty, the URL changes and the token is kept.
	fake.SendInteractive(fake.BlockActionInView(team.ID, rvSlack("ada"), list.ID,
		slackfake.Action{ActionID: views.ActionPlaybookEdit, BlockID: views.BlockPlaybookActions + "." + p.ID, Value: p.ID}))
	form := e.top("ada", views.CallbackPlaybookForm, "Edit playbook", "https://hooks.example.com/accessbot")
	if strings.Contains(string(form.JSON), token) {
		t.Fatal("the edit form shows the token")
	}
	if a := e.ack(fake.SendInteractive(fake.ViewSubmission(team.ID, rvSlack("ada"), form.ID, values("https://hooks.example.com/v2", "")))); a.ResponseAction != "update" {
		t.Fatalf("edit ack %+v", a)
	}
	p, err = st.GetPlaybook(ctx, e.tenant.ID, p.ID)
	must(t, err)
	if tok, err := playbooks.GetSecret(ctx, st, keys, e.tenant.ID, p.TokenSecret); p.URL != "https://hooks.example.com/v2" || err != nil || tok.Reveal() != token {
		t.Fatalf("after edit: %+v, token %v", p, err)
	}

	// A lost signing secret: Edit makes a new one, shown once, stored
	// encrypted; the old one no longer opens.
	oldSigning, err := playbooks.GetSecret(ctx, st, keys, e.tenant.ID, p.SigningSecret)
	must(t, err)
	e.command("ada", "playbooks") // a fresh list: Slack stacks at most three views
	list = e.top("ada", views.CallbackPlaybooks, "open-ticket")
	fake.SendInteractive(fake.BlockActionInView(team.ID, rvSlack("ada"), list.ID,
		slackfake.Action{ActionID: views.ActionPlaybookEdit, BlockID: views.BlockPlaybookActions + "." + p.ID, Value: p.ID}))
	form = e.top("ada", views.CallbackPlaybookForm, "Edit playbook", "Make a new signing secret")
	rotate := values("https://hooks.example.com/v2", "")
	rotate[views.BlockPBOptions] = map[string]slackfake.StateValue{views.ActionPBOpts: slackfake.CheckboxesValue(
		slackfake.Choice{Value: views.PBOptActive, Text: "Active"}, slackfake.Choice{Value: views.PBOptNewSigning, Text: "New"})}
	a = e.ack(fake.SendInteractive(fake.ViewSubmission(team.ID, rvSlack("ada"), form.ID, rotate)))
	newSigning, err := playbooks.GetSecret(ctx, st, keys, e.tenant.ID, p.SigningSecret)
	must(t, err)
	if a.ResponseAction != "update" || newSigning.Reveal() == oldSigning.Reveal() || !strings.Contains(string(a.View), newSigning.Reveal()) ||
		strings.Contains(string(a.View), oldSigning.Reveal()) {
		t.Fatalf("new signing secret: ack %+v; want the new secret shown once and stored", a)
	}

	// Non-admins are refused on the server for every action, not only when
	// opening the list: forged "New playbook" and "Edit" clicks and forged
	// form submissions (new and edit) change nothing.
	before, err := st.ListPlaybooks(ctx, e.tenant.ID)
	must(t, err)
	refusals := func() int {
		n := 0
		for _, m := range fake.AllMessages() {
			if ((m.Ephemeral && m.Recipient == rvSlack("mia")) || m.Channel == slackfake.DMChannel(rvSlack("mia"))) && strings.Contains(m.Text, "Only accessbot admins") {
				n++
			}
		}
		return n
	}
	for _, act := range []slackfake.Action{
		{ActionID: views.ActionPlaybookNew, BlockID: views.BlockPlaybooksNew, Value: "new"},
		{ActionID: views.ActionPlaybookEdit, BlockID: views.BlockPlaybookActions + "." + p.ID, Value: p.ID},
	} {
		opened, told := len(fake.Calls("views.push"))+len(fake.Calls("views.open")), refusals()
		e.ack(fake.SendInteractive(fake.BlockActionInView(team.ID, rvSlack("mia"), list.ID, act)))
		if err := fake.WaitFor(ctx, func() bool { return refusals() > told }); err != nil {
			t.Fatalf("%s by a member: no refusal", act.ActionID)
		}
		if n := len(fake.Calls("views.push")) + len(fake.Calls("views.open")); n != opened {
			t.Fatalf("%s by a member opened a view", act.ActionID)
		}
	}
	for _, meta := range []string{"", p.ID} {
		// Otherwise valid: a new name, a public https URL.
		sub := fake.ViewSubmission(team.ID, rvSlack("mia"), "", valuesNamed("mias-hook", "https://evil.example.com/", "tok-mia"))
		var v map[string]any
		must(t, json.Unmarshal(sub.View, &v))
		v["callback_id"], v["private_metadata"] = views.CallbackPlaybookForm, meta
		sub.View, err = json.Marshal(v)
		must(t, err)
		a := e.ack(fake.SendInteractive(sub))
		if a.ResponseAction != "errors" || !strings.Contains(a.Errors[views.BlockPBName], "Only accessbot admins") {
			t.Fatalf("member's forged submission (metadata %q): ack %+v", meta, a)
		}
	}
	after, err := st.ListPlaybooks(ctx, e.tenant.ID)
	must(t, err)
	if len(after) != len(before) || after[0].URL != before[0].URL || after[0].UpdatedAt != before[0].UpdatedAt {
		t.Fatalf("a member's forged actions changed the playbooks: %+v", after)
	}

	// The token was typed into Slack once (the form); it never comes back:
	// not in any Web API call the bot made, any ack it sent, or any log line.
	for _, c := range fake.Calls("") {
		if strings.Contains(c.Params.Encode(), token) || strings.Contains(string(c.JSON), token) {
			t.Fatalf("Slack call %s carries the token", c.Method)
		}
	}
	for _, a := range fake.Acks() {
		if strings.Contains(string(a.Payload), token) {
			t.Fatalf("an ack carries the token: %s", a.Payload)
		}
	}
	if strings.Contains(logs.String(), token) {
		t.Fatal("the token is in the logs")
	}
	if !strings.Contains(logs.String(), "playbook saved") {
		t.Fatalf("no log line of the saves: the grep above proves nothing:\n%s", logs.String())
	}
}

// pbDNS resolves the names the test saves: no real DNS in tests.
var pbDNS = pbResolver{"intranet.example.com": netip.MustParseAddr("10.9.8.7"), "hooks.example.com": netip.MustParseAddr("93.184.215.14")}

type pbResolver map[string]netip.Addr

func (r pbResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := r[host]; ok {
		return []netip.Addr{a}, nil
	}
	return nil, fmt.Errorf("lookup %s: no such host", host)
}

// lockedBuffer is a bytes.Buffer safe for the logger's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
