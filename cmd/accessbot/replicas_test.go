package main

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/riverqueue/river/rivertype"
	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot"
	"github.com/accessbot/accessbot/bot/slackapi"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/flows/provision"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/handlers/views"
	"github.com/accessbot/accessbot/internal/testenv"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/backend"
)

// replicaExpireAfter is approvals.expire_after for the replicas: requests
// nobody decides expire on a replica's tick (every 30 s).
const replicaExpireAfter = 20 * time.Second

// TestReplicasUnderFaults runs three `accessbot run` processes (this test
// binary re-executed, see TestMain) on one PostgreSQL and one Redis, each
// through a TCP proxy the test can cut, against the fake Slack, which
// spreads envelopes over all their sockets and redelivers unacked ones.
// Under steady load (requests created, Approve clicks by the approver over
// Slack, some clicked twice, racing denials and cancellations, App Home
// opens, the owner's Done clicks on the provisioning steps, grants of 30 s
// that end on the replicas' grants tick), it applies one fault per phase
// for a bounded time:
//
//   - SIGKILL one replica mid-load, then restart it;
//   - PostgreSQL unreachable;
//   - Redis unreachable (the bot keeps serving with in-process dedupe);
//   - every Slack socket dropped;
//   - Slack Web API answering 503 and 429 for a while;
//   - a SIGTERM rolling restart of all three.
//
// After each phase it counts ([counts] lines): every envelope sent so far
// acked, no request with two decisions, no notification posted twice. At
// the end: every request ended once, every durable job completed, every
// request's confirmation and every approved request's fulfilment DM
// posted exactly once, every reminder and escalation notice at most once,
// every provisioning and deprovisioning step carried out once, some grants
// ended; /metrics of the replicas moved with the traffic; the replicas'
// logs follow each approval from its envelope to its decision; and the
// history of request operations (the test's own direct decisions with
// their outcomes, the Slack clicks, the replicas' expiries and grant ends
// as operations of unknown outcome, and a final read of each request) is
// linearizable against a one-request model (history_test.go) by porcupine.
func TestReplicasUnderFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three processes under faults")
	}
	if !testenv.PostgresAvailable(t) {
		return
	}
	if rc, _ := testenv.Redis(t); rc == nil {
		return
	}
	t.Parallel()
	// A fixed budget: about 70 s of phases, the settle (replicaSettle), and
	// the checks; it took about 110 s under -race on a loaded 2-core
	// machine. ACCESSBOT_REPLICAS_FULL=1: the lengths, about 2
	// minutes more.
	plan := replicaPlanFor()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute+2*plan.outage+plan.slack+plan.settle)
	defer cancel()
	w := newReplicaWorld(t, ctx, plan)
	for _, r := range w.replicas {
		r.start()
	}
	w.waitSockets(ctx, 6)

	loadCtx, stopLoad := context.WithCancel(ctx)
	var load sync.WaitGroup
	load.Go(func() { w.produce(loadCtx) })
	load.Go(func() { w.click(loadCtx) })
	load.Go(func() { w.homes(loadCtx) })
	load.Go(func() { w.fulfil(loadCtx) })

	phase := func(name string, fault func()) {
		t.Helper()
		start := time.Now()
		fault()
		w.phaseCounts(ctx, name, time.Since(start))
	}
	phase("baseline", func() { sleep(ctx, 6*time.Second) })
	w.checkMetrics(ctx, "after baseline")
	phase("sigkill", func() {
		sleep(ctx, time.Second)
		ends := len(w.fake.ConnEnds())
		w.replicas[1].stop(syscall.SIGKILL)
		// A killed process says no goodbye: its sockets just go away.
		if clean, n := w.socketEnds(ctx, ends, 2); clean != 0 || n < 2 {
			t.Errorf("SIGKILL: %d of %d sockets ended with a close frame, want 0 of 2", clean, n)
		}
		sleep(ctx, 2*time.Second)
		w.replicas[1].start()
		sleep(ctx, 3*time.Second)
	})
	phase("postgres down", func() { _ = w.pg.Cut(ctx, plan.outage); sleep(ctx, 2*time.Second) })
	phase("redis down", func() {
		before := w.logCount(bot.MsgDedupeInProcess)
		_ = w.redis.Cut(ctx, plan.outage)
		sleep(ctx, 2*time.Second)
		// The replicas kept serving (phaseCounts checks every envelope was
		// acked and nothing doubled), deduplicating in process, and said so.
		if n := w.logCount(bot.MsgDedupeInProcess) - before; n == 0 {
			t.Errorf("Redis was down for %s and no replica warned %q", plan.outage, bot.MsgDedupeInProcess)
		} else {
			t.Logf("[counts] replicas redis down: %d warning(s) %q", n, bot.MsgDedupeInProcess)
		}
	})
	phase("sockets dropped", func() {
		w.fake.DropConnections()
		sleep(ctx, 3*time.Second)
		w.fake.DropConnections()
		sleep(ctx, 3*time.Second)
	})
	phase("slack 5xx and 429", func() {
		// 503s and 429s in rounds of 8 s, for plan.slack.
		for end := time.Now().Add(plan.slack); time.Now().Before(end) && ctx.Err() == nil; {
			w.fake.FailNext("chat.postMessage", 8, http.StatusServiceUnavailable, 0)
			w.fake.FailNext("views.publish", 8, http.StatusInternalServerError, 0)
			w.fake.RateLimit("chat.postMessage", time.Second, 6)
			w.fake.RateLimit("chat.update", time.Second, 4)
			sleep(ctx, 8*time.Second)
		}
	})
	w.checkMetrics(ctx, "after slack faults")
	phase("sigterm rolling restart", func() {
		for i, r := range w.replicas {
			ends := len(w.fake.ConnEnds())
			code, took := r.term()
			if code != 0 || took > 25*time.Second {
				t.Errorf("replica %d: SIGTERM exit %d after %s, want 0 within the shutdown grace\nlog:\n%s", i, code, took, r.tail())
			}
			// Its sockets closed cleanly: a close frame on each, by the bot.
			clean, n := w.socketEnds(ctx, ends, 2)
			t.Logf("[counts] replicas SIGTERM replica %d: exit %d after %s, sockets closed %d, with a close frame %d",
				i, code, took.Round(time.Millisecond), n, clean)
			if n != 2 || clean != n {
				t.Errorf("replica %d: SIGTERM: %d of %d sockets ended with a close frame, want 2 of 2", i, clean, n)
			}
			r.start()
			w.waitSockets(ctx, 6)
		}
	})
	stopLoad()
	load.Wait()
	took := w.settle(ctx, replicaSettle+plan.settle)
	for _, r := range w.replicas {
		r.stop(syscall.SIGTERM)
	}
	w.finalCounts(ctx, took)
}

// replicaFullEnv switches TestReplicasUnderFaults to the lengths:
// PostgreSQL and Redis unreachable for 30 s each, Slack failing for a minute.
// By default (CI) 5 s, 5 s and 8 s.
const replicaFullEnv = "ACCESSBOT_REPLICAS_FULL"

// A minute of Slack faults outlasts 12 attempts 1 s apart (the CI
// backoff): the full run backs off as production does, up to a minute
// (jobs.max_backoff's scale), and settles that much longer.
type replicaPlan struct {
	outage, slack, backoff, settle time.Duration
}

func replicaPlanFor() replicaPlan {
	if os.Getenv(replicaFullEnv) == "1" {
		return replicaPlan{outage: 30 * time.Second, slack: time.Minute, backoff: time.Minute, settle: 2 * time.Minute}
	}
	return replicaPlan{outage: 5 * time.Second, slack: 8 * time.Second, backoff: time.Second}
}

type replicaWorld struct {
	*faultTenant // people: App Home openers; the first replicaRequests also request
	t            *testing.T
	fake         *slackfake.Server
	team         slackfake.Team
	st           store.Store
	pg, redis    *testenv.TCPProxy
	replicas     []*child
	admin        []string // admin listen address per replica
	hist         *history
	conn         *accessbot.Connection

	mu        sync.Mutex
	created   []string
	createdAt map[string]time.Time
	requester map[string]int
	clicked   map[string]int
	fulfilled map[string]bool
	envelopes []string
}

const (
	replicaPeople   = 300 // App Home openers; the first replicaRequests also request
	replicaRequests = 60
)

func personSlackID(i int) string { return faultPersonID("p", i) }

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func newReplicaWorld(t *testing.T, ctx context.Context, plan replicaPlan) *replicaWorld {
	fake := slackfake.New(slackfake.WithAckTimeout(3 * time.Second))
	t.Cleanup(fake.Close)
	// A team id of its own: Retry-After holds live in the shared Redis.
	teamID := fmt.Sprintf("TR%06d", rand.IntN(1000000))
	team := fake.AddTeam(slackfake.Team{ID: teamID, Name: "Acme"})

	dsn := testenv.PostgresDSN(t)
	u, err := url.Parse(dsn)
	must(t, err)
	pg := testenv.NewTCPProxy(t, u.Host)
	u.Host = pg.Addr()
	redisProxy := testenv.NewTCPProxy(t, "127.0.0.1:6379")

	st, err := backend.Open(ctx, backend.Postgres, dsn, zerolog.Nop())
	must(t, err)
	t.Cleanup(func() { st.Close() })
	w := &replicaWorld{t: t, fake: fake, team: team, st: st, pg: pg, redis: redisProxy, hist: newHistory(),
		createdAt: map[string]time.Time{}, requester: map[string]int{}, clicked: map[string]int{}, fulfilled: map[string]bool{}}
	w.faultTenant = seedFaultTenant(t, ctx, fake, teamID, st, backend.Postgres, "p", replicaPeople)
	w.conn = &accessbot.Connection{TenantID: w.tenant, AppID: w.app.ID, Name: "developers", Type: "group"}
	must(t, st.CreateConnection(ctx, w.conn))

	for i := range 3 {
		admin := freeAddr(t)
		w.admin = append(w.admin, admin)
		env := faultEnv(backend.Postgres, u.String(), fake, team, 10*time.Second, 10*time.Second, time.Second)
		maps.Copy(env, map[string]string{
			"ACCESSBOT_HTTP_ADMIN_LISTEN": admin,
			"ACCESSBOT_REDIS_URL":         "redis://" + redisProxy.Addr() + "/0",
			"ACCESSBOT_SLACK_CONNECTIONS": "2",
			"ACCESSBOT_LOG_FORMAT":        "json",
			// info: the lines that follow a request across the replicas.
			"ACCESSBOT_LOG_LEVEL":                "info",
			"ACCESSBOT_APPROVALS_REMINDER_AFTER": "4s",
			"ACCESSBOT_APPROVALS_ESCALATE_AFTER": "12s",
			"ACCESSBOT_APPROVALS_EXPIRE_AFTER":   replicaExpireAfter.String(),
			"ACCESSBOT_TEST_REPLICA":             strconv.Itoa(i),
			"ACCESSBOT_JOBS_MAX_BACKOFF":         plan.backoff.String(),
		})
		w.replicas = append(w.replicas, newChild(t, env))
	}
	return w
}

func (w *replicaWorld) waitSockets(ctx context.Context, n int) {
	w.t.Helper()
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := w.fake.WaitForConnections(wctx, n); err != nil {
		w.t.Fatalf("%d sockets did not connect: %v\nlog of replica 0:\n%s", n, err, w.replicas[0].tail())
	}
}

// produce creates a request every 1.5 s (the bot paces Slack to 5 posts
// and 1 update a second per workspace, and each request owes several), each
// of another requester, up to replicaRequests, and
// races some of them: the requester cancels, or Eve denies directly, while
// her Approve click may be on its way.
func (w *replicaWorld) produce(ctx context.Context) {
	for i := 0; i < replicaRequests && ctx.Err() == nil; i++ {
		var req *accessbot.AccessRequest
		at := time.Now()
		id := fmt.Sprintf("pending-%d", i)
		err := w.hist.call(0, id, "create", func() error {
			var err error
			req, err = w.svc.Create(ctx, requests.UserAccess{TenantID: w.tenant, RequesterID: w.people[i].ID, AppID: w.app.ID,
				ConnectionID: w.conn.ID, Duration: replicaDuration(i), Justification: "Replica test."})
			return err
		})
		if err != nil {
			if ctx.Err() == nil {
				w.t.Errorf("create request %d: %v", i, err)
			}
			continue
		}
		w.hist.rename(id, req.ID)
		// The replicas may expire it from expire_after on.
		w.hist.maybe(1, req.ID, "expire", at.Add(replicaExpireAfter))
		w.mu.Lock()
		w.created = append(w.created, req.ID)
		w.createdAt[req.ID] = at
		w.requester[req.ID] = i
		w.mu.Unlock()
		switch i % 6 {
		case 1: // the requester changes their mind
			go func() {
				sleep(ctx, time.Duration(rand.IntN(3000))*time.Millisecond)
				_ = w.hist.call(2, req.ID, "cancel", func() error {
					_, err := w.svc.Cancel(context.WithoutCancel(ctx), w.tenant, req.ID, w.people[i].ID)
					return err
				})
			}()
		case 2: // Eve denies from elsewhere while her click may be on its way
			go func() {
				sleep(ctx, time.Duration(rand.IntN(3000))*time.Millisecond)
				_ = w.hist.call(3, req.ID, "deny", func() error {
					_, err := w.svc.Decide(context.WithoutCancel(ctx), requests.DecideInput{TenantID: w.tenant, RequestID: req.ID,
						ActorID: w.eve.ID, Decision: accessbot.DecisionDeny, Reason: "Not this quarter."})
					return err
				})
			}()
		}
		sleep(ctx, 1500*time.Millisecond)
	}
}

// click has Eve click Approve on each approval DM once it is posted, over
// Slack (so on any replica's socket); every third request twice. Every
// sixth request (i%6 == 5) is left alone, to expire.
func (w *replicaWorld) click(ctx context.Context) {
	for ctx.Err() == nil {
		posts := w.fake.DeliveryPosts(slackapi.DeliveryEventType)
		w.mu.Lock()
		var todo []string
		for _, id := range w.created {
			if w.clicked[id] == 0 && w.requester[id]%6 != 5 && posts["request:"+id+":approval:1:"+w.eve.ID] > 0 {
				todo = append(todo, id)
			}
		}
		w.mu.Unlock()
		for _, id := range todo {
			w.mu.Lock()
			n := 1 + btoi(w.requester[id]%3 == 0)
			w.clicked[id] = n
			w.mu.Unlock()
			for range n {
				w.hist.maybe(4, id, "approve", time.Now())
				env := w.fake.SendInteractive(w.fake.BlockAction(w.team.ID, "UEVE", slackfake.Action{ActionID: views.ActionApprove,
					BlockID: views.ApprovalActionsBlockID(0, 1), Value: id, Type: "button"}))
				w.sent(env)
			}
		}
		sleep(ctx, 100*time.Millisecond)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// homes opens the App Home of a random person every 400 ms.
func (w *replicaWorld) homes(ctx context.Context) {
	for ctx.Err() == nil {
		user := personSlackID(rand.IntN(replicaPeople))
		w.sent(w.fake.SendEvent(w.fake.AppHomeOpened(w.team.ID, user)))
		sleep(ctx, 400*time.Millisecond)
	}
}

func (w *replicaWorld) sent(env string) {
	w.mu.Lock()
	w.envelopes = append(w.envelopes, env)
	w.mu.Unlock()
}

// unacked lists envelopes sent but never acked.
func (w *replicaWorld) unacked() []string {
	w.mu.Lock()
	envs := append([]string(nil), w.envelopes...)
	w.mu.Unlock()
	acked := map[string]bool{}
	for _, a := range w.fake.Acks() {
		acked[a.EnvelopeID] = true
	}
	var out []string
	for _, e := range envs {
		if !acked[e] {
			out = append(out, e)
		}
	}
	return out
}

// doubles counts requests with more than one decision, and delivery keys
// posted more than once.
func (w *replicaWorld) doubles(ctx context.Context) (decided, twice, dupPosts int) {
	w.mu.Lock()
	ids := append([]string(nil), w.created...)
	w.mu.Unlock()
	for _, id := range ids {
		ds, err := w.st.ListDecisions(ctx, w.tenant, id)
		if err != nil {
			w.t.Errorf("list decisions of %s: %v", id, err)
			continue
		}
		if len(ds) > 0 {
			decided++
		}
		if len(ds) > 1 {
			twice++
			w.t.Errorf("request %s has %d decisions", id, len(ds))
		}
	}
	for k, n := range w.fake.DeliveryPosts(slackapi.DeliveryEventType) {
		if n > 1 {
			dupPosts += n - 1
			w.t.Errorf("posted %d times: %s", n, k)
		}
	}
	return decided, twice, dupPosts
}

// phaseCounts waits (up to 45 s: Slack redelivers an unacked envelope
// every 3 s, at most 3 times, and the CI machine is slow) for every
// envelope sent so far to be acked, then logs the phase's counts.
func (w *replicaWorld) phaseCounts(ctx context.Context, name string, took time.Duration) {
	w.t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for len(w.unacked()) > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		sleep(ctx, 200*time.Millisecond)
	}
	un := w.unacked()
	decided, twice, dups := w.doubles(ctx)
	w.mu.Lock()
	sent, created := len(w.envelopes), len(w.created)
	w.mu.Unlock()
	w.t.Logf("[counts] replicas phase %q (%s): envelopes sent %d, unacked %d, deliveries %d, requests %d, decided %d, "+
		"decided twice %d, posts %d, duplicated %d, sockets %d, history ops %d",
		name, took.Round(time.Millisecond), sent, len(un), len(w.fake.Deliveries()), created, decided, twice,
		w.fake.CallCount("chat.postMessage"), dups, len(w.fake.Conns()), w.hist.len())
	if len(un) > 0 {
		w.t.Errorf("phase %q: %d envelope(s) never acked, e.g. %s", name, len(un), un[0])
	}
}

// replicaSettle bounds the wait, after the load stops, for every request to
// end, every grant past its end to be ended and every job to finish: the
// last undecided requests expire replicaExpireAfter after they were made,
// and the last short grants end replicaGrantFor after their Done click, on
// a replica's next 30 s tick; the jobs that follow get 25 s more, and the
// loaded CI machine 10 s.
const replicaSettle = max(replicaExpireAfter, replicaGrantFor) + 30*time.Second + 25*time.Second + 10*time.Second

// settle waits until every request has ended and every job is done, and
// says how long that took.
func (w *replicaWorld) settle(ctx context.Context, bound time.Duration) time.Duration {
	w.t.Helper()
	start := time.Now()
	deadline := start.Add(bound)
	var open, left, due int
	for time.Now().Before(deadline) && ctx.Err() == nil {
		open, left, due = w.open(ctx), len(jobsLeft(ctx, w.q)), w.grantsDue(ctx)
		if open == 0 && left == 0 && due == 0 && len(w.unacked()) == 0 {
			return time.Since(start)
		}
		sleep(ctx, 500*time.Millisecond)
	}
	w.t.Errorf("not settled within %s: %d request(s) pending, %d job(s) not completed, %d grant(s) past their end not ended, %d envelope(s) unacked\n%s\nlog of replica 0:\n%s",
		bound, open, left, due, len(w.unacked()), describeJobs(jobsLeft(ctx, w.q)), w.replicas[0].tail())
	return time.Since(start)
}

func (w *replicaWorld) open(ctx context.Context) int {
	rs, err := w.st.ListRequestsByStatus(ctx, w.tenant, accessbot.StatusPending, 0)
	if err != nil {
		return -1
	}
	return len(rs)
}

// finalCounts: each request ended once, the notifications it owes posted
// once, and the history linearizable.
func (w *replicaWorld) finalCounts(ctx context.Context, settled time.Duration) {
	t := w.t
	posts := w.fake.DeliveryPosts(slackapi.DeliveryEventType)
	w.mu.Lock()
	ids := append([]string(nil), w.created...)
	w.mu.Unlock()
	byStatus := map[accessbot.RequestStatus]int{}
	lost, reminders, escalations, escalated, flows, steps := 0, 0, 0, 0, 0, 0
	grantsMade, grantsEnded := 0, 0
	for _, id := range ids {
		r, err := w.st.GetRequest(ctx, w.tenant, id)
		if err != nil {
			t.Errorf("get %s: %v", id, err)
			continue
		}
		ds, err := w.st.ListDecisions(ctx, w.tenant, id)
		if err != nil {
			t.Errorf("decisions of %s: %v", id, err)
			continue
		}
		byStatus[r.Status]++
		w.mu.Lock()
		pi := w.requester[id]
		person := w.people[pi].ID
		w.mu.Unlock()
		made, ends, deprov := w.grantEnds(ctx, id, pi)
		grantsMade, grantsEnded = grantsMade+made, grantsEnded+ends
		w.hist.read(id, string(r.Status), len(ds), ends)
		if made > 0 && r.Status != accessbot.StatusApproved {
			t.Errorf("request %s (%s) made %d grant(s)", id, r.Status, made)
		}
		want := []string{"request:" + id + ":requester:" + person}
		if r.Status == accessbot.StatusApproved {
			want = append(want, "request:"+id+":fulfilment:"+w.olly.ID)
		}
		for _, k := range want {
			if posts[k] != 1 {
				lost++
				t.Errorf("%s (request %s) posted %d times, want once", k, r.Status, posts[k])
			}
		}
		reminders += posts["request:"+id+":remind:L0:"+w.eve.ID]
		escalations += posts["request:"+id+":escalated:L0:"+person+"@"+slackfake.DMChannel(personSlackID(w.requester[id]))]
		if r.EscalatedAt != nil {
			escalated++
		}
		// Provisioning: an approved request starts one flow (its manual
		// step asks the owner, once: the fulfilment DM above), others none.
		fl, err := w.st.ListActionFlowsByRequest(ctx, w.tenant, id)
		if err != nil {
			t.Errorf("flows of %s: %v", id, err)
			continue
		}
		fl = slices.DeleteFunc(fl, func(f accessbot.ActionFlow) bool { return f.Direction != string(provision.Provision) })
		if wantFlows := btoi(r.Status == accessbot.StatusApproved); len(fl) != wantFlows {
			t.Errorf("request %s (%s) has %d provisioning flows, want %d", id, r.Status, len(fl), wantFlows)
		}
		for _, f := range deprov {
			fl = append(fl, *f)
		}
		for _, f := range fl {
			flows++
			for i, st := range f.Steps {
				if st.Status == accessbot.FlowFailed {
					t.Errorf("flow %s step %d failed: %s", f.ID, i, st.LastError)
				}
			}
			steps += w.stepsOnce(ctx, &f)
		}
	}
	_, twice, dups := w.doubles(ctx)
	followed, spread := w.followLogs(ids)
	res := w.hist.check(t)
	discarded := 0
	for _, j := range jobsLeft(ctx, w.q) {
		if j.State == rivertype.JobStateDiscarded || j.State == rivertype.JobStateCancelled {
			discarded++
			last := ""
			if n := len(j.Errors); n > 0 {
				last = j.Errors[n-1].Error
			}
			t.Logf("job %d %s %s after %d attempt(s): %s", j.ID, j.Kind, j.State, j.Attempt, last)
		}
	}
	t.Logf("[counts] replicas final: requests %d %v, decided twice %d, posts duplicated %d, owed posts missing %d, "+
		"reminders %d, escalation notices %d (requests escalated %d), grants made %d ended %d, provisioning flows %d (deprovisioning included), their steps run once %d, jobs discarded %d, settled in %s, envelopes %d unacked %d, "+
		"history ops %d checked by porcupine: %s",
		len(ids), byStatus, twice, dups, lost, reminders, escalations, escalated, grantsMade, grantsEnded, flows, steps, discarded, settled.Round(time.Second), len(w.envelopes),
		len(w.unacked()), w.hist.len(), res)
	t.Logf("[counts] replicas logs: %d approved request(s) followed from the click's envelope to the decision by request and tenant id, "+
		"%d of them clicked on one replica and decided on another or clicked on several", followed, spread)
	if res != "Ok" {
		t.Errorf("the request history is not linearizable against the one-request model: %s", res)
	}
	if len(ids) < 20 || byStatus[accessbot.StatusApproved] == 0 || byStatus[accessbot.StatusExpired] == 0 ||
		byStatus[accessbot.StatusCancelled]+byStatus[accessbot.StatusDenied] == 0 {
		t.Errorf("too little or too one-sided work to prove anything: %d requests %v", len(ids), byStatus)
	}
	if grantsEnded == 0 {
		t.Errorf("%d grants made, none ended: the grants tick was not exercised (the first %d requests ask for %s)",
			grantsMade, replicaShortGrants, replicaGrantFor)
	}
	if discarded > 0 {
		t.Errorf("%d job(s) discarded or cancelled: their work is lost", discarded)
	}
}
