package runners

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/connectors/email/smtpfake"
	"github.com/accessbot/accessbot/connectors/outbound"
	"github.com/accessbot/accessbot/flows/provision"
)

const testSMTPPassword = "smtp-TOPSECRET-pass"

func emailEnv(t *testing.T, allow bool) (*env, *smtpfake.Server) {
	t.Helper()
	srv, err := smtpfake.Start(smtpfake.Options{StartTLS: true, Username: "accessbot", Password: testSMTPPassword})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	e := newEnv(t, outbound.Options{})
	e.connector("mail", "email", map[string]string{"host": srv.Host(), "port": itoa(srv.Port()), "from": "accessbot <accessbot@example.com>", "username": "accessbot"},
		map[string]string{"password": testSMTPPassword})
	if allow {
		e.allow("127.0.0.1")
	}
	return e, srv
}

func itoa(n int) string { return strconv.Itoa(n) }

func (e *env) user(email string) *accessbot.User {
	e.t.Helper()
	u := &accessbot.User{TenantID: e.tenant.ID, Email: email, Name: email, Status: accessbot.UserActive, Role: accessbot.RoleMember}
	if err := e.st.CreateUser(context.Background(), u); err != nil {
		e.t.Fatal(err)
	}
	return u
}

func TestEmailNotification(t *testing.T) {
	t.Parallel()
	e, srv := emailEnv(t, true)
	r := NewEmail(e.cat, e.st, nil, e.log)
	r.RootCAs = srv.RootCAs()
	s := e.step("email_notification", 0, map[string]string{"subject": "Access granted", "text": "Ada now has Editor on grafana."})
	s.Fields.Target.Email = "ada@example.com"
	res, err := r.Run(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	if res.Note != "email sent to ada@example.com" {
		t.Fatalf("result %+v", res)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 || !msgs[0].TLS || msgs[0].AuthUser != "accessbot" || msgs[0].To[0] != "ada@example.com" {
		t.Fatalf("messages %+v", msgs)
	}
	p, err := msgs[0].Parse()
	if err != nil || !strings.Contains(p.Text, "Ada now has Editor") || p.Header.Get("Subject") != "Access granted" {
		t.Fatalf("parsed %+v, %v", p, err)
	}
}

// TestEmailSMTPAddressRules: the SMTP host is dialled under the same
// address rules as webhooks: 127.0.0.1 is refused unless allow-listed.
func TestEmailSMTPAddressRules(t *testing.T) {
	t.Parallel()
	e, srv := emailEnv(t, false)
	r := NewEmail(e.cat, e.st, nil, e.log)
	r.RootCAs = srv.RootCAs()
	_, err := r.Run(context.Background(), e.step("email_notification", 0, map[string]string{"to": "a@example.com", "subject": "s", "text": "t"}))
	if !errors.Is(err, outbound.ErrBlocked) || !provision.IsPermanent(err) {
		t.Fatalf("err = %v: want a permanent refusal of 127.0.0.1", err)
	}
	if len(srv.Messages()) != 0 {
		t.Fatal("a message went out")
	}
	e.noSecret(err)
}

func TestEmailWrongPasswordIsPermanent(t *testing.T) {
	t.Parallel()
	e, srv := emailEnv(t, true)
	e.connector("mail", "email", map[string]string{"host": srv.Host(), "port": itoa(srv.Port()), "from": "a@example.com", "username": "accessbot"},
		map[string]string{"password": "WRONG-smtp-password"})
	r := NewEmail(e.cat, e.st, nil, e.log)
	r.RootCAs = srv.RootCAs()
	_, err := r.Run(context.Background(), e.step("email_notification", 0, map[string]string{"to": "a@example.com", "subject": "s", "text": "t"}))
	if !provision.IsPermanent(err) {
		t.Fatalf("err = %v", err)
	}
	e.noSecret(err)
}

// fakeResolver answers each step once, for the actors allowed.
type fakeResolver struct {
	mu       sync.Mutex
	allowed  map[string]bool
	answered map[string]provision.Outcome
	calls    int
}

func (f *fakeResolver) Resolve(_ context.Context, tenantID, flowID string, index int, actorID string, o provision.Outcome, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if !f.allowed[actorID] {
		return provision.ErrForbidden
	}
	key := tenantID + "/" + flowID + "/" + itoa(index)
	if _, ok := f.answered[key]; ok {
		return provision.ErrAlreadyAnswered
	}
	f.answered[key] = o
	return nil
}

var linkRE = regexp.MustCompile(`(?m)^(Approve|Deny): (\S+)`)

// TestEmailApprovalLinks: the email carries signed Approve and Deny links;
// GET only shows a button, POST answers once through the Resolver; a used,
// expired or tampered link gets its own page.
func TestEmailApprovalLinks(t *testing.T) {
	t.Parallel()
	e, srv := emailEnv(t, true)
	approver := e.user("carol@example.com")
	now := time.Now()
	clock := func() time.Time { return now }
	var base string
	links := NewLinks(e.keys, "https://accessbot.example.com/", clock)
	res := &fakeResolver{allowed: map[string]bool{approver.ID: true}, answered: map[string]provision.Outcome{}}
	mux := http.NewServeMux()
	NewLinkHandler(links, res, e.st, e.log).Mount(mux)
	web := httptest.NewServer(mux)
	t.Cleanup(web.Close)
	base = web.URL

	r := NewEmail(e.cat, e.st, links, e.log)
	r.RootCAs = srv.RootCAs()
	out, err := r.Run(context.Background(), e.step("email_approval", 2, map[string]string{"approver": "carol@example.com", "subject": "Approve ada on grafana?", "text": "Ada asks for Editor."}))
	if err != nil {
		t.Fatal(err)
	}
	if !out.Wait {
		t.Fatalf("result %+v: an approval step waits", out)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 || msgs[0].To[0] != "carol@example.com" {
		t.Fatalf("messages %+v", msgs)
	}
	p, _ := msgs[0].Parse()
	found := map[string]string{}
	for _, m := range linkRE.FindAllStringSubmatch(p.Text, -1) {
		found[m[1]] = strings.Replace(m[2], "https://accessbot.example.com", base, 1)
	}
	if found["Approve"] == "" || found["Deny"] == "" || !strings.Contains(p.HTML, `>Approve</a>`) {
		t.Fatalf("no links in:\n%s", p.Text)
	}

	get := func(u string) (int, string) {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	post := func(u string) (int, string) {
		resp, err := http.Post(u, "application/x-www-form-urlencoded", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(found["Approve"]); code != 200 || !strings.Contains(body, `<form method="post">`) || res.calls != 0 {
		t.Fatalf("GET: %d, %d resolver calls\n%s", code, res.calls, body)
	}
	tampered := found["Approve"][:len(found["Approve"])-3] + "abc"
	if code, body := post(tampered); code != http.StatusBadRequest || !strings.Contains(body, "This link is not valid") {
		t.Fatalf("tampered: %d\n%s", code, body)
	}
	if code, body := post(found["Approve"]); code != 200 || !strings.Contains(body, "You approved the request") {
		t.Fatalf("approve: %d\n%s", code, body)
	}
	if got := res.answered[e.tenant.ID+"/flow-1/2"]; got != provision.OutcomeDone {
		t.Fatalf("resolver got %q", got)
	}
	for _, u := range []string{found["Approve"], found["Deny"]} {
		if code, body := post(u); code != http.StatusConflict || !strings.Contains(body, "Already answered") {
			t.Fatalf("second use: %d\n%s", code, body)
		}
	}
	now = now.Add(DefaultLinkValidity + time.Minute)
	if code, body := post(found["Deny"]); code != http.StatusGone || !strings.Contains(body, "expired") {
		t.Fatalf("expired: %d\n%s", code, body)
	}
	// A link for someone the resolver refuses.
	now = time.Now()
	other := e.user("mallory@example.com")
	u, _ := links.URL(Link{TenantID: e.tenant.ID, FlowID: "flow-2", Index: 0, UserID: other.ID, Outcome: provision.OutcomeDone}, time.Hour)
	if code, body := post(strings.Replace(u, "https://accessbot.example.com", base, 1)); code != http.StatusForbidden || !strings.Contains(body, "You may not answer this") {
		t.Fatalf("not the approver: %d\n%s", code, body)
	}
}
