package handlers_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/slackapi"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/handlers"
	"github.com/accessbot/accessbot/handlers/views"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/storetest"
)

// jobList is a requests.Enqueuer that keeps the jobs, for the test to run
// in the order it chooses (River would run them concurrently).
type jobList struct {
	mu   sync.Mutex
	jobs []requests.Job
}

func (l *jobList) Enqueue(_ context.Context, _ store.Queries, js []requests.Job) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.jobs = append(l.jobs, js...)
	return nil
}

// since returns the jobs enqueued after the first i.
func (l *jobList) since(i int) []requests.Job {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]requests.Job(nil), l.jobs[i:]...)
}

func (l *jobList) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.jobs)
}

type heldKey struct{}

// gateChat holds the first call of method made with a held context until
// release is closed, after telling reached: the job is parked between its
// read of the request and that Slack call.
type gateChat struct {
	handlers.ChatAPI
	method  string
	once    sync.Once
	reached chan struct{}
	release chan struct{}
}

func (g *gateChat) wait(ctx context.Context, method string) {
	if method != g.method || ctx.Value(heldKey{}) == nil {
		return
	}
	g.once.Do(func() {
		close(g.reached)
		<-g.release
	})
}

func (g *gateChat) PostMessage(ctx context.Context, ch string, m slackapi.Message) (string, string, error) {
	g.wait(ctx, "chat.postMessage")
	return g.ChatAPI.PostMessage(ctx, ch, m)
}

func (g *gateChat) UpdateMessage(ctx context.Context, ch, ts string, m slackapi.Message) error {
	g.wait(ctx, "chat.update")
	return g.ChatAPI.UpdateMessage(ctx, ch, ts, m)
}

func (g *gateChat) GetUserByEmail(ctx context.Context, email string) (*slack.User, error) {
	g.wait(ctx, "users.lookupByEmail")
	return g.ChatAPI.GetUserByEmail(ctx, email)
}

// TestNotifierLateJobConvergesOnDecision: a notification job that read the
// request before a decision and writes after the decision's job wrote
// (escalation held before the admin DM or before marking the earlier copies
// escalated; a reminder held before posting a fresh copy) must not leave a
// copy with buttons, or an "escalated" or pending card: every approval copy
// ends as the decided card and the confirmation says approved.
func TestNotifierLateJobConvergesOnDecision(t *testing.T) {
	cases := []struct {
		name   string
		remind bool   // the late job is a reminder posting a new copy; else an escalation
		hold   string // the Slack call the late job is held at
	}{
		{"escalation held before DMing the admin", false, "users.lookupByEmail"},
		{"escalation held before marking earlier copies", false, "chat.update"},
		{"reminder held before posting a new copy", true, "chat.postMessage"},
	}
	for _, driver := range storetest.Drivers(t) {
		for _, tc := range cases {
			t.Run(driver+"/"+tc.name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				fake := slackfake.New(slackfake.WithPingInterval(200 * time.Millisecond))
				t.Cleanup(fake.Close)
				team := fake.AddTeam(slackfake.Team{ID: "T1", Name: "Acme"})
				st := storetest.Open(t, driver)
				ten := &accessbot.Tenant{Slug: "acme", Name: "Acme"}
				rqMust(t, st.CreateTenant(ctx, ten))
				rqMust(t, st.BindWorkspace(ctx, &accessbot.Workspace{TenantID: ten.ID, TeamID: "T1", TeamName: "Acme"}))
				users := map[string]*accessbot.User{}
				for _, n := range []string{"rita", "mona", "ada"} {
					u := &accessbot.User{TenantID: ten.ID, Email: n + "@acme.test", Name: strings.ToUpper(n[:1]) + n[1:],
						Status: accessbot.UserActive, Role: accessbot.RoleMember}
					if n == "ada" {
						u.Role = accessbot.RoleAdmin
					}
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
				gate := &gateChat{ChatAPI: cl, method: tc.hold, reached: make(chan struct{}), release: make(chan struct{})}
				log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
				n := handlers.NewNotifier(handlers.NotifierConfig{Store: st, Log: log,
					Clients: handlers.ChatClientsFunc(func(context.Context, string) (handlers.ChatAPI, error) { return gate, nil })})
				clock := &rqClock{now: rqT0}
				jl := &jobList{}
				svc := requests.New(st, n, nil, clock.Now,
					requests.Policy{ReminderAfter: time.Hour, EscalateAfter: 2 * time.Hour}, log, requests.WithEnqueuer(jl))
				run := func(ctx context.Context, js []requests.Job) {
					t.Helper()
					for _, j := range js {
						rqMust(t, svc.RunJob(ctx, j))
					}
				}

				req, err := svc.Create(ctx, requests.UserAccess{TenantID: ten.ID, RequesterID: users["rita"].ID, AppID: app.ID,
					ConnectionID: conn.ID, Duration: time.Hour, Justification: "Release fix."})
				rqMust(t, err)
				run(ctx, jl.since(0)) // the confirmation; it enqueues asking level 1
				if !tc.remind {
					run(ctx, jl.since(1)) // Mona's approval DM; a reminder case has none yet
				}
				at := 2 * time.Hour // escalation
				if tc.remind {
					at = time.Hour
				}
				mark := jl.len()
				res, err := svc.Tick(ctx, rqT0.Add(at))
				rqMust(t, err)
				late := jl.since(mark)
				if len(late) != 1 || (res.Escalated+res.Reminded) != 1 {
					t.Fatalf("tick: %+v, jobs %+v; want one escalation or reminder job", res, late)
				}

				// The late job reads the request, then waits at the gate.
				done := make(chan error, 1)
				go func() { done <- svc.RunJob(context.WithValue(ctx, heldKey{}, true), late[0]) }()
				select {
				case <-gate.reached:
				case err := <-done:
					t.Fatalf("the %s job never reached %s (returned %v)", late[0].Kind, tc.hold, err)
				case <-ctx.Done():
					t.Fatal("the late job never reached the gate")
				}
				// Meanwhile Mona approves and the decision's jobs all run.
				clock.Set(rqT0.Add(at + time.Minute))
				mark = jl.len()
				_, err = svc.Decide(ctx, requests.DecideInput{TenantID: ten.ID, RequestID: req.ID, ActorID: users["mona"].ID,
					Level: 0, Decision: accessbot.DecisionApprove})
				rqMust(t, err)
				run(ctx, jl.since(mark))
				close(gate.release)
				select {
				case err := <-done:
					rqMust(t, err)
				case <-ctx.Done():
					t.Fatal("the late job did not finish")
				}
				if more := jl.since(mark); len(more) != 3 { // level_decided, provision, request_finished
					t.Fatalf("jobs after the decision: %+v", more)
				}

				copies := 0
				for _, who := range []string{"mona", "ada"} {
					for _, m := range fake.Messages(slackfake.DMChannel(slackID(who))) {
						if m.ThreadTS != "" || !strings.Contains(string(m.Blocks), req.ID) {
							continue
						}
						copies++
						if strings.Contains(string(m.Blocks), views.BlockApprovalActions) || !strings.Contains(m.Text, "Approved by Mona") {
							t.Errorf("%s's copy is not the decided card: %q %s", who, m.Text, m.Blocks)
						}
					}
				}
				if copies == 0 {
					t.Fatal("no approval copy was posted at all")
				}
				for _, m := range fake.Messages(slackfake.DMChannel(slackID("rita"))) {
					if m.ThreadTS == "" && !strings.Contains(m.Text, "Approved") {
						t.Errorf("the confirmation does not say approved: %q", m.Text)
					}
				}
			})
		}
	}
}
