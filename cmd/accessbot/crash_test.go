package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/slackapi"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/flows/requests/requestjobs"
	"github.com/accessbot/accessbot/internal/testenv"
	"github.com/accessbot/accessbot/jobs"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/backend"
)

// crashFullEnv switches TestCrashAndOutageDeliverExactlyOnce to its
// full-length variant: 30 s outages and production-like leases.
const crashFullEnv = "ACCESSBOT_CRASHTEST_FULL"

// crashPlan is how hard the crash test pushes.
type crashPlan struct {
	kills, outages int
	outage         time.Duration // how long the database is unreachable
	lease          time.Duration // jobs.delivery_lease: shorter than outage
	timeout        time.Duration // jobs.timeout
	rescue         time.Duration // jobs.rescue_after
}

// crashEventsEnv sets the number of kills and of outages (default 30 each),
// for a quick local run.
const crashEventsEnv = "ACCESSBOT_CRASHTEST_EVENTS"

func planFor() crashPlan {
	p := crashPlan{kills: 30, outages: 30, outage: 2 * time.Second, lease: time.Second,
		timeout: 10 * time.Second, rescue: 10 * time.Second}
	if os.Getenv(crashFullEnv) == "1" {
		p.outage, p.lease, p.timeout, p.rescue = 30*time.Second, 20*time.Second, 2*time.Minute, 2*time.Minute
	}
	if n, err := strconv.Atoi(os.Getenv(crashEventsEnv)); err == nil && n > 0 {
		p.kills, p.outages = n, n
	}
	return p
}

// TestCrashAndOutageDeliverExactlyOnce is the proof of the delivery
// guarantee (issue 9, points 1-3). On SQLite and on PostgreSQL, the real
// `accessbot run` runs as a separate process (this test binary
// re-executed, see TestMain) against the fake Slack, working the
// notification jobs of a stream of access requests that the test creates
// and approves in the same database: the requester's confirmation, the
// approver's DM, the requester's thread replies and the owner's
// fulfilment DM. Meanwhile the test, 30 times each:
//
//   - kills it with SIGKILL at a random moment while it sends, and starts
//     it again (the fake Slack answers posts 50 ms after storing them, and
//     every other kill lands in that window, between a post and its
//     record: with the history lookup disabled, 10 kills gave 8 duplicates);
//   - makes the database unreachable for longer than the delivery lease
//     (kills and outages run side by side and sometimes overlap):
//     PostgreSQL through a TCP proxy the test cuts (the real server is never
//     touched), SQLite by holding its write lock from another connection.
//
// Then, within jobs.rescue_after plus River's rescue cycle, every job
// must have finished (point 1: no job of a killed process waits an hour),
// and the fake Slack, which counts posts per delivery key, must show every
// expected notification posted exactly once: 0 duplicated, 0 lost. The
// counts are logged (go test -v).
//
// Scaled for CI (2 s outages, a 1 s lease, 10 s job timeout and rescue):
// both databases run in parallel in about 3 minutes under -race on a
// loaded 2-core machine. ACCESSBOT_CRASHTEST_FULL=1 runs the full-length
// variant: 30 s outages, a 20 s lease, 2 min job timeout and rescue (roughly
// half an hour); ACCESSBOT_CRASHTEST_EVENTS=N sets the number of kills and
// of outages.
func TestCrashAndOutageDeliverExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts a process many times")
	}
	t.Parallel()
	drivers := []string{backend.SQLite}
	if testenv.PostgresAvailable(t) {
		drivers = append(drivers, backend.Postgres)
	}
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			runCrashTest(t, driver, planFor())
		})
	}
}

// crashWorld is what the crash test sets up: fake Slack, a store the test
// writes to directly, and the people of the requests.
type crashWorld struct {
	t                 *testing.T
	fake              *slackfake.Server
	st                store.Store
	svc               *requests.Service
	q                 *jobs.Queue
	tenant            string
	eve, olly         *accessbot.User
	requesters        []*accessbot.User // one per request: DMs are paced per channel
	app               *accessbot.Application
	conns             []*accessbot.Connection
	mu                sync.Mutex
	created, approved []string
	requester         map[string]int // request id → index in requesters
}

// crashRequests bounds the requests one run creates (one every 4 s).
const crashRequests = 400

func requesterSlackID(i int) string { return fmt.Sprintf("UR%04d", i) }

func runCrashTest(t *testing.T, driver string, plan crashPlan) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute+time.Duration(plan.kills+plan.outages)*(plan.outage+20*time.Second))
	defer cancel()
	w, env, cut := newCrashWorld(t, ctx, driver, plan)
	c := newChild(t, env)
	c.start()

	// Work: new requests, and approvals of those whose approver was asked.
	workCtx, stopWork := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { w.produce(workCtx) })
	wg.Go(func() { w.approve(workCtx) })

	// Kills and outages run side by side, each at random moments while
	// posts go out; they overlap at times, as they may in production.
	var killsN, outagesN atomic.Int32
	refused := 0
	var faults sync.WaitGroup
	faults.Go(func() {
		rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
		for int(killsN.Load()) < plan.kills && ctx.Err() == nil {
			if c.exited() { // it could not start during an outage: start it again
				refused++
				sleep(ctx, time.Second)
				c.start()
			}
			if !w.waitForPosts(ctx, c, 1, 90*time.Second) {
				if c.exited() {
					continue
				}
				t.Errorf("no post for 90 s after %d kills, %d outages\nlog:\n%s", killsN.Load(), outagesN.Load(), c.tail())
				return
			}
			// Every other kill lands within the fake's 50 ms answer delay:
			// the post is stored, its sender has not heard back.
			wait := time.Duration(rng.IntN(300)) * time.Millisecond
			if killsN.Load()%2 == 0 {
				wait = time.Duration(rng.IntN(40)) * time.Millisecond
			}
			sleep(ctx, wait)
			c.stop(syscall.SIGKILL)
			killsN.Add(1)
			c.start()
		}
	})
	faults.Go(func() {
		rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
		for int(outagesN.Load()) < plan.outages && ctx.Err() == nil {
			// Up about as long as down, so work goes on between outages.
			sleep(ctx, plan.outage/2+time.Duration(rng.Int64N(int64(plan.outage))))
			if err := cut.cut(ctx, plan.outage); err != nil {
				t.Errorf("outage %d: %v", outagesN.Load()+1, err)
				return
			}
			outagesN.Add(1)
		}
	})
	faults.Wait()
	kills, outages := int(killsN.Load()), int(outagesN.Load())
	if c.exited() {
		c.start()
	}
	stopWork()
	wg.Wait()

	// Point 1: whatever a killed process left running is rescued and
	// finished within the bound: rescue_after, River's 30 s rescue cycle,
	// its 15 s leader hand-over, and the work itself.
	bound := plan.rescue + 30*time.Second + 15*time.Second + 60*time.Second
	deadline := time.Now().Add(bound)
	settled := false
	for time.Now().Before(deadline) {
		w.approveAsked(ctx)
		if w.settled(ctx) {
			settled = true
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if !settled {
		c.stop(syscall.SIGQUIT) // its goroutines, in the log, for the failure below
	}
	c.stop(syscall.SIGTERM)

	posts := w.fake.DeliveryPosts(slackapi.DeliveryEventType)
	want := w.expectedKeys()
	dups, lost, total := 0, 0, 0
	for k, n := range posts {
		total += n
		if n > 1 {
			dups += n - 1
			t.Errorf("duplicate: %s posted %d times", k, n)
		}
		if !want[k] {
			t.Errorf("unexpected delivery key %s", k)
		}
	}
	for k := range want {
		if posts[k] == 0 {
			lost++
			t.Errorf("lost: %s never posted", k)
		}
	}
	untagged := w.fake.CallCount("chat.postMessage") - total
	lookups := w.fake.CallCount("conversations.history") + w.fake.CallCount("conversations.replies")
	t.Logf("[counts] crash/outage on %s: kills %d, outages %d (%s each, lease %s), runs %d (%d refused to start in an outage), requests %d, "+
		"posts %d, duplicated %d, lost %d, history lookups %d, jobs settled %v",
		driver, kills, outages, plan.outage, plan.lease, c.runs, refused, len(w.created), total, dups, lost, lookups, settled)
	if kills < plan.kills || outages < plan.outages {
		t.Errorf("only %d kills and %d outages of %d each", kills, outages, plan.kills)
	}
	if !settled {
		t.Errorf("jobs not all finished within %s of the last fault:\n%s\nlog:\n%s", bound, w.unfinished(ctx), c.tail())
	}
	if untagged < 0 {
		t.Errorf("fewer chat.postMessage calls than tagged posts: %d", untagged)
	}
	if len(w.created) < 10 || total < 5*len(w.created) {
		t.Errorf("%d requests and %d posts: too little work under the faults", len(w.created), total)
	}
}

func newCrashWorld(t *testing.T, ctx context.Context, driver string, plan crashPlan) (*crashWorld, map[string]string, outage) {
	t.Helper()
	fake := slackfake.New()
	t.Cleanup(fake.Close)
	team := fake.AddTeam(slackfake.Team{ID: "T1", Name: "Acme"})
	for _, u := range []slackfake.User{
		{ID: "UEVE", TeamID: "T1", Name: "eve", Email: "eve@acme.test"},
		{ID: "UOLLY", TeamID: "T1", Name: "olly", Email: "olly@acme.test"},
	} {
		if _, err := fake.AddUser(u); err != nil {
			t.Fatal(err)
		}
	}
	for i := range crashRequests {
		if _, err := fake.AddUser(slackfake.User{ID: requesterSlackID(i), TeamID: "T1", Name: fmt.Sprintf("r%d", i),
			Email: fmt.Sprintf("r%d@acme.test", i)}); err != nil {
			t.Fatal(err)
		}
	}
	// Slack answers posts a little after storing them: a kill in between
	// leaves a post its sender never heard of.
	fake.DelayAnswer("chat.postMessage", 50*time.Millisecond)

	var dsn, childDSN string
	var cut outage
	switch driver {
	case backend.SQLite:
		dsn = "file:" + filepath.Join(t.TempDir(), "crash.db")
		childDSN = dsn
	case backend.Postgres:
		dsn = testenv.PostgresDSN(t)
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		p := newTCPProxy(t, u.Host)
		u.Host = p.addr()
		childDSN, cut = u.String(), p
	}
	st, err := backend.Open(ctx, driver, dsn, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	db := st.(interface{ DB() *sql.DB }).DB()
	if cut == nil {
		cut = sqliteLock{db: db}
	}

	w := &crashWorld{t: t, fake: fake, st: st}
	ten := &accessbot.Tenant{Slug: "acme", Name: "Acme"}
	must(t, st.CreateTenant(ctx, ten))
	w.tenant = ten.ID
	must(t, st.BindWorkspace(ctx, &accessbot.Workspace{TenantID: ten.ID, TeamID: "T1", TeamName: "Acme"}))
	w.eve = &accessbot.User{TenantID: ten.ID, Status: accessbot.UserActive, Role: accessbot.RoleMember, Email: "eve@acme.test", Name: "Eve"}
	w.olly = &accessbot.User{TenantID: ten.ID, Status: accessbot.UserActive, Role: accessbot.RoleMember, Email: "olly@acme.test", Name: "Olly"}
	must(t, st.CreateUser(ctx, w.eve))
	must(t, st.CreateUser(ctx, w.olly))
	w.requester = map[string]int{}
	for i := range crashRequests {
		u := &accessbot.User{TenantID: ten.ID, Status: accessbot.UserActive, Role: accessbot.RoleMember,
			Email: fmt.Sprintf("r%d@acme.test", i), Name: fmt.Sprintf("R%d", i)}
		must(t, st.CreateUser(ctx, u))
		w.requesters = append(w.requesters, u)
	}
	w.app = &accessbot.Application{TenantID: ten.ID, Name: "GitLab", Connector: "gitlab", PrimaryOwnerID: w.olly.ID, MaxDuration: 24 * time.Hour}
	must(t, st.CreateApplication(ctx, w.app))
	for i := range 10 {
		conn := &accessbot.Connection{TenantID: ten.ID, AppID: w.app.ID, Name: "group-" + strconv.Itoa(i), Type: "group"}
		must(t, st.CreateConnection(ctx, conn))
		w.conns = append(w.conns, conn)
	}
	must(t, st.UpsertApprovalChain(ctx, &accessbot.ApprovalChain{TenantID: ten.ID, Name: "default",
		Levels: []accessbot.ApprovalLevel{{Rule: accessbot.RuleAny, Approvers: []accessbot.Approver{{Kind: accessbot.ApproverUser, UserID: w.eve.ID}}}}}))

	// The test's own requests service inserts the jobs with each change,
	// as the Slack handlers do; only the child works them.
	workers := river.NewWorkers()
	requestjobs.AddWorkers(workers, func(context.Context, requests.Job) error { return nil }, nil, zerolog.Nop())
	w.q, err = jobs.New(jobs.Config{Driver: driver, DB: db, Workers: workers, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	w.svc = requests.New(st, nil, nil, nil, requests.Policy{}, zerolog.Nop(), requests.WithEnqueuer(requestjobs.NewEnqueuer(w.q)))

	env := map[string]string{
		"ACCESSBOT_HTTP_LISTEN":         "127.0.0.1:0",
		"ACCESSBOT_STORE_DRIVER":        driver,
		"ACCESSBOT_STORE_DSN":           childDSN,
		"ACCESSBOT_SLACK_APP_TOKEN":     fake.AppToken(),
		"ACCESSBOT_SLACK_BOT_TOKEN":     team.BotToken,
		"ACCESSBOT_SLACK_CONNECTIONS":   "1",
		"ACCESSBOT_SLACK_TENANT":        "acme",
		"ACCESSBOT_SLACK_API_URL":       fake.URL(),
		"ACCESSBOT_LOG_LEVEL":           "warn",
		"ACCESSBOT_JOBS_TIMEOUT":        plan.timeout.String(),
		"ACCESSBOT_JOBS_RESCUE_AFTER":   plan.rescue.String(),
		"ACCESSBOT_JOBS_DELIVERY_LEASE": plan.lease.String(),
		"ACCESSBOT_JOBS_MAX_BACKOFF":    "1s",
	}
	return w, env, cut
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// produce creates a request every 4 s, each of another requester: the
// bot's Slack pacing (1 post a second per channel, 5 per workspace, 1
// update a second) bounds how much work it can do.
func (w *crashWorld) produce(ctx context.Context) {
	for i := 0; i < crashRequests && ctx.Err() == nil; i++ {
		req, err := w.svc.Create(ctx, requests.UserAccess{TenantID: w.tenant, RequesterID: w.requesters[i].ID, AppID: w.app.ID,
			ConnectionID: w.conns[i%len(w.conns)].ID, Duration: time.Hour, Justification: "Crash test."})
		if err == nil {
			w.mu.Lock()
			w.created = append(w.created, req.ID)
			w.requester[req.ID] = i
			w.mu.Unlock()
		} else if ctx.Err() == nil {
			w.t.Errorf("create request %d: %v", i, err)
		}
		sleep(ctx, 4*time.Second)
	}
}

// thread names the requester's confirmation thread of a request in its
// delivery keys; w.mu held.
func (w *crashWorld) thread(id string) string {
	i := w.requester[id]
	return w.requesters[i].ID + "@" + slackfake.DMChannel(requesterSlackID(i))
}

// approve has Eve approve each request once she was asked and the
// requester told so (approving earlier makes that news moot, and unsent).
func (w *crashWorld) approve(ctx context.Context) {
	for ctx.Err() == nil {
		w.approveAsked(ctx)
		sleep(ctx, 200*time.Millisecond)
	}
}

func (w *crashWorld) approveAsked(ctx context.Context) {
	posts := w.fake.DeliveryPosts(slackapi.DeliveryEventType)
	w.mu.Lock()
	todo := w.pending()
	threads := map[string]string{}
	for _, id := range todo {
		threads[id] = w.thread(id)
	}
	w.mu.Unlock()
	for _, id := range todo {
		if posts[w.key(id, "approval:1", w.eve.ID)] == 0 || posts[w.key(id, "waiting:L0", threads[id])] == 0 {
			continue
		}
		_, err := w.svc.Decide(ctx, requests.DecideInput{TenantID: w.tenant, RequestID: id, ActorID: w.eve.ID, Decision: accessbot.DecisionApprove})
		var already *requests.AlreadyDecidedError
		if err != nil && !errors.As(err, &already) {
			if ctx.Err() == nil {
				w.t.Logf("approve %s: %v (retried)", id, err)
			}
			continue
		}
		w.mu.Lock()
		w.approved = append(w.approved, id)
		w.mu.Unlock()
	}
}

// pending lists created requests not approved yet; w.mu held.
func (w *crashWorld) pending() []string {
	done := map[string]bool{}
	for _, id := range w.approved {
		done[id] = true
	}
	var out []string
	for _, id := range w.created {
		if !done[id] {
			out = append(out, id)
		}
	}
	return out
}

func (w *crashWorld) key(requestID, what, recipient string) string {
	return "request:" + requestID + ":" + what + ":" + recipient
}

// expectedKeys are the notifications every approved request owes: the
// requester's confirmation and two thread replies, the approver's DM, the
// owner's fulfilment DM (the delivery keys of handlers.Notifier).
func (w *crashWorld) expectedKeys() map[string]bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]bool{}
	for _, id := range w.created {
		out[w.key(id, "requester", w.requesters[w.requester[id]].ID)] = true
		out[w.key(id, "approval:1", w.eve.ID)] = true
		out[w.key(id, "waiting:L0", w.thread(id))] = true
	}
	for _, id := range w.approved {
		out[w.key(id, "finished:approved", w.thread(id))] = true
		out[w.key(id, "fulfilment", w.olly.ID)] = true
	}
	return out
}

// waitForPosts waits until n more posts reached the fake Slack.
func (w *crashWorld) waitForPosts(ctx context.Context, c *child, n int, max time.Duration) bool {
	start := w.fake.CallCount("chat.postMessage")
	deadline := time.Now().Add(max)
	for time.Now().Before(deadline) && ctx.Err() == nil && !c.exited() {
		if w.fake.CallCount("chat.postMessage") >= start+n {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// settled: every request approved, every River job completed, every
// expected notification posted.
func (w *crashWorld) settled(ctx context.Context) bool {
	w.mu.Lock()
	open := len(w.pending())
	w.mu.Unlock()
	if open > 0 {
		return false
	}
	if len(w.jobsLeft(ctx)) > 0 {
		return false
	}
	posts := w.fake.DeliveryPosts(slackapi.DeliveryEventType)
	for k := range w.expectedKeys() {
		if posts[k] == 0 {
			return false
		}
	}
	return true
}

func (w *crashWorld) jobsLeft(ctx context.Context) []*rivertype.JobRow {
	res, err := w.q.Client().JobList(ctx, river.NewJobListParams().States(rivertype.JobStateAvailable, rivertype.JobStateRunning,
		rivertype.JobStateRetryable, rivertype.JobStateScheduled, rivertype.JobStatePending, rivertype.JobStateDiscarded,
		rivertype.JobStateCancelled).First(1000))
	if err != nil {
		return []*rivertype.JobRow{{Kind: "list failed: " + err.Error()}}
	}
	return res.Jobs
}

func (w *crashWorld) unfinished(ctx context.Context) string {
	var b strings.Builder
	for _, j := range w.jobsLeft(ctx) {
		fmt.Fprintf(&b, "job %d %s %s attempt %d errors %d args %s\n", j.ID, j.Kind, j.State, j.Attempt, len(j.Errors), j.EncodedArgs)
	}
	w.mu.Lock()
	fmt.Fprintf(&b, "requests not approved: %d\n", len(w.pending()))
	w.mu.Unlock()
	return b.String()
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
