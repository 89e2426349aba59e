package runners

import (
	"context"
	"crypto/x509"
	"database/sql"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/connectors/catalog"
	"github.com/accessbot/accessbot/connectors/gitlab/gitlabfake"
	"github.com/accessbot/accessbot/connectors/outbound"
	"github.com/accessbot/accessbot/connectors/webhook/webhookfake"
	"github.com/accessbot/accessbot/flows/provision"
	"github.com/accessbot/accessbot/jobs"
	"github.com/accessbot/accessbot/store/backend"
)

// TestChainEndToEnd runs an approved request's chain through the engine
// (River step jobs on the store) with these runners registered: a signed
// webhook, a GitLab issue and a comment on it (the iid passed between
// steps), an email notification, and an email approval answered by its
// link, after which the flow finishes.
func TestChainEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	hook, err := webhookfake.NewServer(webhookfake.Options{Bearer: testBearer}, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hook.Close)
	gl := gitlabfake.Start(testGitLabToken)
	t.Cleanup(gl.Close)
	pid := gl.AddProject("it/access")
	roots := x509.NewCertPool()
	roots.AddCert(gl.HTTPServer().Certificate())

	e, smtp := emailEnv(t, true)
	e.cat = newCatalogFor(e, outbound.Options{RootCAs: roots, DialTimeout: 300 * time.Millisecond})
	e.connector("hooks", "webhook", map[string]string{"url": hook.URL() + "/{endpoint}"}, map[string]string{"bearer": testBearer})
	e.connector("git", "gitlab", map[string]string{"base_url": gl.URL(), "project": "it/access"}, map[string]string{"token": testGitLabToken})

	owner := e.user("owner-" + e.tenant.Slug + "@example.com")
	requester := e.user("ada-" + e.tenant.Slug + "@example.com")
	approver := e.user("carol-" + e.tenant.Slug + "@example.com")

	eng := provision.New(provision.Config{Store: e.st, StepAttempts: 3, Backoff: func(int) time.Duration { return 10 * time.Millisecond }, Log: e.log})
	links := NewLinks(e.keys, "https://accessbot.example.com", nil)
	mailer := NewEmail(e.cat, e.st, links, e.log)
	mailer.RootCAs = smtp.RootCAs()
	Register(eng, NewWebhook(e.cat, e.log), NewGitLab(e.cat, e.log), mailer)
	workers := river.NewWorkers()
	eng.AddWorkers(workers)
	q, err := jobs.New(jobs.Config{Driver: backend.SQLite, DB: e.st.(interface{ DB() *sql.DB }).DB(), Workers: workers, PollInterval: 20 * time.Millisecond, Log: e.log})
	if err != nil {
		t.Fatal(err)
	}
	eng.SetQueue(q)
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = q.Stop(sctx)
	})

	chain := accessbot.ActionChain{Provision: []accessbot.ActionScript{
		{Type: "hooks_webhook_grant", Params: map[string]string{"user": "{{.Target.Email}}", "group": "{{.Connection.Name}}"}},
		{Type: "gitlab_issue_create", Params: map[string]string{"title": "Grant {{.Target.Email}} {{.Connection.Name}}"}},
		{Type: "gitlab_issue_add_comment", Params: map[string]string{"body": "Webhook sent; issue {{.Outputs.gitlab_issue_iid}}"}},
		{Type: "email_notification", Params: map[string]string{"subject": "Access to {{.Application.Name}}", "text": "You are getting {{.Connection.Name}}."}},
		{Type: "email_approval", Params: map[string]string{"approver": approver.Email, "subject": "Confirm {{.Connection.Name}}", "text": "Confirm it is done."}},
	}}
	app := &accessbot.Application{TenantID: e.tenant.ID, Name: "Grafana", Connector: "manual", PrimaryOwnerID: owner.ID,
		Provisioning: map[string]accessbot.ActionChain{"group": chain}}
	if err := e.st.CreateApplication(ctx, app); err != nil {
		t.Fatal(err)
	}
	conn := &accessbot.Connection{TenantID: e.tenant.ID, AppID: app.ID, Name: "editors", Type: "group"}
	if err := e.st.CreateConnection(ctx, conn); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	req := &accessbot.AccessRequest{TenantID: e.tenant.ID, Kind: accessbot.RequestUserAccess, RequesterID: requester.ID, TargetUserID: requester.ID,
		AppID: app.ID, ConnectionID: conn.ID, Justification: "dashboards", Status: accessbot.StatusApproved, DecidedAt: &now,
		Levels: []accessbot.ApprovalLevel{{Approvers: []accessbot.Approver{{Kind: accessbot.ApproverOwners}}, Rule: accessbot.RuleAny}}}
	if err := e.st.CreateRequest(ctx, req); err != nil {
		t.Fatal(err)
	}
	// The first delivery gets a 503: the step's job runs again, and the
	// retry must send the very same body (its timestamp included).
	hook.InjectFaults(webhookfake.Fault{Status: http.StatusServiceUnavailable})
	if err := eng.Provision(ctx, req); err != nil {
		t.Fatal(err)
	}
	key := provision.FlowKey(provision.Provision, req.ID)
	fl := waitFlow(t, e, key, accessbot.FlowWaiting)
	if fl.Current != 4 {
		t.Fatalf("flow waits on step %d: %+v", fl.Current+1, fl.Steps)
	}
	if d := hook.Deliveries(); len(d) != 2 || !strings.Contains(string(d[1].Body), requester.Email) || d[1].Rejected != "" ||
		string(d[0].Body) != string(d[1].Body) || d[0].ID != d[1].ID {
		t.Fatalf("webhook deliveries (a refused one, then its retry with the same id and body) %+v", d)
	}
	is, ok := gl.Issue(pid, 1)
	if !ok || len(is.Notes) != 1 || !strings.Contains(is.Notes[0].Body, "issue 1") {
		t.Fatalf("issue %+v", is)
	}
	msgs := smtp.Messages()
	if len(msgs) != 2 || msgs[0].To[0] != requester.Email || msgs[1].To[0] != approver.Email {
		t.Fatalf("mail %+v", msgs)
	}
	p, _ := msgs[1].Parse()
	m := linkRE.FindStringSubmatch(p.Text)
	if m == nil || m[1] != "Approve" {
		t.Fatalf("no approve link in %q", p.Text)
	}
	mux := http.NewServeMux()
	NewLinkHandler(links, eng, e.st, e.log).Mount(mux)
	web := httptest.NewServer(mux)
	t.Cleanup(web.Close)
	resp, err := http.Post(strings.Replace(m[2], "https://accessbot.example.com", web.URL, 1), "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("approve link: HTTP %d", resp.StatusCode)
	}
	fl = waitFlow(t, e, key, accessbot.FlowDone)
	if fl.Steps[4].AnsweredBy != approver.ID || fl.Outputs[OutputIssueIID] != "1" {
		t.Fatalf("done flow %+v outputs %v", fl.Steps, fl.Outputs)
	}
}

func newCatalogFor(e *env, o outbound.Options) *catalog.Loader {
	return catalog.NewLoader(e.st, e.keys, o)
}

func waitFlow(t *testing.T, e *env, key string, want accessbot.FlowStatus) *accessbot.ActionFlow {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		fl, err := e.st.GetActionFlowByKey(context.Background(), e.tenant.ID, key)
		if err == nil && fl.Status == want {
			return fl
		}
		if err == nil && fl.Status == accessbot.FlowFailed {
			t.Fatalf("flow failed: %+v", fl.Steps)
		}
		if time.Now().After(deadline) {
			t.Fatalf("flow %s: want %s, have %+v (err %v)", key, want, fl, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
