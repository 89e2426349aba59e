package handlers_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/slackapi"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/handlers"
	"github.com/accessbot/accessbot/jobs"
	"github.com/accessbot/accessbot/store/storetest"
)

// TestRequestFinishedWaitsForConfirmation: River may run request_finished
// before request_created (another replica, or one held by a killed replica
// until its rescue). The reply then waits for the confirmation as a Busy
// error, which snoozes the job without spending attempts (a replica test
// saw 12 attempts spent and the requester never told), for up to
// ConfirmationWait; after that it is a plain failure.
func TestRequestFinishedWaitsForConfirmation(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			fake := slackfake.New()
			t.Cleanup(fake.Close)
			team := fake.AddTeam(slackfake.Team{ID: "T1", Name: "Acme"})
			st := storetest.Open(t, driver)
			ten := &accessbot.Tenant{Slug: "acme", Name: "Acme"}
			rqMust(t, st.CreateTenant(ctx, ten))
			rqMust(t, st.BindWorkspace(ctx, &accessbot.Workspace{TenantID: ten.ID, TeamID: "T1", TeamName: "Acme"}))
			users := map[string]*accessbot.User{}
			for _, n := range []string{"rita", "mona"} {
				u := &accessbot.User{TenantID: ten.ID, Email: n + "@acme.test", Name: strings.ToUpper(n[:1]) + n[1:],
					Status: accessbot.UserActive, Role: accessbot.RoleMember}
				rqMust(t, st.CreateUser(ctx, u))
				users[n] = u
				_, err := fake.AddUser(slackfake.User{ID: slackID(n), TeamID: "T1", Name: n, RealName: u.Name, Email: u.Email})
				rqMust(t, err)
			}
			app := &accessbot.Application{TenantID: ten.ID, Name: "GitLab", Connector: "gitlab", MaxDuration: 24 * time.Hour}
			rqMust(t, st.CreateApplication(ctx, app))
			conn := &accessbot.Connection{TenantID: ten.ID, AppID: app.ID, Name: "Developers", Type: "group"}
			rqMust(t, st.CreateConnection(ctx, conn))
			rqMust(t, st.UpsertApprovalChain(ctx, &accessbot.ApprovalChain{TenantID: ten.ID, Name: "default",
				Levels: []accessbot.ApprovalLevel{{Rule: accessbot.RuleAny,
					Approvers: []accessbot.Approver{{Kind: accessbot.ApproverUser, UserID: users["mona"].ID}}}}}))
			cl, err := slackapi.NewClient("T1", team.BotToken, slackapi.Options{APIURL: fake.URL(), Guard: slackapi.Strict{}, Pacing: &slackapi.Pacing{}})
			rqMust(t, err)
			log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
			// Requests are stamped with the real clock; the notifier's clock
			// is moved to judge the wait.
			now := time.Now()
			n := handlers.NewNotifier(handlers.NotifierConfig{Store: st, Log: log, Now: func() time.Time { return now },
				Clients: handlers.ChatClientsFunc(func(context.Context, string) (handlers.ChatAPI, error) { return cl, nil })})
			jl := &jobList{}
			svc := requests.New(st, n, nil, time.Now, requests.Policy{}, log, requests.WithEnqueuer(jl))

			decided := func() (requests.Job, requests.Job) {
				t.Helper()
				mark := jl.len()
				req, err := svc.Create(ctx, requests.UserAccess{TenantID: ten.ID, RequesterID: users["rita"].ID, AppID: app.ID,
					ConnectionID: conn.ID, Duration: time.Hour, Justification: "Release fix."})
				rqMust(t, err)
				created := jl.since(mark)
				if len(created) != 1 || created[0].Kind != requests.JobRequestCreated {
					t.Fatalf("jobs after create: %+v", created)
				}
				mark = jl.len()
				_, err = svc.Decide(ctx, requests.DecideInput{TenantID: ten.ID, RequestID: req.ID, ActorID: users["mona"].ID,
					Level: 0, Decision: accessbot.DecisionApprove})
				rqMust(t, err)
				for _, j := range jl.since(mark) {
					if j.Kind == requests.JobRequestFinished {
						return created[0], j
					}
				}
				t.Fatalf("no request_finished job after the decision: %+v", jl.since(mark))
				return requests.Job{}, requests.Job{}
			}

			created, finished := decided()
			err = svc.RunJob(ctx, finished)
			if d, busy := jobs.BusyFor(err); !busy || d <= 0 {
				t.Fatalf("request_finished before the confirmation: err %v, busy %v; want a Busy error", err, busy)
			}
			rqMust(t, svc.RunJob(ctx, created))
			rqMust(t, svc.RunJob(ctx, finished))
			var top, replies int
			for _, m := range fake.Messages(slackfake.DMChannel(slackID("rita"))) {
				if m.ThreadTS == "" {
					top++
				} else {
					replies++
				}
			}
			if top != 1 || replies != 1 {
				t.Errorf("Rita's DM: %d top-level message(s) and %d thread replies, want the confirmation and one reply", top, replies)
			}

			// A confirmation still missing after the wait is a failure.
			_, finished = decided()
			now = now.Add(handlers.ConfirmationWait + time.Minute)
			err = svc.RunJob(ctx, finished)
			if _, busy := jobs.BusyFor(err); err == nil || busy {
				t.Fatalf("request_finished %s after creation with no confirmation: err %v, busy %v; want a failure",
					handlers.ConfirmationWait, err, busy)
			}
		})
	}
}
