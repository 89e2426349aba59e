package main

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/flows/requests/requestjobs"
	"github.com/accessbot/accessbot/jobs"
	"github.com/accessbot/accessbot/store/backend"
)

// TestRunDeliversJobsOfACrashedProcess: a process created a request (its
// notification jobs committed with it) and died before sending anything;
// `run` on the same database picks the jobs up and sends the requester's
// confirmation and the approver's DM through Slack.
func TestRunDeliversJobsOfACrashedProcess(t *testing.T) {
	t.Parallel()
	fake, _, env, dsn := slackEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	st, err := backend.Open(ctx, backend.SQLite, dsn, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	tenant, err := st.GetTenantBySlug(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	ada, err := st.GetUserByEmail(ctx, tenant.ID, "ada@acme.test")
	if err != nil {
		t.Fatal(err)
	}
	eve := &accessbot.User{TenantID: tenant.ID, Email: "eve@acme.test", Name: "Eve", Status: accessbot.UserActive, Role: accessbot.RoleAdmin}
	app := &accessbot.Application{TenantID: tenant.ID, Name: "GitLab", Connector: "gitlab", MaxDuration: 24 * time.Hour}
	for _, err := range []error{st.CreateUser(ctx, eve), st.CreateApplication(ctx, app)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	conn := &accessbot.Connection{TenantID: tenant.ID, AppID: app.ID, Name: "Developers", Type: "group"}
	if err := st.CreateConnection(ctx, conn); err != nil {
		t.Fatal(err)
	}
	if err := st.UpsertApprovalChain(ctx, &accessbot.ApprovalChain{TenantID: tenant.ID, Name: "default",
		Levels: []accessbot.ApprovalLevel{{Rule: accessbot.RuleAny, Approvers: []accessbot.Approver{{Kind: accessbot.ApproverUser, UserID: eve.ID}}}}}); err != nil {
		t.Fatal(err)
	}
	// The crashed process: River enqueuer, workers never started.
	workers := river.NewWorkers()
	requestjobs.AddWorkers(workers, func(context.Context, requests.Job) error { return nil }, nil, zerolog.Nop())
	q, err := jobs.New(jobs.Config{Driver: jobs.SQLite, DB: st.(interface{ DB() *sql.DB }).DB(), Workers: workers, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	svc := requests.New(st, nil, nil, nil, requests.Policy{}, zerolog.Nop(), requests.WithEnqueuer(requestjobs.NewEnqueuer(q)))
	if _, err := svc.Create(ctx, requests.UserAccess{TenantID: tenant.ID, RequesterID: ada.ID, AppID: app.ID,
		ConnectionID: conn.ID, Duration: time.Hour, Justification: "Release fix."}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(fake.Calls("chat.postMessage")); n != 0 {
		t.Fatalf("%d message(s) sent before run started", n)
	}

	m, _, stderr := testMain(env)
	_, stop := startRun(t, m)
	defer stop()
	for _, user := range []string{"UADA", "UEVE"} {
		if err := fake.WaitFor(ctx, func() bool { return len(fake.Messages(slackfake.DMChannel(user))) > 0 }); err != nil {
			t.Fatalf("no DM to %s from run's job workers: %v\nlog:\n%s", user, err, stderr)
		}
	}
	if got := len(fake.Messages(slackfake.DMChannel("UEVE"))); got != 1 {
		t.Errorf("approver got %d DM(s), want 1", got)
	}
}
