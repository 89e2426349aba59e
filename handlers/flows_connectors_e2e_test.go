package handlers_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"database/sql"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/connectors/catalog"
	"github.com/accessbot/accessbot/connectors/email/smtpfake"
	"github.com/accessbot/accessbot/connectors/gitlab/gitlabfake"
	"github.com/accessbot/accessbot/connectors/outbound"
	"github.com/accessbot/accessbot/connectors/runners"
	"github.com/accessbot/accessbot/connectors/webhook/webhookfake"
	"github.com/accessbot/accessbot/flows/provision"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/handlers"
	"github.com/accessbot/accessbot/handlers/views"
	"github.com/accessbot/accessbot/internal/secrets"
	"github.com/accessbot/accessbot/jobs"
	"github.com/accessbot/accessbot/store"
)

// TestE2EChainAgainstFakeServersInThread: a request approved in Slack runs
// its chain through the real connectors — a signed webhook to a fake
// receiver, a GitLab issue and a comment on it at a fake GitLab, an email
// through an SMTP server started here — and the requester follows every
// step's result in the one flow message of the request's thread. The
// connector secrets are sealed in the store and show nowhere: not in Slack,
// not in the log.
func TestE2EChainAgainstFakeServersInThread(t *testing.T) {
	const (
		bearer  = "hook-TOPSECRET-bearer"
		glToken = "glpat-TOPSECRET-token"
		smtpPW  = "smtp-TOPSECRET-pass"
	)
	hook, err := webhookfake.NewServer(webhookfake.Options{Bearer: bearer}, false)
	rqMust(t, err)
	t.Cleanup(hook.Close)
	gl := gitlabfake.Start(glToken)
	t.Cleanup(gl.Close)
	pid := gl.AddProject("it/access")
	roots := x509.NewCertPool()
	roots.AddCert(gl.HTTPServer().Certificate())
	mail, err := smtpfake.Start(smtpfake.Options{StartTLS: true, Username: "accessbot", Password: smtpPW})
	rqMust(t, err)
	t.Cleanup(func() { _ = mail.Close() })

	keys, err := secrets.NewKeyring(secrets.Key{ID: "k1", Key: bytes.Repeat([]byte{9}, secrets.KeySize)})
	rqMust(t, err)
	var logs syncLog
	log := zerolog.New(&logs)
	e := startRequests(t, "sqlite", requests.Policy{}, func(st store.Store, n *handlers.Notifier) requests.Provisioner {
		eng := provision.New(provision.Config{Store: st, StepAttempts: 3, Backoff: func(int) time.Duration { return 20 * time.Millisecond },
			Log: log, Clock: time.Now})
		eng.Register(provision.KindManual, n.Fulfilment())
		eng.SetNotifier(n.Flows())
		cat := catalog.NewLoader(st, keys, outbound.Options{RootCAs: roots, DialTimeout: time.Second})
		mailer := runners.NewEmail(cat, st, runners.NewLinks(keys, "https://accessbot.example.com", nil), log)
		mailer.RootCAs = mail.RootCAs()
		runners.Register(eng, runners.NewWebhook(cat, log), runners.NewGitLab(cat, log), mailer)
		workers := river.NewWorkers()
		eng.AddWorkers(workers)
		q, err := jobs.New(jobs.Config{Driver: "sqlite", DB: st.(interface{ DB() *sql.DB }).DB(), Workers: workers,
			PollInterval: 20 * time.Millisecond, Log: zerolog.Nop()})
		rqMust(t, err)
		eng.SetQueue(q)
		rqMust(t, q.Start(context.Background()))
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = q.Stop(ctx)
		})
		return eng
	})
	// The tenant's connectors as apply stores them: settings plain, secrets sealed.
	connector := func(name, typ string, settings, sec map[string]string) {
		s := map[string]string{}
		for k, v := range settings {
			s[k] = v
		}
		for k, v := range sec {
			s[k+"_env"] = strings.ToUpper(name + "_" + k)
			sn := store.ConnectorSecretName(name, k)
			id, ct, err := keys.Seal([]byte(v), secrets.AAD(e.tenant.ID, sn))
			rqMust(t, err)
			rqMust(t, e.st.PutSecret(e.ctx, &accessbot.Secret{TenantID: e.tenant.ID, Name: sn, KeyID: id, Ciphertext: ct}))
		}
		rqMust(t, e.st.PutConnector(e.ctx, &store.Connector{TenantID: e.tenant.ID, Name: name, Type: typ, Settings: s}))
	}
	connector("hooks", "webhook", map[string]string{"url": hook.URL() + "/{endpoint}"}, map[string]string{"bearer": bearer})
	connector("git", "gitlab", map[string]string{"base_url": gl.URL(), "project": "it/access"}, map[string]string{"token": glToken})
	connector("mail", "email", map[string]string{"host": mail.Host(), "port": itoa(mail.Port()), "from": "accessbot <accessbot@example.com>",
		"username": "accessbot"}, map[string]string{"password": smtpPW})
	rqMust(t, e.st.PutOutboundAllow(e.ctx, e.tenant.ID, []string{"127.0.0.1"})) // the fakes listen on loopback

	e.gitlab.Provisioning = map[string]accessbot.ActionChain{"group": {Provision: []accessbot.ActionScript{
		{Type: "hooks_webhook_grant", Params: map[string]string{"user": "{{.Target.Email}}", "group": "{{.Connection.Name}}"}},
		{Type: "gitlab_issue_create", Params: map[string]string{"title": "Grant {{.Target.Email}} {{.Connection.Name}}"}},
		{Type: "gitlab_issue_add_comment", Params: map[string]string{"body": "Webhook sent for request {{.Request.ID}}"}},
		{Type: "email_notification", Params: map[string]string{"subject": "Access to {{.Application.Name}}", "text": "You now have {{.Connection.Name}}."}},
	}}}
	rqMust(t, e.st.UpdateApplication(e.ctx, e.gitlab))

	r := e.createAccess("rita", "Maintainers")
	confirm := e.dm(slackID("rita"), "Your request for Maintainers")
	e.click(slackID("mona"), e.approvalDM(slackID("mona"), r.ID), views.ActionApprove, r.ID)
	e.click(slackID("olga"), e.approvalDM(slackID("olga"), r.ID), views.ActionApprove, r.ID)

	msg := e.flowMessage(confirm, "Granting GitLab / Maintainers: done")
	for _, want := range []string{
		"1. hooks_webhook_grant done: webhook hooks/grant delivered (HTTP 200)",
		"2. gitlab_issue_create done: GitLab issue it/access#1 created",
		"3. gitlab_issue_add_comment done: GitLab: commented on it/access#1",
		"4. email_notification done: email sent to rita@acme.test",
	} {
		if !strings.Contains(msg.Text, want) {
			t.Errorf("the requester's flow message lacks %q:\n%s", want, msg.Text)
		}
	}
	// Each server got the step's call, once.
	if d := hook.Deliveries(); len(d) != 1 || !strings.Contains(string(d[0].Body), "rita@acme.test") || d[0].Rejected != "" {
		t.Errorf("webhook deliveries %+v", d)
	}
	if is, ok := gl.Issue(pid, 1); !ok || !strings.Contains(is.Title, "rita@acme.test Maintainers") || len(is.Notes) != 1 ||
		!strings.Contains(is.Notes[0].Body, r.ID) || gl.Issues(pid) != 1 {
		t.Errorf("GitLab issues %d, issue 1 %+v", gl.Issues(pid), is)
	}
	if m := mail.Messages(); len(m) != 1 || m[0].To[0] != "rita@acme.test" {
		t.Errorf("mail %+v", m)
	}
	// One flow message in the thread, and the grant recorded.
	n := 0
	for _, m := range e.fake.Messages(confirm.Channel) {
		if m.ThreadTS == confirm.TS && strings.Contains(m.Text, "Granting") {
			n++
		}
		for _, s := range []string{bearer, glToken, smtpPW} {
			if strings.Contains(m.Text, s) {
				t.Errorf("a Slack message shows a connector secret: %q", m.Text)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d flow messages in the thread, want 1", n)
	}
	if ents, err := e.st.ListEntitlements(e.ctx, e.tenant.ID, e.users["rita"].ID); err != nil || len(ents) != 1 || ents[0].RequestID != r.ID {
		t.Errorf("grants %+v (%v), want one from request %s", ents, err, r.ID)
	}
	for _, s := range []string{bearer, glToken, smtpPW} {
		if strings.Contains(logs.String(), s) {
			t.Errorf("the log shows a connector secret %q", s)
		}
	}
}

// syncLog is a log buffer the step jobs write to from their goroutines.
type syncLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncLog) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncLog) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func itoa(n int) string { return strconv.Itoa(n) }
