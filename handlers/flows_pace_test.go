package handlers_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/slackapi"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/flows/provision"
	"github.com/accessbot/accessbot/handlers"
	"github.com/accessbot/accessbot/handlers/views"
	"github.com/accessbot/accessbot/jobs"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/storetest"
)

// paceClock is the update limiter's clock: frozen, no slot ever frees up
// (the pace stays full, as under a burst of flow changes); opened, an hour
// later, every slot is free again and the pace runs at its rate.
type paceClock struct {
	mu     sync.Mutex
	frozen time.Time
	offset time.Duration
}

func (c *paceClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.frozen.IsZero() {
		return c.frozen
	}
	return time.Now().Add(c.offset)
}

func (c *paceClock) freeze() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.frozen = time.Now()
}

func (c *paceClock) open() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.frozen, c.offset = time.Time{}, time.Hour
}

type probeArgs struct {
	TenantID string `json:"tenant_id"`
	N        int    `json:"n"`
}

func (probeArgs) Kind() string { return "test_probe" }

// probeWorker notes when each probe job ran.
type probeWorker struct {
	river.WorkerDefaults[probeArgs]
	mu  sync.Mutex
	ran map[int]time.Time
}

func (w *probeWorker) Work(_ context.Context, j *river.Job[probeArgs]) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ran[j.Args.N] = time.Now()
	return nil
}

// TestFlowMessagesUnderAFullPaceLeaveWorkersFree: flow-message jobs meet a
// chat.update pace that stays full (the limiter's clock stands still) on a
// queue of 2 workers. A job whose update would wait past jobs.WaitBudget
// gives its worker back (the call fails with ErrPaceExceeded, a jobs.Busy,
// and the job is snoozed, no attempt spent), so jobs of another kind queued
// behind them still run within seconds. Before, each flow job slept in the
// limiter for its slot, up to its deadline: both workers waited there and
// the other jobs waited behind them (this failed TestCrashAndOutage on a
// loaded machine). Once the pace runs again, every flow message, posted
// once, ends showing its flow's last state, though the jobs of each
// flow's two changes ran in any order and were snoozed any number of times.
func TestFlowMessagesUnderAFullPaceLeaveWorkersFree(t *testing.T) {
	t.Parallel()
	const (
		flows      = 8
		probes     = 4
		probeLimit = 10 * time.Second // how late a probe job may start while the pace is full
	)
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			fx := newNotifyFixture(t, driver)
			ctx := fx.ctx
			fake := slackfake.New()
			t.Cleanup(fake.Close)
			team := fake.AddTeam(slackfake.Team{ID: "T1", Name: "Acme"})
			_, err := fake.AddUser(slackfake.User{ID: "URITA", TeamID: team.ID, Name: "rita", Email: "rita@acme.test"})
			rqMust(t, err)
			clock := &paceClock{}
			cl, err := slackapi.NewClient(team.ID, team.BotToken, slackapi.Options{APIURL: fake.URL(), Guard: slackapi.Strict{},
				Pacing:  &slackapi.Pacing{Updates: slackapi.Limit{Interval: time.Second, Burst: 1, MaxWait: 2 * time.Minute}},
				Limiter: slackapi.NewMemoryLimiter(clock.now)})
			rqMust(t, err)
			n := handlers.NewNotifier(handlers.NotifierConfig{Store: fx.st, Log: zerolog.Nop(),
				Clients: handlers.ChatClientsFunc(func(context.Context, string) (handlers.ChatAPI, error) { return cl, nil })})
			eng := provision.New(provision.Config{Store: fx.st, Log: zerolog.Nop()})
			eng.SetNotifier(n.Flows())
			workers := river.NewWorkers()
			eng.AddWorkers(workers)
			probe := &probeWorker{ran: map[int]time.Time{}}
			river.AddWorker(workers, probe)
			q, err := jobs.New(jobs.Config{Driver: driver, DB: fx.st.(interface{ DB() *sql.DB }).DB(), Workers: workers,
				MaxWorkers: 2, PollInterval: 20 * time.Millisecond, Timeout: 30 * time.Second, Log: zerolog.Nop()})
			rqMust(t, err)
			eng.SetQueue(q)
			rqMust(t, q.Start(ctx))
			t.Cleanup(func() {
				sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = q.Stop(sctx)
			})

			// Each change saves the flow and queues its news, as the engine does.
			change := func(f *accessbot.ActionFlow, status accessbot.FlowStatus) {
				t.Helper()
				rqMust(t, fx.st.InTx(ctx, func(tx store.Queries) error {
					cur, err := tx.GetActionFlow(ctx, f.TenantID, f.ID)
					if err != nil {
						return err
					}
					if status != "" {
						cur.Status, cur.Steps[0].Status = status, status
						cur.Steps[0].Note = "now " + string(status)
						if err := tx.SaveActionFlow(ctx, cur); err != nil {
							return err
						}
						if cur, err = tx.GetActionFlow(ctx, f.TenantID, f.ID); err != nil {
							return err
						}
					}
					_, err = q.InsertTx(ctx, tx, provision.ChangedArgs{TenantID: f.TenantID, FlowID: f.ID, Version: cur.Version}, nil)
					return err
				}))
			}
			var fl provision.Fields
			fl.Application.Name = fx.app.Name
			fields, err := json.Marshal(fl)
			rqMust(t, err)
			var all []*accessbot.ActionFlow
			for i := range flows {
				f := &accessbot.ActionFlow{TenantID: fx.users["rita"].TenantID, Key: "pace-test:" + strconv.Itoa(i),
					AppID: fx.app.ID, ConnectionID: fx.conns[i%len(fx.conns)].ID, UserID: fx.users["rita"].ID, Relationship: "group",
					Direction: string(provision.Provision), Status: accessbot.FlowPending, Fields: fields, ActorID: provision.SystemActor,
					Steps: []accessbot.ActionFlowStep{{Type: "manual", Status: accessbot.FlowPending}}}
				rqMust(t, fx.st.CreateActionFlow(ctx, f))
				all = append(all, f)
				change(f, "") // its news posts its one message: no update, so no pace
			}
			wait(t, "every flow message posted", 60*time.Second, func() bool { return len(fake.Messages("DURITA")) >= flows })

			// The update pace is full from now on; two changes of every flow.
			clock.freeze()
			for _, f := range all {
				change(f, accessbot.FlowRunning)
			}
			for _, f := range all {
				change(f, accessbot.FlowWaiting)
			}
			queued := time.Now()
			for i := range probes {
				_, err := q.Client().Insert(ctx, probeArgs{TenantID: fx.users["rita"].TenantID, N: i}, nil)
				rqMust(t, err)
			}
			ranAll := func() bool {
				probe.mu.Lock()
				defer probe.mu.Unlock()
				return len(probe.ran) == probes
			}
			deadline := time.Now().Add(probeLimit)
			for !ranAll() && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			probe.mu.Lock()
			var late time.Duration
			for i := range probes {
				at, ok := probe.ran[i]
				if !ok {
					at = time.Now()
				}
				late = max(late, at.Sub(queued))
			}
			ran := len(probe.ran)
			probe.mu.Unlock()
			updatesWhileFull := fake.CallCount("chat.update")
			if ran < probes {
				t.Errorf("%d of %d probe jobs ran within %s while the update pace was full: the flow jobs hold the workers", ran, probes, probeLimit)
			}

			clock.open()
			stale := func() []string {
				var out []string
				shown := map[string]string{}
				for _, m := range fake.Messages("DURITA") {
					if m.Metadata != nil {
						if k, _ := m.Metadata.EventPayload["key"].(string); k != "" {
							shown[k] = m.Text
						}
					}
				}
				for _, f := range all {
					cur, err := fx.st.GetActionFlow(ctx, f.TenantID, f.ID)
					if err != nil {
						out = append(out, err.Error())
						continue
					}
					if want, _ := views.FlowMessage(cur, fx.app.Name); shown["flow:"+f.ID+":message"] != want {
						out = append(out, fmt.Sprintf("flow %s v%d: shows %q, want %q", f.ID, cur.Version, shown["flow:"+f.ID+":message"], want))
					}
				}
				return out
			}
			var left []*rivertype.JobRow
			settled := func() bool {
				res, err := q.Client().JobList(ctx, river.NewJobListParams().States(rivertype.JobStateAvailable, rivertype.JobStateRunning,
					rivertype.JobStateRetryable, rivertype.JobStateScheduled, rivertype.JobStatePending).First(100))
				if err != nil {
					return false
				}
				left = res.Jobs
				return len(left) == 0 && len(stale()) == 0
			}
			wait(t, "every flow message at its last state and no job left", 90*time.Second, settled)

			res, err := q.Client().JobList(ctx, river.NewJobListParams().Kinds(provision.KindChangedJob).
				States(rivertype.JobStateCompleted, rivertype.JobStateDiscarded, rivertype.JobStateCancelled).First(1000))
			rqMust(t, err)
			snoozes, spent := 0, 0
			for _, j := range res.Jobs {
				var meta struct{ Snoozes int }
				_ = json.Unmarshal(j.Metadata, &meta)
				snoozes += meta.Snoozes
				if j.State != rivertype.JobStateCompleted || len(j.Errors) > 0 {
					t.Errorf("flow job %d %s, errors %v: want completed without errors", j.ID, j.State, j.Errors)
				}
				spent += j.Attempt - 1
			}
			if spent > 0 {
				t.Errorf("flow jobs spent %d attempts beyond their first: waiting for the pace must spend none", spent)
			}
			posts := fake.DeliveryPosts(slackapi.DeliveryEventType)
			for _, f := range all {
				if c := posts["flow:"+f.ID+":message"]; c != 1 {
					t.Errorf("flow %s message posted %d times, want once", f.ID, c)
				}
			}
			t.Logf("[counts] flow messages under a full update pace on %s: flows %d, flow jobs %d (snoozed %d times, attempts spent beyond the first %d), "+
				"chat.update %d (%d while the pace was full), probe jobs %d of %d ran within %s (latest after %s)",
				driver, flows, len(res.Jobs), snoozes, spent, fake.CallCount("chat.update"), updatesWhileFull, ran, probes, probeLimit, late.Round(time.Millisecond))
		})
	}
}

// wait polls cond until it holds or d passes.
func wait(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
