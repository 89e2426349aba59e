package requestjobs_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/flows/requests/requestjobs"
	"github.com/accessbot/accessbot/jobs"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/storetest"
)

var errPermanent = errors.New("user_not_found")

// notifier records deliveries; failFirst[method] attempts fail before it succeeds.
type notifier struct {
	mu         sync.Mutex
	failFirst  map[string]int
	permanent  map[string]bool
	attempts   map[string]int
	deliveries map[string]int
	// threaded makes ApprovalNeeded fail unless the request's confirmation
	// was delivered, as the Slack notifier's reply in its thread does; slow
	// delays RequestCreated like a Slack round trip.
	threaded  bool
	slow      time.Duration
	confirmed map[string]bool
}

func newNotifier() *notifier {
	return &notifier{failFirst: map[string]int{}, permanent: map[string]bool{}, attempts: map[string]int{}, deliveries: map[string]int{},
		confirmed: map[string]bool{}}
}

func (n *notifier) hit(method string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.attempts[method]++
	if n.permanent[method] {
		return errPermanent
	}
	if n.attempts[method] <= n.failFirst[method] {
		return errors.New("slack is down")
	}
	n.deliveries[method]++
	return nil
}

func (n *notifier) count(method string) (attempts, deliveries int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.attempts[method], n.deliveries[method]
}

func (n *notifier) RequestCreated(_ context.Context, req *accessbot.AccessRequest) error {
	time.Sleep(n.slow) // a Slack round trip, not a wait for anything
	if err := n.hit("RequestCreated"); err != nil {
		return err
	}
	n.mu.Lock()
	n.confirmed[req.ID] = true
	n.mu.Unlock()
	return nil
}
func (n *notifier) ApprovalNeeded(_ context.Context, req *accessbot.AccessRequest, _ int, _ []string) error {
	n.mu.Lock()
	early := n.threaded && !n.confirmed[req.ID]
	n.mu.Unlock()
	if early {
		n.mu.Lock()
		n.attempts["ApprovalNeeded"]++
		n.mu.Unlock()
		return errors.New("request has no confirmation message to reply to")
	}
	return n.hit("ApprovalNeeded")
}
func (n *notifier) LevelDecided(context.Context, *accessbot.AccessRequest, int, []accessbot.Decision) error {
	return n.hit("LevelDecided")
}
func (n *notifier) RequestFinished(context.Context, *accessbot.AccessRequest) error {
	return n.hit("RequestFinished")
}
func (n *notifier) Remind(context.Context, *accessbot.AccessRequest, int, []string) error {
	return n.hit("Remind")
}
func (n *notifier) Provision(context.Context, *accessbot.AccessRequest) error {
	return n.hit("Provision")
}

// proc is one process: a River queue and the requests service on it.
type proc struct {
	q   *jobs.Queue
	svc *requests.Service
	n   *notifier
}

type fixture struct {
	t       *testing.T
	ctx     context.Context
	driver  string
	st      store.Store
	tenant  string
	alice   string
	mgr     string
	app     string
	connID  string
	enqFail bool
}

func newFixture(t *testing.T, driver string) *fixture {
	t.Helper()
	ctx := context.Background()
	st := storetest.Open(t, driver)
	f := &fixture{t: t, ctx: ctx, driver: driver, st: st}
	ten := &accessbot.Tenant{Slug: "acme", Name: "Acme"}
	f.must(st.CreateTenant(ctx, ten))
	f.tenant = ten.ID
	mgr := &accessbot.User{TenantID: ten.ID, Email: "mgr@acme.test", Name: "mgr", Status: accessbot.UserActive, Role: accessbot.RoleAdmin}
	f.must(st.CreateUser(ctx, mgr))
	alice := &accessbot.User{TenantID: ten.ID, Email: "alice@acme.test", Name: "alice", Status: accessbot.UserActive,
		Role: accessbot.RoleMember, ManagerID: mgr.ID}
	f.must(st.CreateUser(ctx, alice))
	f.mgr, f.alice = mgr.ID, alice.ID
	app := &accessbot.Application{TenantID: ten.ID, Name: "GitLab", Connector: "gitlab", PrimaryOwnerID: mgr.ID, MaxDuration: 24 * time.Hour}
	f.must(st.CreateApplication(ctx, app))
	conn := &accessbot.Connection{TenantID: ten.ID, AppID: app.ID, Name: "developers", Type: "group"}
	f.must(st.CreateConnection(ctx, conn))
	f.app, f.connID = app.ID, conn.ID
	f.must(st.UpsertApprovalChain(ctx, &accessbot.ApprovalChain{TenantID: ten.ID, Name: "default",
		Levels: []accessbot.ApprovalLevel{{Rule: accessbot.RuleAny, Approvers: []accessbot.Approver{{Kind: accessbot.ApproverManager}}}}}))
	return f
}

func (f *fixture) must(err error) {
	f.t.Helper()
	if err != nil {
		f.t.Fatal(err)
	}
}

// failingEnqueuer inserts the jobs, then fails, so the transaction rolls back.
type failingEnqueuer struct{ requests.Enqueuer }

func (e failingEnqueuer) Enqueue(ctx context.Context, tx store.Queries, js []requests.Job) error {
	if err := e.Enqueuer.Enqueue(ctx, tx, js); err != nil {
		return err
	}
	return errors.New("fail after insert")
}

// process builds a queue and service on the fixture's database, not started.
func (f *fixture) process(n *notifier) *proc {
	f.t.Helper()
	var svc *requests.Service
	workers := river.NewWorkers()
	requestjobs.AddWorkers(workers, func(ctx context.Context, j requests.Job) error { return svc.RunJob(ctx, j) },
		func(err error) bool { return errors.Is(err, errPermanent) }, zerolog.Nop(),
		requestjobs.WithGiveUp(func(ctx context.Context, j requests.Job) error { return svc.GiveUpJob(ctx, j) }))
	q, err := jobs.New(jobs.Config{Driver: f.driver, DB: f.st.(interface{ DB() *sql.DB }).DB(), Workers: workers,
		PollInterval: 20 * time.Millisecond, Backoff: func(int) time.Duration { return 10 * time.Millisecond }, Log: zerolog.Nop()})
	f.must(err)
	var enq requests.Enqueuer = requestjobs.NewEnqueuer(q)
	if f.enqFail {
		enq = failingEnqueuer{enq}
	}
	svc = requests.New(f.st, n, n, nil, requests.Policy{}, zerolog.Nop(), requests.WithEnqueuer(enq))
	return &proc{q: q, svc: svc, n: n}
}

func (p *proc) start(t *testing.T) {
	t.Helper()
	if err := p.q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = p.q.Stop(ctx)
	})
}

func (f *fixture) create(p *proc) (*accessbot.AccessRequest, error) {
	return p.svc.Create(f.ctx, requests.UserAccess{TenantID: f.tenant, RequesterID: f.alice, AppID: f.app,
		ConnectionID: f.connID, Duration: time.Hour, Justification: "Fix the release pipeline."})
}

// kinds counts River jobs by kind (and checks their args carry ids only).
func (f *fixture) kinds(p *proc, states ...rivertype.JobState) map[string]int {
	f.t.Helper()
	params := river.NewJobListParams().First(100)
	if len(states) > 0 {
		params = params.States(states...)
	}
	res, err := p.q.Client().JobList(f.ctx, params)
	f.must(err)
	out := map[string]int{}
	for _, j := range res.Jobs {
		out[j.Kind]++
		var fields map[string]any
		f.must(json.Unmarshal(j.EncodedArgs, &fields))
		for k := range fields {
			switch k {
			case "kind", "tenant_id", "request_id", "level", "approver_ids", "decision_id":
			default:
				f.t.Errorf("job %s carries %q: args should be ids only", j.Kind, k)
			}
		}
		if fields["tenant_id"] != f.tenant {
			f.t.Errorf("job %s tenant_id = %v, want %s", j.Kind, fields["tenant_id"], f.tenant)
		}
	}
	return out
}

func (f *fixture) waitAllDone(p *proc) {
	f.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		open := f.kinds(p, rivertype.JobStateAvailable, rivertype.JobStateRunning, rivertype.JobStateRetryable,
			rivertype.JobStateScheduled, rivertype.JobStatePending)
		if len(open) == 0 {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("jobs still open: %v", open)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func forEachDriver(t *testing.T, fn func(t *testing.T, f *fixture)) {
	t.Parallel()
	for _, d := range storetest.Drivers(t) {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			fn(t, newFixture(t, d))
		})
	}
}

func TestRolledBackChangeEnqueuesNothing(t *testing.T) {
	forEachDriver(t, func(t *testing.T, f *fixture) {
		f.enqFail = true
		p := f.process(newNotifier())
		if _, err := f.create(p); err == nil {
			t.Fatal("create succeeded although its transaction failed")
		}
		if got := f.kinds(p); len(got) != 0 {
			t.Fatalf("rolled back create left jobs: %v", got)
		}
		pending, err := f.st.ListRequestsByStatus(f.ctx, f.tenant, accessbot.StatusPending, 0)
		f.must(err)
		if len(pending) != 0 {
			t.Fatalf("rolled back create left %d request(s)", len(pending))
		}
	})
}

func TestCommittedChangesEnqueueOneJobPerNotification(t *testing.T) {
	forEachDriver(t, func(t *testing.T, f *fixture) {
		n := newNotifier()
		p := f.process(n)
		r, err := f.create(p)
		f.must(err)
		// Only the confirmation: its worker asks level 1 once it is sent.
		want := map[string]int{requestjobs.KindRequestCreated: 1}
		if got := f.kinds(p); !sameCounts(got, want) {
			t.Fatalf("after create: jobs %v, want %v", got, want)
		}
		if a, _ := n.count("RequestCreated"); a != 0 {
			t.Fatal("notified before any worker ran")
		}
		_, err = p.svc.Decide(f.ctx, requests.DecideInput{TenantID: f.tenant, RequestID: r.ID, ActorID: f.mgr,
			Level: 0, Decision: accessbot.DecisionApprove})
		f.must(err)
		want[requestjobs.KindLevelDecided], want[requestjobs.KindProvision], want[requestjobs.KindRequestFinished] = 1, 1, 1
		if got := f.kinds(p); !sameCounts(got, want) {
			t.Fatalf("after approval: jobs %v, want %v", got, want)
		}
		p.start(t)
		f.waitAllDone(p)
		for _, m := range []string{"RequestCreated", "LevelDecided", "Provision", "RequestFinished"} {
			if a, d := n.count(m); a != 1 || d != 1 {
				t.Errorf("%s: attempts=%d deliveries=%d, want 1 and 1", m, a, d)
			}
		}
		// The level was decided before the confirmation went out: it is never asked.
		if a, _ := n.count("ApprovalNeeded"); a != 0 {
			t.Errorf("ApprovalNeeded for a closed level sent %d time(s)", a)
		}
	})
}

func TestFailingNotifierIsRetriedAndDeliversOnce(t *testing.T) {
	forEachDriver(t, func(t *testing.T, f *fixture) {
		n := newNotifier()
		n.failFirst["ApprovalNeeded"] = 2
		p := f.process(n)
		p.start(t)
		_, err := f.create(p)
		f.must(err)
		f.waitAllDone(p)
		if a, d := n.count("ApprovalNeeded"); a != 3 || d != 1 {
			t.Fatalf("ApprovalNeeded: attempts=%d deliveries=%d, want 3 and 1", a, d)
		}
		if got := f.kinds(p, rivertype.JobStateCompleted); got[requestjobs.KindApprovalNeeded] != 1 {
			t.Fatalf("completed jobs %v", got)
		}
	})
}

// TestLevelOneWaitsForTheConfirmation: level 1 is asked only once the
// requester's confirmation exists (its news goes in that thread), so a fresh
// request needs no retry, although River works jobs concurrently.
func TestLevelOneWaitsForTheConfirmation(t *testing.T) {
	forEachDriver(t, func(t *testing.T, f *fixture) {
		n := newNotifier()
		n.threaded, n.slow = true, 30*time.Millisecond
		p := f.process(n)
		p.start(t)
		const count = 3
		for i := range count {
			conn := &accessbot.Connection{TenantID: f.tenant, AppID: f.app, Name: fmt.Sprintf("team-%d", i), Type: "group"}
			f.must(f.st.CreateConnection(f.ctx, conn))
			_, err := p.svc.Create(f.ctx, requests.UserAccess{TenantID: f.tenant, RequesterID: f.alice, AppID: f.app,
				ConnectionID: conn.ID, Duration: time.Hour, Justification: "Fix the release pipeline."})
			f.must(err)
		}
		f.waitAllDone(p)
		if a, d := n.count("ApprovalNeeded"); a != count || d != count {
			t.Fatalf("ApprovalNeeded: attempts=%d deliveries=%d, want %d and %d (no retry)", a, d, count, count)
		}
		if got := f.kinds(p, rivertype.JobStateCompleted); got[requestjobs.KindApprovalNeeded] != count || got[requestjobs.KindRequestCreated] != count {
			t.Fatalf("completed jobs %v", got)
		}
	})
}

func TestPermanentErrorIsNotRetried(t *testing.T) {
	forEachDriver(t, func(t *testing.T, f *fixture) {
		n := newNotifier()
		n.permanent["RequestCreated"] = true
		p := f.process(n)
		p.start(t)
		_, err := f.create(p)
		f.must(err)
		f.waitAllDone(p)
		if a, _ := n.count("RequestCreated"); a != 1 {
			t.Fatalf("RequestCreated attempts=%d, want 1", a)
		}
		if got := f.kinds(p, rivertype.JobStateCancelled); got[requestjobs.KindRequestCreated] != 1 {
			t.Fatalf("cancelled jobs %v, want the request_created job", got)
		}
		// Given up on, the confirmation no longer holds level 1 back.
		if _, d := n.count("ApprovalNeeded"); d != 1 {
			t.Fatalf("ApprovalNeeded deliveries=%d, want 1", d)
		}
	})
}

// TestCrashAfterCommitStillDelivers: the process that committed stops before
// its workers ran anything; a new process on the same database delivers.
func TestCrashAfterCommitStillDelivers(t *testing.T) {
	forEachDriver(t, func(t *testing.T, f *fixture) {
		crashed := newNotifier()
		p1 := f.process(crashed)
		_, err := f.create(p1)
		f.must(err)
		// p1 never works a job: it died right after the commit.
		fresh := newNotifier()
		p2 := f.process(fresh)
		p2.start(t)
		f.waitAllDone(p2)
		for _, m := range []string{"RequestCreated", "ApprovalNeeded"} {
			if _, d := fresh.count(m); d != 1 {
				t.Errorf("%s delivered %d time(s) by the new process, want 1", m, d)
			}
			if a, _ := crashed.count(m); a != 0 {
				t.Errorf("%s run by the crashed process", m)
			}
		}
	})
}

func TestUnknownKindIsRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "sqlite")
	p := f.process(newNotifier())
	err := f.st.InTx(f.ctx, func(q store.Queries) error {
		return requestjobs.NewEnqueuer(p.q).Enqueue(f.ctx, q, []requests.Job{{Kind: "bogus", TenantID: f.tenant}})
	})
	if !errors.Is(err, accessbot.ErrInvalid) {
		t.Fatalf("unknown kind: got %v, want ErrInvalid", err)
	}
}

func sameCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	ka := make([]string, 0, len(a))
	for k := range a {
		ka = append(ka, k)
	}
	sort.Strings(ka)
	for _, k := range ka {
		if a[k] != b[k] {
			return false
		}
	}
	return true
}

func TestJobOfAMissingRequestIsCancelled(t *testing.T) {
	forEachDriver(t, func(t *testing.T, f *fixture) {
		n := newNotifier()
		p := f.process(n)
		f.must(f.st.InTx(f.ctx, func(q store.Queries) error {
			return requestjobs.NewEnqueuer(p.q).Enqueue(f.ctx, q, []requests.Job{
				{Kind: requests.JobRequestFinished, TenantID: f.tenant, RequestID: "no-such-request"}})
		}))
		p.start(t)
		f.waitAllDone(p)
		if got := f.kinds(p, rivertype.JobStateCancelled); got[requestjobs.KindRequestFinished] != 1 {
			t.Fatalf("cancelled jobs %v, want the request_finished job", got)
		}
		if a, _ := n.count("RequestFinished"); a != 0 {
			t.Fatalf("notified %d time(s) about a missing request", a)
		}
	})
}
