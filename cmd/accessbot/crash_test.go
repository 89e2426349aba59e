package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/slackapi"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/flows/provision"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/handlers/views"
	"github.com/accessbot/accessbot/internal/testenv"
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
	*faultTenant      // people: one requester per request, DMs are paced per channel
	t                 *testing.T
	fake              *slackfake.Server
	st                store.Store
	conns             []*accessbot.Connection
	mu                sync.Mutex
	created, approved []string
	requester         map[string]int // request id → index in requesters
}

// crashRequests bounds the requests one run creates (one every 4 s).
const crashRequests = 400

func requesterSlackID(i int) string { return faultPersonID("r", i) }

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
			if err := cut.Cut(ctx, plan.outage); err != nil {
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
	t.Logf("[counts] crash/outage on %s: kills %d, outages %d (%s each, lease %s), runs %d (%d refused to start in an outage, "+
		"%d job queue starts retried, %d of them after a LISTEN on a lost connection), requests %d, posts %d, duplicated %d, lost %d, history lookups %d, jobs settled %v",
		driver, kills, outages, plan.outage, plan.lease, c.runs, refused, c.count("job queue did not start"),
		c.count("conn closed (the connection to the database was lost)"), len(w.created), total,
		dups, lost, lookups, settled)
	stale := w.staleFlowMessages(ctx)
	for _, s := range stale {
		t.Errorf("flow message not showing its flow's last state: %s", s)
	}
	t.Logf("[counts] crash/outage on %s: provisioning flows %d, their thread messages posted %d, showing the last state %d",
		driver, len(w.approved), w.flowPosts(posts), len(w.approved)-len(stale))
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
		p := testenv.NewTCPProxy(t, u.Host)
		u.Host = p.Addr()
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

	w := &crashWorld{t: t, fake: fake, st: st, requester: map[string]int{}}
	w.faultTenant = seedFaultTenant(t, ctx, fake, team.ID, st, driver, "r", crashRequests)
	for i := range 10 {
		conn := &accessbot.Connection{TenantID: w.tenant, AppID: w.app.ID, Name: "group-" + strconv.Itoa(i), Type: "group"}
		must(t, st.CreateConnection(ctx, conn))
		w.conns = append(w.conns, conn)
	}
	env := faultEnv(driver, childDSN, fake, team, plan.timeout, plan.rescue, plan.lease)
	env["ACCESSBOT_SLACK_CONNECTIONS"] = "1"
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
		req, err := w.svc.Create(ctx, requests.UserAccess{TenantID: w.tenant, RequesterID: w.people[i].ID, AppID: w.app.ID,
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
	return w.people[i].ID + "@" + slackfake.DMChannel(requesterSlackID(i))
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
// owner's fulfilment DM (the manual step of the default action chain) and
// the provisioning flow's one message in the thread (the delivery keys of
// handlers.Notifier and handlers.FlowNotifier). The flow messages were
// missing under kills until FlowChanged stopped taking the manual step's
// remembered DMs for its own message.
func (w *crashWorld) expectedKeys() map[string]bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]bool{}
	for _, id := range w.created {
		out[w.key(id, "requester", w.people[w.requester[id]].ID)] = true
		out[w.key(id, "approval:1", w.eve.ID)] = true
		out[w.key(id, "waiting:L0", w.thread(id))] = true
	}
	for _, id := range w.approved {
		out[w.key(id, "finished:approved", w.thread(id))] = true
		out[w.key(id, "fulfilment", w.olly.ID)] = true
		out[w.key(id, "flow:provision", w.thread(id))] = true
	}
	return out
}

// flowPosts counts the provisioning flows' thread messages among posts.
func (w *crashWorld) flowPosts(posts map[string]int) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, id := range w.approved {
		n += posts[w.key(id, "flow:provision", w.thread(id))]
	}
	return n
}

// staleFlowMessages names every approved request whose flow message in
// the thread does not read exactly as its flow stored now (the state the
// last flow-changed job must leave on Slack), or that has no flow.
func (w *crashWorld) staleFlowMessages(ctx context.Context) []string {
	w.mu.Lock()
	keys := map[string]string{} // delivery key → request id
	for _, id := range w.approved {
		keys[w.key(id, "flow:provision", w.thread(id))] = id
	}
	w.mu.Unlock()
	shown := map[string]string{} // request id → text
	for _, m := range w.fake.AllMessages() {
		if m.Metadata == nil || m.Metadata.EventType != slackapi.DeliveryEventType || m.Deleted {
			continue
		}
		if k, _ := m.Metadata.EventPayload["key"].(string); keys[k] != "" {
			shown[keys[k]] = m.Text
		}
	}
	var out []string
	for _, id := range slices.Sorted(maps.Values(keys)) {
		f, err := w.st.GetActionFlowByKey(ctx, w.tenant, provision.FlowKey(provision.Provision, id))
		if err != nil {
			out = append(out, fmt.Sprintf("request %s: %v", id, err))
			continue
		}
		conn, err := w.st.GetConnection(ctx, w.tenant, f.ConnectionID)
		if err != nil {
			out = append(out, fmt.Sprintf("request %s: %v", id, err))
			continue
		}
		if want, _ := views.FlowMessage(f, w.app.Name+" / "+conn.Name); shown[id] != want {
			out = append(out, fmt.Sprintf("request %s (flow v%d %s): shows %q, want %q", id, f.Version, f.Status, shown[id], want))
		}
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
	if len(jobsLeft(ctx, w.q)) > 0 {
		return false
	}
	posts := w.fake.DeliveryPosts(slackapi.DeliveryEventType)
	for k := range w.expectedKeys() {
		if posts[k] == 0 {
			return false
		}
	}
	return len(w.staleFlowMessages(ctx)) == 0
}

func (w *crashWorld) unfinished(ctx context.Context) string {
	var b strings.Builder
	b.WriteString(describeJobs(jobsLeft(ctx, w.q)))
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
