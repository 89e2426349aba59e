package requests_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/backend"
	"github.com/accessbot/accessbot/store/storetest"
)

// racers is how many clicks race on one request in Decide/contended.
const racers = 8

// BenchmarkApprovals measures the approvals domain on each store backend:
// a user access request through a two-level chain (the requester's manager,
// then any of the app's owners, carol or dave). The service has no
// Enqueuer and a nil Notifier and Provisioner (NopNotifier, RecordOnly), so
// its jobs run in process after each commit and only re-read the request:
// what is timed is the domain and the store, not Slack. See BENCHMARKS.md.
func BenchmarkApprovals(b *testing.B) {
	for _, driver := range storetest.Drivers(b) {
		b.Run(driver, func(b *testing.B) {
			f := newBenchFixture(b, driver)
			b.Run("Create", f.benchCreate)
			b.Run("Decide/level1", func(b *testing.B) { f.benchDecide(b, 0) })
			b.Run("Decide/final", func(b *testing.B) { f.benchDecide(b, 1) })
			b.Run("Decide/contended", f.benchContended)
			b.Run("Decide/parallel", f.benchParallel)
		})
	}
}

// benchFixture is newFixture's tenant cut down for benchmarks (which get a
// *testing.B, not a *testing.T): mgr, owner1, owner2, carol and dave, one
// application with a two-level chain, and as many requesters reporting to
// mgr as the benchmarks ask for (one open request per requester).
type benchFixture struct {
	ctx    context.Context
	st     store.Store
	svc    *requests.Service
	tenant *accessbot.Tenant
	u      map[string]*accessbot.User
	app    *accessbot.Application
	conn   *accessbot.Connection
	made   int // requesters created so far, for unique emails
}

func newBenchFixture(b *testing.B, driver string) *benchFixture {
	b.Helper()
	clk := &clock{now: t0}
	st := storetest.Open(b, driver, backend.WithClock(clk.Now))
	f := &benchFixture{
		ctx: context.Background(), st: st,
		svc: requests.New(st, nil, nil, clk.Now, requests.Policy{}, zerolog.Nop()),
		u:   map[string]*accessbot.User{},
	}
	f.tenant = &accessbot.Tenant{Slug: "acme", Name: "acme"}
	must(b, st.CreateTenant(f.ctx, f.tenant))
	for _, name := range []string{"mgr", "owner1", "owner2", "carol", "dave"} {
		u := &accessbot.User{TenantID: f.tenant.ID, Email: name + "@acme.test", Name: name,
			Status: accessbot.UserActive, Role: accessbot.RoleMember}
		must(b, st.CreateUser(f.ctx, u))
		f.u[name] = u
	}
	f.app = &accessbot.Application{TenantID: f.tenant.ID, Name: "GitLab", Connector: "gitlab",
		PrimaryOwnerID: f.u["owner1"].ID, SecondaryOwnerID: f.u["owner2"].ID, MaxDuration: 7 * 24 * time.Hour}
	must(b, st.CreateApplication(f.ctx, f.app))
	f.conn = &accessbot.Connection{TenantID: f.tenant.ID, AppID: f.app.ID, Name: "developers", Type: "group"}
	must(b, st.CreateConnection(f.ctx, f.conn))
	named := func(n string) accessbot.Approver {
		return accessbot.Approver{Kind: accessbot.ApproverUser, UserID: f.u[n].ID}
	}
	must(b, st.UpsertApprovalChain(f.ctx, &accessbot.ApprovalChain{TenantID: f.tenant.ID, Name: "gitlab", AppID: f.app.ID,
		Levels: []accessbot.ApprovalLevel{
			level(accessbot.RuleAny, kind(accessbot.ApproverManager)),
			level(accessbot.RuleAny, kind(accessbot.ApproverOwners), named("carol"), named("dave")),
		}}))
	return f
}

func must(b *testing.B, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
}

// requesters stores n new users reporting to mgr, in one transaction.
func (f *benchFixture) requesters(b *testing.B, n int) []string {
	b.Helper()
	ids := make([]string, n)
	must(b, f.st.InTx(f.ctx, func(q store.Queries) error {
		for i := range ids {
			f.made++
			u := &accessbot.User{TenantID: f.tenant.ID, Email: fmt.Sprintf("req%06d@acme.test", f.made), Name: "requester",
				Status: accessbot.UserActive, Role: accessbot.RoleMember, ManagerID: f.u["mgr"].ID}
			if err := q.CreateUser(f.ctx, u); err != nil {
				return err
			}
			ids[i] = u.ID
		}
		return nil
	}))
	return ids
}

func (f *benchFixture) access(requesterID string) requests.UserAccess {
	return requests.UserAccess{TenantID: f.tenant.ID, RequesterID: requesterID, AppID: f.app.ID,
		ConnectionID: f.conn.ID, Duration: 8 * time.Hour, Justification: "Need to fix the release pipeline this week."}
}

func (f *benchFixture) approve(id, who string, lvl int) (*requests.Outcome, error) {
	return f.svc.Decide(f.ctx, requests.DecideInput{TenantID: f.tenant.ID, RequestID: id,
		ActorID: f.u[who].ID, Level: lvl, Decision: accessbot.DecisionApprove})
}

// pending stores n new requests, each decided up to level lvl (0-based).
func (f *benchFixture) pending(b *testing.B, n, lvl int) []string {
	b.Helper()
	ids := make([]string, n)
	for i, rid := range f.requesters(b, n) {
		r, err := f.svc.Create(f.ctx, f.access(rid))
		must(b, err)
		if lvl > 0 {
			_, err = f.approve(r.ID, "mgr", 0)
			must(b, err)
		}
		ids[i] = r.ID
	}
	return ids
}

// benchCreate: one user access request, validated, its chain resolved and
// stored with its audit entry, then the in-process jobs (confirmation,
// level 1 asked) each re-reading it.
func (f *benchFixture) benchCreate(b *testing.B) {
	ids := f.requesters(b, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		r, err := f.svc.Create(f.ctx, f.access(ids[i]))
		if err != nil || len(r.Levels) != 2 {
			b.Fatalf("create: %v", err)
		}
	}
}

// benchDecide: one approval, one after another. At lvl 0 (mgr) the request
// moves to level 2; at lvl 1 (owner1) it is approved and provisioned.
func (f *benchFixture) benchDecide(b *testing.B, lvl int) {
	ids := f.pending(b, b.N, lvl)
	who := []string{"mgr", "owner1"}[lvl]
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		out, err := f.approve(ids[i], who, lvl)
		if err != nil || !out.LevelClosed || out.Finished != (lvl == 1) {
			b.Fatalf("decide level %d: %+v, %v", lvl+1, out, err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
}

// benchContended: racers clicks at once on level 2 of one request (double
// clicks and redeliveries from owner1, owner2, carol and dave). An op is the
// time until every click has returned; exactly one may win.
func (f *benchFixture) benchContended(b *testing.B) {
	ids := f.pending(b, b.N, 1)
	who := []string{"owner1", "owner2", "carol", "dave"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		var wg sync.WaitGroup
		var won, lost atomic.Int32
		errs := make(chan error, racers)
		for g := range racers {
			wg.Go(func() {
				_, err := f.approve(ids[i], who[g%len(who)], 1)
				var ad *requests.AlreadyDecidedError
				switch {
				case err == nil:
					won.Add(1)
				case errors.As(err, &ad):
					lost.Add(1)
				default:
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			b.Fatalf("racing click: %v", err)
		}
		if won.Load() != 1 || lost.Load() != racers-1 {
			b.Fatalf("%d clicks won, %d answered already decided; want 1 and %d", won.Load(), lost.Load(), racers-1)
		}
	}
}

// benchParallel: level-1 approvals of distinct requests from many goroutines
// (4 per CPU) at once.
func (f *benchFixture) benchParallel(b *testing.B) {
	ids := f.pending(b, b.N, 0)
	var next atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := ids[next.Add(1)-1]
			if out, err := f.approve(id, "mgr", 0); err != nil || !out.LevelClosed {
				b.Errorf("decide %s: %+v, %v", id, out, err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
}
