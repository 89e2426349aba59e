package handlers_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"

	"github.com/accessbot/accessbot/bot/slackapi"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/handlers"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/backend"
	"github.com/accessbot/accessbot/store/storetest"
)

// outageStore fails the outbox's writes after a claim (the "sent" record,
// CompleteDelivery, and the releases of a failed send) while down, as a
// database that went away between the claim and what follows does.
type outageStore struct {
	store.Store
	mu       sync.Mutex
	downFor  int // the next downFor writes fail; -1: all until up
	failures int
}

var errDBDown = errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")

func (s *outageStore) set(downFor int) {
	s.mu.Lock()
	s.downFor = downFor
	s.mu.Unlock()
}

// down says whether this write fails, and counts it.
func (s *outageStore) down() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.downFor == 0 {
		return false
	}
	s.failures++
	if s.downFor > 0 {
		s.downFor--
	}
	return true
}

func (s *outageStore) CompleteDelivery(ctx context.Context, tenantID, key, ch, ts string, now time.Time) error {
	if s.down() {
		return errDBDown
	}
	return s.Store.CompleteDelivery(ctx, tenantID, key, ch, ts, now)
}

func (s *outageStore) ReleaseDelivery(ctx context.Context, tenantID, key string, retryAt time.Time) error {
	if s.down() {
		return errDBDown
	}
	return s.Store.ReleaseDelivery(ctx, tenantID, key, retryAt)
}

func (s *outageStore) ReleaseUnsentDelivery(ctx context.Context, tenantID, key string, attempt int, retryAt time.Time) error {
	if s.down() {
		return errDBDown
	}
	return s.Store.ReleaseUnsentDelivery(ctx, tenantID, key, attempt, retryAt)
}

// onceEnv is notifyFixture's tenant with its users in a fake Slack, and a
// notifier posting there through the real Web API client, its outbox
// behind an outageStore, its clock under the test's hand.
type onceEnv struct {
	*notifyFixture
	fake  *slackfake.Server
	st    *outageStore
	clock *rqClock
	cl    *slackapi.Client
	n     *handlers.Notifier
}

func newOnceEnv(t *testing.T, driver string, lease time.Duration) *onceEnv {
	t.Helper()
	f := newNotifyFixture(t, driver)
	fake := slackfake.New()
	t.Cleanup(fake.Close)
	team := fake.AddTeam(slackfake.Team{ID: "T1", Name: "Acme"})
	for name, u := range f.users {
		_, err := fake.AddUser(slackfake.User{ID: slackID(name), TeamID: "T1", Name: name, Email: u.Email})
		rqMust(t, err)
	}
	cl, err := slackapi.NewClient("T1", team.BotToken, slackapi.Options{APIURL: fake.URL(), Guard: slackapi.Strict{}, Pacing: &slackapi.Pacing{}})
	rqMust(t, err)
	e := &onceEnv{notifyFixture: f, fake: fake, st: &outageStore{Store: f.st}, clock: &rqClock{now: time.Now().UTC()}, cl: cl}
	e.n = handlers.NewNotifier(handlers.NotifierConfig{Store: e.st, Now: e.clock.Now, Lease: lease,
		Log:     zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel),
		Clients: handlers.ChatClientsFunc(func(context.Context, string) (handlers.ChatAPI, error) { return cl, nil })})
	return e
}

// posts counts the messages in user's DM: top level and thread replies.
func (e *onceEnv) posts(user string) (top, replies int) {
	for _, m := range e.fake.Messages(slackfake.DMChannel(slackID(user))) {
		if m.ThreadTS == "" {
			top++
		} else {
			replies++
		}
	}
	return top, replies
}

// TestNotifierRecordLostAfterPost: the database goes away after Slack took
// the posts and stays away past the claim's lease, so the retried job finds
// the claims expired. It must find the first posts in the conversations
// (DMs and thread replies) instead of posting them again.
func TestNotifierRecordLostAfterPost(t *testing.T) {
	t.Parallel()
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			// A short lease: each record is retried until it ends.
			e := newOnceEnv(t, driver, 400*time.Millisecond)
			req := e.create(t, 0)
			rqMust(t, e.n.RequestCreated(e.ctx, req)) // the confirmation, recorded

			e.st.set(-1)
			if err := e.n.ApprovalNeeded(e.ctx, req, 0, []string{e.users["owen"].ID, e.users["olga"].ID}); err == nil {
				t.Fatal("ApprovalNeeded succeeded with the database down")
			}
			e.st.set(0)
			e.clock.Set(e.clock.Now().Add(time.Second)) // the claims expired
			rqMust(t, e.n.ApprovalNeeded(e.ctx, req, 0, []string{e.users["owen"].ID, e.users["olga"].ID}))

			for _, c := range []struct {
				user         string
				top, replies int
			}{{"rita", 1, 1}, {"owen", 1, 0}, {"olga", 1, 0}} {
				if top, replies := e.posts(c.user); top != c.top || replies != c.replies {
					t.Errorf("%s got %d message(s) and %d thread repl(ies), want %d and %d", c.user, top, replies, c.top, c.replies)
				}
			}
			ds, err := e.st.ListDeliveries(e.ctx, req.TenantID, "request:"+req.ID)
			rqMust(t, err)
			for _, d := range ds {
				if d.Status != store.DeliverySent || d.TS == "" {
					t.Errorf("delivery %s: %s ts %q, want sent with its ts", d.Key, d.Status, d.TS)
				}
			}
			for k, n := range e.fake.DeliveryPosts(slackapi.DeliveryEventType) {
				if n != 1 {
					t.Errorf("delivery %s posted %d times", k, n)
				}
			}
		})
	}
}

// TestNotifierRetriesTheRecord: a short outage between the post and its
// record is ridden out in process: the job succeeds and the record is there.
func TestNotifierRetriesTheRecord(t *testing.T) {
	t.Parallel()
	e := newOnceEnv(t, backend.SQLite, 10*time.Second)
	req := e.create(t, 0)
	e.st.set(3)
	rqMust(t, e.n.RequestCreated(e.ctx, req))
	ds, err := e.st.ListDeliveries(e.ctx, req.TenantID, "request:"+req.ID)
	rqMust(t, err)
	if len(ds) != 1 || ds[0].Status != store.DeliverySent {
		t.Fatalf("deliveries %+v, want the confirmation sent", ds)
	}
	if e.st.failures != 3 {
		t.Errorf("%d failed records, want 3 retried", e.st.failures)
	}
}

// TestNotifierFinishesSendAtShutdown: the job's context is cancelled (a
// SIGTERM) while the post is on its way: the post is finished and recorded
// instead of cut off between Slack and the outbox.
func TestNotifierFinishesSendAtShutdown(t *testing.T) {
	t.Parallel()
	e := newOnceEnv(t, backend.SQLite, 10*time.Second)
	req := e.create(t, 0)
	e.fake.Delay("chat.postMessage", time.Second)
	ctx, cancel := context.WithCancel(e.ctx)
	go func() { // cancel once the claim is taken: the post is on its way
		defer cancel()
		for ctx.Err() == nil {
			if ds, _ := e.st.ListDeliveries(e.ctx, req.TenantID, "request:"+req.ID); len(ds) > 0 {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	_ = e.n.RequestCreated(ctx, req) // what follows the send may give up
	if ctx.Err() == nil {
		t.Fatal("the send finished before the shutdown")
	}
	ds, err := e.st.ListDeliveries(e.ctx, req.TenantID, "request:"+req.ID)
	rqMust(t, err)
	if len(ds) != 1 || ds[0].Status != store.DeliverySent {
		t.Fatalf("deliveries %+v, want the confirmation sent and recorded", ds)
	}
	if top, _ := e.posts("rita"); top != 1 {
		t.Errorf("rita got %d confirmations, want 1", top)
	}
}

// TestFinalDecisionTellsRequesterOnce: the approval that ends a request
// (and likewise a denial) reaches the requester as one thread reply, saying
// who decided and what happens next, not as a "level approved" reply and a
// near-duplicate "approved" one in whichever order their jobs ran.
func TestFinalDecisionTellsRequesterOnce(t *testing.T) {
	t.Parallel()
	for _, decision := range []accessbot.DecisionKind{accessbot.DecisionApprove, accessbot.DecisionDeny} {
		t.Run(string(decision), func(t *testing.T) {
			t.Parallel()
			e := newOnceEnv(t, backend.SQLite, time.Minute)
			req := e.create(t, 0)
			rqMust(t, e.n.RequestCreated(e.ctx, req))
			rqMust(t, e.n.ApprovalNeeded(e.ctx, req, 0, requests.LevelApprovers(req, 0)))
			_, before := e.posts("rita")
			out, err := e.svc.Decide(e.ctx, requests.DecideInput{TenantID: req.TenantID, RequestID: req.ID,
				ActorID: e.users["olga"].ID, Decision: decision, Reason: "Not this quarter."})
			rqMust(t, err)
			done := e.reload(t, req)
			// RequestFinished first: the jobs run concurrently, in any order.
			rqMust(t, e.n.RequestFinished(e.ctx, done))
			rqMust(t, e.n.LevelDecided(e.ctx, done, 0, out.Decisions))
			var said []string
			for _, m := range e.fake.Messages(slackfake.DMChannel(slackID("rita"))) {
				if m.ThreadTS != "" {
					said = append(said, m.Text)
				}
			}
			said = said[before:]
			want := map[accessbot.DecisionKind][]string{
				accessbot.DecisionApprove: {"approved by Olga", "application owners have been asked"},
				accessbot.DecisionDeny:    {"denied by Olga", "Not this quarter.", "will not go ahead"},
			}[decision]
			if len(said) != 1 {
				t.Fatalf("the requester was told %d times: %q", len(said), said)
			}
			for _, w := range want {
				if !strings.Contains(said[0], w) {
					t.Errorf("reply %q lacks %q", said[0], w)
				}
			}
		})
	}
}

// TestEscalationAtShutdown: SIGTERM lands while the escalation tick's DM to
// the admin is with Slack (stored, not answered yet). The admin gets the
// card once and the requester's escalation notice is sent, on the retry.
func TestEscalationAtShutdown(t *testing.T) {
	t.Parallel()
	e := newOnceEnv(t, backend.SQLite, 10*time.Second)
	ada := &accessbot.User{TenantID: e.users["rita"].TenantID, Email: "ada@acme.test", Name: "Ada", Status: accessbot.UserActive, Role: accessbot.RoleAdmin}
	rqMust(t, e.st.CreateUser(e.ctx, ada))
	_, err := e.fake.AddUser(slackfake.User{ID: slackID("ada"), TeamID: "T1", Name: "ada", Email: ada.Email})
	rqMust(t, err)
	req := e.create(t, 0)
	rqMust(t, e.n.RequestCreated(e.ctx, req))
	rqMust(t, e.n.ApprovalNeeded(e.ctx, req, 0, requests.LevelApprovers(req, 0)))
	// The tick escalates the level (its jobs run here, by hand).
	svc := requests.New(e.st, nil, nil, func() time.Time { return time.Now().Add(3 * time.Hour) },
		requests.Policy{ReminderAfter: time.Hour, EscalateAfter: 2 * time.Hour, ExpireAfter: 100 * time.Hour}, zerolog.Nop())
	_, err = svc.Tick(e.ctx, time.Now().Add(3*time.Hour))
	rqMust(t, err)
	esc := e.reload(t, req)
	if esc.EscalatedAt == nil {
		t.Fatal("the tick did not escalate")
	}

	e.fake.DelayAnswer("chat.postMessage", time.Second)
	ctx, cancel := context.WithCancel(e.ctx)
	go func() { // SIGTERM once the admin's DM is with Slack
		defer cancel()
		for ctx.Err() == nil {
			if top, _ := e.posts("ada"); top > 0 {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	if err := e.n.ApprovalNeeded(ctx, esc, 0, []string{ada.ID}); err == nil && ctx.Err() == nil {
		t.Fatal("the escalation finished before the shutdown")
	}
	e.fake.DelayAnswer("chat.postMessage", 0)
	e.clock.Set(e.clock.Now().Add(11 * time.Second))               // past any claim's lease
	rqMust(t, e.n.ApprovalNeeded(e.ctx, esc, 0, []string{ada.ID})) // the job's retry
	if top, _ := e.posts("ada"); top != 1 {
		t.Errorf("the admin got %d escalated cards, want 1", top)
	}
	n := 0
	for _, m := range e.fake.Messages(slackfake.DMChannel(slackID("rita"))) {
		if m.ThreadTS != "" && strings.Contains(m.Text, "asked the admins too") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the requester was told of the escalation %d times, want 1", n)
	}
}
