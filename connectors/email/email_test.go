package email_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot/connectors/email"
	"github.com/accessbot/accessbot/connectors/email/smtpfake"
	"github.com/accessbot/accessbot/internal/secrets"
)

const (
	user     = "accessbot@example.com"
	password = "s3cret-smtp-Pa55"
)

func startFake(t *testing.T, o smtpfake.Options) *smtpfake.Server {
	t.Helper()
	s, err := smtpfake.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

var note = email.Notification{
	ID:      "flow-7.step-2",
	To:      []string{"alice@example.com", "bob@example.com"},
	Subject: "Access to grafana granted",
	Text:    "Alice now has Editor on grafana until 5 Dec.",
	HTML:    "<p>Alice now has <b>Editor</b> on grafana until 5 Dec.</p>",
}

func TestDeliveryOverStartTLSWithAuth(t *testing.T) {
	t.Parallel()
	fake := startFake(t, smtpfake.Options{StartTLS: true, Username: user, Password: password})
	c, err := email.New(email.Config{
		Host: fake.Host(), Port: fake.Port(), Username: user, Password: password,
		From: "accessbot <" + user + ">", RootCAs: fake.RootCAs(), Timeout: 5 * time.Second,
	}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Notify(ctx(t), note); err != nil {
		t.Fatal(err)
	}
	msgs := fake.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages; want 1", len(msgs))
	}
	m := msgs[0]
	if !m.TLS || m.AuthUser != user || m.From != user || strings.Join(m.To, ",") != "alice@example.com,bob@example.com" {
		t.Fatalf("envelope: tls=%v auth=%q from=%q to=%v", m.TLS, m.AuthUser, m.From, m.To)
	}
	p, err := m.Parse()
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Header.Get("Subject"); got != note.Subject {
		t.Fatalf("Subject %q", got)
	}
	if got := p.Header.Get("Message-Id"); got != "<flow-7.step-2@accessbot>" {
		t.Fatalf("Message-ID %q", got)
	}
	if strings.TrimSpace(p.Text) != note.Text || strings.TrimSpace(p.HTML) != note.HTML {
		t.Fatalf("text %q\nhtml %q", p.Text, p.HTML)
	}
}

func TestAuthFailureIsClearAndHidesPassword(t *testing.T) {
	t.Parallel()
	fake := startFake(t, smtpfake.Options{StartTLS: true, Username: user, Password: "the-right-one"})
	var logs bytes.Buffer
	c, err := email.New(email.Config{
		Host: fake.Host(), Port: fake.Port(), Username: user, Password: secrets.Secret(password),
		From: user, RootCAs: fake.RootCAs(), Timeout: 5 * time.Second,
	}, zerolog.New(&logs))
	if err != nil {
		t.Fatal(err)
	}
	err = c.Notify(ctx(t), note)
	if !errors.Is(err, email.ErrAuth) {
		t.Fatalf("err = %v; want email.ErrAuth", err)
	}
	t.Logf("auth failure reads: %v", err)
	if fake.AuthFailures() != 1 || len(fake.Messages()) != 0 {
		t.Fatalf("auth failures %d, messages %d; want 1, 0", fake.AuthFailures(), len(fake.Messages()))
	}
	plain := base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + password))
	for what, s := range map[string]string{"error": err.Error(), "error %+v": fmt.Sprintf("%+v", err), "logs": logs.String()} {
		if strings.Contains(s, password) || strings.Contains(s, plain) {
			t.Errorf("%s contains the password: %s", what, s)
		}
	}
	if !strings.Contains(err.Error(), user) || !strings.Contains(err.Error(), "535") {
		t.Errorf("error should name the user and the server's answer: %v", err)
	}
}

func TestTLSRequiredButNotOffered(t *testing.T) {
	t.Parallel()
	// The server would even take AUTH in clear text; we must not get that far.
	fake := startFake(t, smtpfake.Options{Username: user, Password: password, AllowInsecureAuth: true})
	c, err := email.New(email.Config{Host: fake.Host(), Port: fake.Port(), Username: user, Password: password, From: user, Timeout: 5 * time.Second}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	err = c.Notify(ctx(t), note)
	if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("err = %v; want a refusal naming STARTTLS", err)
	}
	t.Logf("no STARTTLS reads: %v", err)
	if fake.AuthFailures() != 0 || len(fake.Messages()) != 0 {
		t.Fatalf("auth attempts %d, messages %d: nothing should have been tried", fake.AuthFailures(), len(fake.Messages()))
	}
}

func TestUntrustedCertificateIsRefused(t *testing.T) {
	t.Parallel()
	fake := startFake(t, smtpfake.Options{StartTLS: true})
	c, err := email.New(email.Config{Host: fake.Host(), Port: fake.Port(), From: user, Timeout: 5 * time.Second}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Notify(ctx(t), note); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("err = %v; want a certificate error", err)
	}
	if len(fake.Messages()) != 0 {
		t.Fatal("message delivered over an unverified connection")
	}
}

func TestPlainRelayWithoutTLS(t *testing.T) {
	t.Parallel()
	fake := startFake(t, smtpfake.Options{})
	c, err := email.New(email.Config{Host: fake.Host(), Port: fake.Port(), TLS: email.NoTLS, From: user}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Notify(ctx(t), email.Notification{To: []string{"a@example.com"}, Subject: "s", Text: "only text"}); err != nil {
		t.Fatal(err)
	}
	msgs := fake.Messages()
	if len(msgs) != 1 || msgs[0].TLS {
		t.Fatalf("messages %+v", msgs)
	}
	p, err := msgs[0].Parse()
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(p.Text) != "only text" || p.HTML != "" {
		t.Fatalf("text %q html %q", p.Text, p.HTML)
	}
}

func TestConfigAndInputErrors(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]email.Config{
		"no host":       {From: user},
		"bad tls":       {Host: "smtp.example.com", TLS: "ssl3", From: user},
		"auth in clear": {Host: "smtp.example.com", TLS: email.NoTLS, Username: user, Password: password, From: user},
		"bad from":      {Host: "smtp.example.com", From: "not an address"},
	} {
		if _, err := email.New(cfg, zerolog.Nop()); err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), password) {
			t.Errorf("%s: error shows the password: %v", name, err)
		}
	}
	c, err := email.New(email.Config{Host: "smtp.example.com", From: user}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	for name, n := range map[string]email.Notification{
		"no recipients": {Subject: "s", Text: "t"},
		"no text":       {To: []string{"a@example.com"}, Subject: "s"},
		"bad recipient": {To: []string{"not an address"}, Subject: "s", Text: "t"},
		"bad id":        {ID: "a b", To: []string{"a@example.com"}, Subject: "s", Text: "t"},
	} {
		if err := c.Notify(ctx(t), n); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestDeliveryOverImplicitTLS(t *testing.T) {
	t.Parallel()
	fake := startFake(t, smtpfake.Options{ImplicitTLS: true, Username: user, Password: password})
	c, err := email.New(email.Config{
		Host: fake.Host(), Port: fake.Port(), TLS: email.ImplicitTLS, Username: user, Password: password,
		From: user, RootCAs: fake.RootCAs(), Timeout: 5 * time.Second,
	}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Notify(ctx(t), note); err != nil {
		t.Fatal(err)
	}
	if msgs := fake.Messages(); len(msgs) != 1 || !msgs[0].TLS || msgs[0].AuthUser != user {
		t.Fatalf("messages %+v", msgs)
	}
	// The same server spoken to with STARTTLS (clear text first) fails, and sends nothing.
	c2, _ := email.New(email.Config{Host: fake.Host(), Port: fake.Port(), From: user, RootCAs: fake.RootCAs(), Timeout: 2 * time.Second}, zerolog.Nop())
	if err := c2.Notify(ctx(t), note); err == nil {
		t.Fatal("STARTTLS client against an implicit-TLS server succeeded")
	}
	if len(fake.Messages()) != 1 {
		t.Fatal("a second message arrived")
	}
}
