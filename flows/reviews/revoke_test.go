package reviews_test

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/grants"
	"github.com/accessbot/accessbot/flows/provision"
	"github.com/accessbot/accessbot/flows/reviews"
	"github.com/accessbot/accessbot/jobs"
	"github.com/accessbot/accessbot/store"
)

// deprovisions records Deprovisioner calls; one flow per entitlement.
type deprovisions struct {
	mu    sync.Mutex
	calls []string
}

func (d *deprovisions) Deprovision(_ context.Context, _, entitlementID, _, _ string) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = append(d.calls, entitlementID)
	return "flow-" + entitlementID, nil
}

// DeprovisionTx records the call as Deprovision does (the transaction is the caller's).
func (d *deprovisions) DeprovisionTx(ctx context.Context, _ store.Queries, tenantID, entitlementID, actorID, reason string) (string, error) {
	return d.Deprovision(ctx, tenantID, entitlementID, actorID, reason)
}

// TestRevokeRunsDeprovisioning: a reviewer's Revoke starts the
// deprovisioning chain of the revoked access when a connection of the
// application matches it (recording the imported grant first); what matches
// none still goes to the owner by hand.
func TestRevokeRunsDeprovisioning(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		dep := &deprovisions{}
		gs, err := grants.New(grants.Config{Store: f.st, Deprovisioner: dep, Clock: f.clock.Now, Log: zerolog.Nop()})
		f.must(err)
		f.svc.WithRevoker(gs)
		admins := &accessbot.Connection{TenantID: f.ten.ID, AppID: f.app.ID, Name: "Admins", Type: "group"}
		f.must(f.st.CreateConnection(f.ctx, admins))
		f.launch(accessbot.ReviewerManager)
		f.rec.reset()
		// mia revokes all three: cat's admins and bob's admins match the
		// Admins connection; bob's devs matches none.
		_, err = f.svc.Decide(f.ctx, reviews.DecideInput{TenantID: f.ten.ID, ActorID: f.u["mia"].ID,
			Decisions: decisions(f.pending("mia"), func(accessbot.ReviewItem) accessbot.ReviewDecision { return accessbot.DecisionRevoke })})
		f.must(err)
		if len(dep.calls) != 2 {
			t.Fatalf("deprovision calls %v, want bob's and cat's admins", dep.calls)
		}
		for _, who := range []string{"bob", "cat"} {
			held, err := f.st.ListEntitlements(f.ctx, f.ten.ID, f.u[who].ID)
			f.must(err)
			if len(held) != 1 || held[0].ConnectionID != admins.ID || held[0].EndingFlowID != "flow-"+held[0].ID || held[0].RequestID != "" {
				t.Fatalf("%s's grants %+v, want the imported Admins grant ending", who, held)
			}
		}
		rv := f.rec.of("RevocationRequested")
		if len(rv) != 1 || rv[0].Items != 1 {
			t.Fatalf("owner asked for %+v, want only bob's devs by hand", rv)
		}
	})
}

// crashAfterCommit is the store of a process that dies the moment its first
// transaction commits: every later transaction fails.
type crashAfterCommit struct {
	store.Store
	mu   sync.Mutex
	dead bool
}

var errCrashed = errors.New("the process died")

func (c *crashAfterCommit) InTx(ctx context.Context, fn func(q store.Queries) error) error {
	c.mu.Lock()
	dead := c.dead
	c.mu.Unlock()
	if dead {
		return errCrashed
	}
	err := c.Store.InTx(ctx, fn)
	if err == nil {
		c.mu.Lock()
		c.dead = true
		c.mu.Unlock()
	}
	return err
}

// TestRevokeSurvivesCrashAfterDecision: the process dies right after the
// transaction that records mia's Revokes commits. The deprovisioning flows
// and their first jobs were in that transaction, so after a restart (a
// fresh engine on the same database) both revoked grants are deprovisioned:
// none is lost between the decision and the start of its flow.
func TestRevokeSurvivesCrashAfterDecision(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		admins := &accessbot.Connection{TenantID: f.ten.ID, AppID: f.app.ID, Name: "Admins", Type: "group"}
		f.must(f.st.CreateConnection(f.ctx, admins))
		f.launch(accessbot.ReviewerManager)

		// The doomed process: its engine, grants and reviews all on the store that dies.
		doomed := &crashAfterCommit{Store: f.st}
		eng, q := newEngine(t, driver, doomed)
		gs, err := grants.New(grants.Config{Store: doomed, Deprovisioner: eng, Clock: f.clock.Now, Log: zerolog.Nop()})
		f.must(err)
		svc := reviews.New(doomed, f.rec, f.clock.Now, reviews.DefaultPolicy(), zerolog.Nop()).WithRevoker(gs)
		res, err := svc.Decide(f.ctx, reviews.DecideInput{TenantID: f.ten.ID, ActorID: f.u["mia"].ID,
			Decisions: decisions(f.pending("mia"), func(accessbot.ReviewItem) accessbot.ReviewDecision { return accessbot.DecisionRevoke })})
		f.must(err)
		if len(res.Decided) != 3 || !doomed.dead {
			t.Fatalf("decided %d items (dead %v), want mia's 3 in one committed transaction", len(res.Decided), doomed.dead)
		}
		_ = q // the doomed queue never ran a job

		// The restarted process works the queue of the same database.
		eng2, q2 := newEngine(t, driver, f.st)
		f.must(q2.Start(f.ctx))
		_ = eng2
		for _, who := range []string{"bob", "cat"} {
			held, err := f.st.ListEntitlements(f.ctx, f.ten.ID, f.u[who].ID)
			f.must(err)
			if len(held) != 1 || held[0].ConnectionID != admins.ID || !held[0].Ending() {
				t.Fatalf("%s's grants %+v, want the Admins grant ending (its revoke lost)", who, held)
			}
			key := provision.FlowKey(provision.Deprovision, held[0].ID)
			deadline := time.Now().Add(15 * time.Second)
			for {
				fl, err := f.st.GetActionFlowByKey(f.ctx, f.ten.ID, key)
				if err == nil && fl.Status == accessbot.FlowWaiting && fl.ID == held[0].EndingFlowID {
					break // its manual step ran: the job was there
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s's deprovisioning flow %s: %+v (%v)", who, key, fl, err)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	})
}

// newEngine is a provision engine on st whose manual steps wait, with a
// River queue on the same database (not started).
func newEngine(t *testing.T, driver string, st store.Store) (*provision.Engine, *jobs.Queue) {
	t.Helper()
	eng := provision.New(provision.Config{Store: st, Log: zerolog.Nop()})
	eng.Register(provision.KindManual, provision.RunnerFunc(func(context.Context, provision.Step) (provision.Result, error) {
		return provision.Result{Wait: true, Note: "owners asked"}, nil
	}))
	workers := river.NewWorkers()
	eng.AddWorkers(workers)
	var db *sql.DB
	if d, ok := st.(interface{ DB() *sql.DB }); ok {
		db = d.DB()
	} else {
		db = st.(*crashAfterCommit).Store.(interface{ DB() *sql.DB }).DB()
	}
	q, err := jobs.New(jobs.Config{Driver: driver, DB: db, Workers: workers, PollInterval: 20 * time.Millisecond, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	eng.SetQueue(q)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = q.Stop(ctx)
	})
	return eng, q
}
