package handlers_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/slackapi"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/handlers"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/storetest"
)

// scriptChat is a ChatAPI whose n-th next post or update fails, as a Slack
// call timing out after others of the same job went through.
type scriptChat struct {
	mu         sync.Mutex
	failPost   int // the failPost-th next PostMessage fails; 0: none
	failUpdate int // likewise for UpdateMessage
	seq        int
	posts      []sentPost        // every successful post
	lookups    map[string]string // email → Slack id; default "U" + upper-cased local part
	lookedUp   int
	opened     int
	updated    map[string]string // channel/ts → text of its last successful update
	updates    map[string]int    // channel/ts → successful updates
}

func (c *scriptChat) PostMessage(_ context.Context, ch string, m slackapi.Message) (string, string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failPost > 0 {
		if c.failPost--; c.failPost == 0 {
			return "", "", errors.New("connection reset")
		}
	}
	c.seq++
	c.posts = append(c.posts, sentPost{channel: ch, Message: m})
	return ch, fmt.Sprintf("1700000000.%06d", c.seq), nil
}

type sentPost struct {
	channel string
	slackapi.Message
}

// FindDelivery finds a successful post by its delivery key, as Slack's
// history with message metadata would.
func (c *scriptChat) FindDelivery(_ context.Context, ch, thread, key string, _ time.Time) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, p := range c.posts {
		if p.channel == ch && p.ThreadTS == thread && p.DeliveryKey == key {
			return fmt.Sprintf("1700000000.%06d", i+1), nil
		}
	}
	return "", nil
}

func (c *scriptChat) UpdateMessage(_ context.Context, ch, ts string, m slackapi.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failUpdate > 0 {
		if c.failUpdate--; c.failUpdate == 0 {
			return errors.New("connection reset")
		}
	}
	if c.updated == nil {
		c.updated, c.updates = map[string]string{}, map[string]int{}
	}
	c.updated[ch+"/"+ts] = m.Text
	c.updates[ch+"/"+ts]++
	return nil
}

func (c *scriptChat) OpenConversation(_ context.Context, ids ...string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.opened++
	return "D-" + ids[0], nil
}

func (c *scriptChat) GetUserByEmail(_ context.Context, email string) (*slack.User, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lookedUp++
	if id, ok := c.lookups[email]; ok {
		return &slack.User{ID: id}, nil
	}
	name, _, _ := strings.Cut(email, "@")
	return &slack.User{ID: "U" + strings.ToUpper(name)}, nil
}

// count is how many posts went to channel (threaded or not) containing text.
func (c *scriptChat) count(channel string, threaded bool, text string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, m := range c.posts {
		if m.channel == channel && (m.ThreadTS != "") == threaded && strings.Contains(m.Text, text) {
			n++
		}
	}
	return n
}

// notifyFixture is tenant acme in a fresh store: rita asks for GitLab
// Developers, owned by owen and olga (one level, any one of them).
type notifyFixture struct {
	ctx   context.Context
	st    store.Store
	svc   *requests.Service
	users map[string]*accessbot.User
	app   *accessbot.Application
	conns []*accessbot.Connection
}

func newNotifyFixture(t *testing.T, driver string) *notifyFixture {
	t.Helper()
	ctx := context.Background()
	st := storetest.Open(t, driver)
	f := &notifyFixture{ctx: ctx, st: st, users: map[string]*accessbot.User{}}
	ten := &accessbot.Tenant{Slug: "acme", Name: "Acme"}
	rqMust(t, st.CreateTenant(ctx, ten))
	rqMust(t, st.BindWorkspace(ctx, &accessbot.Workspace{TenantID: ten.ID, TeamID: "T1", TeamName: "Acme"}))
	for _, n := range []string{"rita", "owen", "olga"} {
		u := &accessbot.User{TenantID: ten.ID, Email: n + "@acme.test", Name: strings.ToUpper(n[:1]) + n[1:], Status: accessbot.UserActive, Role: accessbot.RoleMember}
		rqMust(t, st.CreateUser(ctx, u))
		f.users[n] = u
	}
	f.app = &accessbot.Application{TenantID: ten.ID, Name: "GitLab", Connector: "gitlab",
		PrimaryOwnerID: f.users["owen"].ID, SecondaryOwnerID: f.users["olga"].ID, MaxDuration: 24 * time.Hour}
	rqMust(t, st.CreateApplication(ctx, f.app))
	for _, name := range []string{"Developers", "Maintainers", "Reporters"} {
		conn := &accessbot.Connection{TenantID: ten.ID, AppID: f.app.ID, Name: name, Type: "group"}
		rqMust(t, st.CreateConnection(ctx, conn))
		f.conns = append(f.conns, conn)
	}
	rqMust(t, st.UpsertApprovalChain(ctx, &accessbot.ApprovalChain{TenantID: ten.ID, Name: "default",
		Levels: []accessbot.ApprovalLevel{{Rule: accessbot.RuleAny, Approvers: []accessbot.Approver{{Kind: accessbot.ApproverOwners}}}}}))
	f.svc = requests.New(st, nil, nil, nil, requests.Policy{}, zerolog.Nop())
	return f
}

// create stores a request of rita for the i-th connection, notifying no one.
func (f *notifyFixture) create(t *testing.T, i int) *accessbot.AccessRequest {
	t.Helper()
	req, err := f.svc.Create(f.ctx, requests.UserAccess{TenantID: f.users["rita"].TenantID, RequesterID: f.users["rita"].ID,
		AppID: f.app.ID, ConnectionID: f.conns[i].ID, Duration: time.Hour, Justification: "Release fix."})
	rqMust(t, err)
	return req
}

func (f *notifyFixture) reload(t *testing.T, req *accessbot.AccessRequest) *accessbot.AccessRequest {
	t.Helper()
	r, err := f.st.GetRequest(f.ctx, req.TenantID, req.ID)
	rqMust(t, err)
	return r
}

// TestNotifierRetryAfterPartialFailure: a Slack call fails after others of
// the same notification went through, and the job is retried: the thread
// replies, reminders and DMs already posted are not posted again.
func TestNotifierRetryAfterPartialFailure(t *testing.T) {
	t.Parallel()
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			f := newNotifyFixture(t, driver)
			req := f.create(t, 0)
			chat := &scriptChat{}
			n := handlers.NewNotifier(handlers.NotifierConfig{Store: f.st, Log: zerolog.Nop(),
				Clients: handlers.ChatClientsFunc(func(context.Context, string) (handlers.ChatAPI, error) { return chat, nil })})
			approvers := requests.LevelApprovers(req, 0)
			// retried runs step, which fails once after posting, then succeeds.
			retried := func(what string, fail *int, at int, step func() error) {
				t.Helper()
				chat.mu.Lock()
				*fail = at
				chat.mu.Unlock()
				if err := step(); err == nil {
					t.Fatalf("%s: the injected failure did not fail it", what)
				}
				rqMust(t, step())
			}
			rqMust(t, n.RequestCreated(f.ctx, req))
			// Approver DMs, then the reply "now with", then the confirmation's update fails.
			retried("approval_needed", &chat.failUpdate, 1, func() error { return n.ApprovalNeeded(f.ctx, req, 0, approvers) })
			// Owen's reminder goes out, Olga's fails.
			retried("remind", &chat.failPost, 2, func() error { return n.Remind(f.ctx, req, 0, approvers) })

			out, err := f.svc.Decide(f.ctx, requests.DecideInput{TenantID: req.TenantID, RequestID: req.ID,
				ActorID: f.users["olga"].ID, Decision: accessbot.DecisionApprove})
			rqMust(t, err)
			done := f.reload(t, req)
			// One copy updated, then the other's update fails. The final
			// decision's reply is RequestFinished's.
			retried("level_decided", &chat.failUpdate, 2, func() error { return n.LevelDecided(f.ctx, done, 0, out.Decisions) })
			retried("request_finished", &chat.failUpdate, 1, func() error { return n.RequestFinished(f.ctx, done) })

			for _, c := range []struct {
				channel  string
				threaded bool
				text     string
			}{
				{"D-URITA", false, "Your request for Developers"},
				{"D-UOWEN", false, "asks for Developers"},
				{"D-UOLGA", false, "asks for Developers"},
				{"D-URITA", true, "is now with Owen, Olga"},
				{"D-UOWEN", true, "Reminder:"},
				{"D-UOLGA", true, "Reminder:"},
				{"D-URITA", true, "approved by Olga"},
				{"D-URITA", true, "fully approved, and the application owners have been asked"},
			} {
				if got := chat.count(c.channel, c.threaded, c.text); got != 1 {
					t.Errorf("%q in %s (threaded %v) posted %d times, want 1", c.text, c.channel, c.threaded, got)
				}
			}
		})
	}
}
