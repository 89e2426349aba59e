package requests_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/requests"
)

func TestTwoLevelChainApprovedByBoth(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver, requests.Policy{})
		f.chain("gitlab", true, "",
			level(accessbot.RuleAny, kind(accessbot.ApproverManager)),
			level(accessbot.RuleAny, kind(accessbot.ApproverOwners)))
		r := f.create(f.userAccess())
		eq(t, "levels", fmtLevels(f.levelNames(r)), "[[mgr] [owner1 owner2]]")
		eq(t, "created notifications", len(f.rec.of("RequestCreated")), 1)
		if an := f.rec.of("ApprovalNeeded"); len(an) != 1 || an[0].Level != 0 || f.names(an[0].UserIDs)[0] != "mgr" {
			t.Fatalf("approval needed after create = %+v", an)
		}

		out := f.approve(r, "mgr", 0)
		if !out.LevelClosed || out.Finished || out.Request.Level != 1 {
			t.Fatalf("after level 1: %+v", out)
		}
		an := f.rec.of("ApprovalNeeded")
		if len(an) != 2 || an[1].Level != 1 || len(an[1].UserIDs) != 2 {
			t.Fatalf("approval needed for level 2 = %+v", an)
		}
		out = f.approve(r, "owner2", 1)
		if !out.Finished || out.Request.Status != accessbot.StatusApproved {
			t.Fatalf("after level 2: %+v", out.Request)
		}
		got := f.get(r.ID)
		eq(t, "status", got.Status, accessbot.StatusApproved)
		eq(t, "open key cleared", got.OpenKey, "")
		if got.DecidedAt == nil {
			t.Error("DecidedAt not set")
		}
		eq(t, "decisions", len(f.decisions(r.ID)), 2)
		eq(t, "audit", fmt.Sprint(f.audit(r.ID)), "[request.created request.approved request.approved]")
		eq(t, "level decided", len(f.rec.of("LevelDecided")), 2)
		eq(t, "provisioned", len(f.rec.of("Provision")), 1)
		if fin := f.rec.of("RequestFinished"); len(fin) != 1 || fin[0].Status != accessbot.StatusApproved {
			t.Errorf("finished = %+v", fin)
		}
	})
}

func TestDeny(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver, requests.Policy{})
		f.chain("gitlab", true, "", level(accessbot.RuleAny, kind(accessbot.ApproverOwners)))
		r := f.create(f.userAccess())

		for _, reason := range []string{"", "   \n"} {
			_, err := f.decide(r, "owner1", 0, accessbot.DecisionDeny, reason)
			if _, ok := fieldErrors(t, err)[requests.FieldReason]; !ok {
				t.Fatalf("deny with reason %q: want a reason field error, got %v", reason, err)
			}
		}
		eq(t, "decisions after refused denies", len(f.decisions(r.ID)), 0)

		out, err := f.decide(r, "owner1", 0, accessbot.DecisionDeny, "  Not for contractors.  ")
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "status", out.Request.Status, accessbot.StatusDenied)
		ds := f.decisions(r.ID)
		if len(ds) != 1 || ds[0].Reason != "Not for contractors." || ds[0].Decision != accessbot.DecisionDeny {
			t.Fatalf("decisions = %+v", ds)
		}
		eq(t, "audit", fmt.Sprint(f.audit(r.ID)), "[request.created request.denied]")
		eq(t, "provisioned", len(f.rec.of("Provision")), 0)
		if fin := f.rec.of("RequestFinished"); len(fin) != 1 || fin[0].Status != accessbot.StatusDenied {
			t.Errorf("finished = %+v", fin)
		}
		// The other owner's stale button names who denied.
		_, err = f.decide(r, "owner2", 0, accessbot.DecisionApprove, "")
		var ad *requests.AlreadyDecidedError
		if !errors.As(err, &ad) || ad.ByUserID != f.u["owner1"].ID || ad.Decision != accessbot.DecisionDeny || ad.Status != accessbot.StatusDenied {
			t.Fatalf("stale approve after deny = %v", err)
		}
	})
}

func TestDecideRefusals(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver, requests.Policy{})
		// alice is a named approver of her own request's level: she is left out.
		f.chain("gitlab", true, "",
			level(accessbot.RuleAny, f.named("alice"), f.named("carol")),
			level(accessbot.RuleAny, f.named("alice")))
		r := f.create(f.userAccess())
		eq(t, "levels", fmtLevels(f.levelNames(r)), "[[carol] [admin1 admin2]]")

		cases := []struct {
			name, who string
			level     int
			want      error
		}{
			{"requester", "alice", 0, requests.ErrSelfApproval},
			{"not an approver", "bob", 0, requests.ErrNotApprover},
			{"approver of a later level", "admin1", 0, requests.ErrNotApprover},
			{"future level", "admin1", 1, requests.ErrNotApprover},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				_, err := f.decide(r, c.who, c.level, accessbot.DecisionApprove, "")
				if !errors.Is(err, c.want) {
					t.Fatalf("got %v, want %v", err, c.want)
				}
			})
		}
		eq(t, "decisions", len(f.decisions(r.ID)), 0)
		f.approve(r, "carol", 0)
		_, err := f.decide(r, "alice", 1, accessbot.DecisionApprove, "")
		if !errors.Is(err, requests.ErrSelfApproval) {
			t.Fatalf("requester at level 2: %v", err)
		}
		f.approve(r, "admin2", 1)
		eq(t, "status", f.get(r.ID).Status, accessbot.StatusApproved)
	})
}

func TestConcurrentDecisionsLeaveOne(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver, requests.Policy{})
		f.chain("gitlab", true, "", level(accessbot.RuleAny,
			kind(accessbot.ApproverOwners), f.named("carol"), f.named("dave"), f.named("admin1")))
		r := f.create(f.userAccess())
		// 10 clicks: double clicks and redeliveries from the same people, and several approvers at once.
		who := []string{"owner1", "owner1", "owner2", "carol", "dave", "admin1", "owner2", "carol", "owner1", "dave"}
		var wg sync.WaitGroup
		errs := make([]error, len(who))
		for i, w := range who {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = f.decide(r, w, 0, accessbot.DecisionApprove, "")
			}()
		}
		wg.Wait()
		ok := 0
		for i, err := range errs {
			var ad *requests.AlreadyDecidedError
			switch {
			case err == nil:
				ok++
			case errors.As(err, &ad):
			default:
				t.Errorf("click %d by %s: %v", i, who[i], err)
			}
		}
		eq(t, "successful clicks", ok, 1)
		eq(t, "decision rows", len(f.decisions(r.ID)), 1)
		eq(t, "audit", fmt.Sprint(f.audit(r.ID)), "[request.created request.approved]")
		eq(t, "status", f.get(r.ID).Status, accessbot.StatusApproved)
		eq(t, "provisioned", len(f.rec.of("Provision")), 1)
	})
}

func TestRuleAllNeedsEveryone(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver, requests.Policy{})
		f.chain("gitlab", true, "", level(accessbot.RuleAll, kind(accessbot.ApproverOwners), f.named("carol")))

		// One by one.
		r := f.create(f.userAccess())
		out := f.approve(r, "owner1", 0)
		if out.LevelClosed || out.Request.Status != accessbot.StatusPending {
			t.Fatalf("one of three closed the level: %+v", out)
		}
		pend, err := f.svc.PendingFor(f.ctx, f.tenant.ID, f.u["owner1"].ID)
		f.must(err)
		eq(t, "pending for owner1 after deciding", len(pend), 0)
		pend, err = f.svc.PendingFor(f.ctx, f.tenant.ID, f.u["carol"].ID)
		f.must(err)
		eq(t, "pending for carol", len(pend), 1)
		// owner1 clicks again: already decided by themself.
		_, err = f.decide(r, "owner1", 0, accessbot.DecisionApprove, "")
		var ad *requests.AlreadyDecidedError
		if !errors.As(err, &ad) || ad.ByUserID != f.u["owner1"].ID || ad.Status != accessbot.StatusPending {
			t.Fatalf("second click = %v", err)
		}
		f.approve(r, "owner2", 0)
		eq(t, "status after two of three", f.get(r.ID).Status, accessbot.StatusPending)
		out = f.approve(r, "carol", 0)
		if !out.Finished || len(out.Decisions) != 3 {
			t.Fatalf("after all three: %+v", out)
		}

		// All at once: the last approval still sees the others.
		f.rec.reset()
		in := f.userAccess()
		in.ConnectionID = f.conn["maintainers"].ID
		r = f.create(in)
		var wg sync.WaitGroup
		for _, w := range []string{"owner1", "owner2", "carol"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := f.decide(r, w, 0, accessbot.DecisionApprove, ""); err != nil {
					t.Errorf("%s: %v", w, err)
				}
			}()
		}
		wg.Wait()
		eq(t, "status after concurrent all", f.get(r.ID).Status, accessbot.StatusApproved)
		eq(t, "decision rows", len(f.decisions(r.ID)), 3)
		eq(t, "provisioned", len(f.rec.of("Provision")), 1)
	})
}

func TestStaleDecisionNamesWhoDecided(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver, requests.Policy{})
		f.chain("gitlab", true, "",
			level(accessbot.RuleAny, kind(accessbot.ApproverOwners)),
			level(accessbot.RuleAny, kind(accessbot.ApproverOwners), f.named("carol")))
		r := f.create(f.userAccess())
		first := f.approve(r, "owner1", 0)

		// owner1 is also a level-2 approver: a second click on the level-1
		// message must not count as a level-2 approval.
		cases := []struct {
			name, who    string
			level        int
			wantStatus   accessbot.RequestStatus
			wantBy       string
			wantDecision accessbot.DecisionKind
		}{
			{"double click", "owner1", 0, accessbot.StatusPending, "owner1", accessbot.DecisionApprove},
			{"other approver", "owner2", 0, accessbot.StatusPending, "owner1", accessbot.DecisionApprove},
		}
		for _, c := range cases {
			_, err := f.decide(r, c.who, c.level, accessbot.DecisionApprove, "")
			var ad *requests.AlreadyDecidedError
			if !errors.As(err, &ad) {
				t.Fatalf("%s: want AlreadyDecidedError, got %v", c.name, err)
			}
			eq(t, c.name+" status", ad.Status, c.wantStatus)
			eq(t, c.name+" by", f.name(ad.ByUserID), c.wantBy)
			eq(t, c.name+" decision", ad.Decision, c.wantDecision)
			if !ad.At.Equal(first.Decision.DecidedAt) {
				t.Errorf("%s at = %v, want %v", c.name, ad.At, first.Decision.DecidedAt)
			}
			if !errors.Is(err, accessbot.ErrStale) {
				t.Errorf("%s: AlreadyDecidedError should unwrap to ErrStale", c.name)
			}
		}
		eq(t, "decisions", len(f.decisions(r.ID)), 1)
		f.clock.Advance(time.Minute)
		f.approve(r, "carol", 1)
		_, err := f.decide(r, "owner2", 1, accessbot.DecisionApprove, "")
		var ad *requests.AlreadyDecidedError
		if !errors.As(err, &ad) || ad.Status != accessbot.StatusApproved || f.name(ad.ByUserID) != "carol" {
			t.Fatalf("stale level 2 = %v", err)
		}
	})
}

func TestCrossTenantIDsRefused(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver, requests.Policy{})
		f.chain("gitlab", true, "", level(accessbot.RuleAny, kind(accessbot.ApproverOwners)))
		r := f.create(f.userAccess())
		other := f.addTenant("globex")
		intruder := &accessbot.User{TenantID: other.ID, Email: "eve@globex.test", Name: "eve",
			Status: accessbot.UserActive, Role: accessbot.RoleAdmin}
		f.must(f.st.CreateUser(f.ctx, intruder))

		_, err := f.svc.Decide(f.ctx, requests.DecideInput{TenantID: other.ID, RequestID: r.ID, ActorID: intruder.ID,
			Decision: accessbot.DecisionApprove})
		if !errors.Is(err, accessbot.ErrNotFound) {
			t.Errorf("decide across tenants: %v", err)
		}
		// The right tenant's approver id with the wrong tenant: still not found.
		_, err = f.svc.Decide(f.ctx, requests.DecideInput{TenantID: other.ID, RequestID: r.ID, ActorID: f.u["owner1"].ID,
			Decision: accessbot.DecisionApprove})
		if !errors.Is(err, accessbot.ErrNotFound) {
			t.Errorf("decide with the wrong tenant: %v", err)
		}
		if _, err := f.svc.Cancel(f.ctx, other.ID, r.ID, intruder.ID); !errors.Is(err, accessbot.ErrNotFound) {
			t.Errorf("cancel across tenants: %v", err)
		}
		if _, err := f.svc.History(f.ctx, other.ID, intruder.ID, r.ID); !errors.Is(err, accessbot.ErrNotFound) {
			t.Errorf("history across tenants: %v", err)
		}
		// An approver of tenant acme presented as acting in acme on globex's behalf changes nothing either.
		_, err = f.svc.Decide(f.ctx, requests.DecideInput{TenantID: f.tenant.ID, RequestID: r.ID, ActorID: intruder.ID,
			Decision: accessbot.DecisionApprove})
		if !errors.Is(err, requests.ErrNotApprover) {
			t.Errorf("foreign actor: %v", err)
		}
		eq(t, "decisions", len(f.decisions(r.ID)), 0)
		eq(t, "status", f.get(r.ID).Status, accessbot.StatusPending)
	})
}

func TestCancel(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver, requests.Policy{})
		f.chain("gitlab", true, "", level(accessbot.RuleAny, kind(accessbot.ApproverOwners)))
		r := f.create(f.userAccess())
		if _, err := f.svc.Cancel(f.ctx, f.tenant.ID, r.ID, f.u["owner1"].ID); !errors.Is(err, requests.ErrForbidden) {
			t.Fatalf("cancel by an approver: %v", err)
		}
		got, err := f.svc.Cancel(f.ctx, f.tenant.ID, r.ID, f.u["alice"].ID)
		f.must(err)
		eq(t, "status", got.Status, accessbot.StatusCancelled)
		eq(t, "audit", fmt.Sprint(f.audit(r.ID)), "[request.created request.cancelled]")
		_, err = f.svc.Cancel(f.ctx, f.tenant.ID, r.ID, f.u["alice"].ID)
		var ad *requests.AlreadyDecidedError
		if !errors.As(err, &ad) || ad.Status != accessbot.StatusCancelled || f.name(ad.ByUserID) != "alice" {
			t.Fatalf("second cancel = %v", err)
		}
		_, err = f.decide(r, "owner1", 0, accessbot.DecisionApprove, "")
		if !errors.As(err, &ad) || ad.Status != accessbot.StatusCancelled {
			t.Fatalf("approve after cancel = %v", err)
		}
		// The same thing can be asked again once the first is closed.
		f.create(f.userAccess())
	})
}

// A 2-of-4 level closes at exactly two approvals, however the clicks race,
// and the approvals counted are the first two to commit.
func TestQuorumClosesAtExactlyK(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver, requests.Policy{})
		lvl := level(accessbot.RuleQuorum, kind(accessbot.ApproverOwners), f.named("carol"), f.named("dave"))
		lvl.Quorum = 2
		f.chain("gitlab", true, "", lvl)
		r := f.create(f.userAccess())
		eq(t, "needed", r.Levels[0].Needed(), 2)

		// One approval leaves it open, and still pending for the others.
		out := f.approve(r, "carol", 0)
		if out.LevelClosed || out.Request.Status != accessbot.StatusPending {
			t.Fatalf("1 of 2 closed the level: %+v", out)
		}
		pend, err := f.svc.PendingFor(f.ctx, f.tenant.ID, f.u["carol"].ID)
		f.must(err)
		eq(t, "pending for carol after deciding", len(pend), 0)

		// Then everyone at once, double clicks included.
		who := []string{"owner1", "owner2", "dave", "owner1", "carol", "dave", "owner2"}
		errs := make([]error, len(who))
		var wg sync.WaitGroup
		for i, w := range who {
			wg.Go(func() { _, errs[i] = f.decide(r, w, 0, accessbot.DecisionApprove, "") })
		}
		wg.Wait()
		ok := 0
		for i, err := range errs {
			var ad *requests.AlreadyDecidedError
			switch {
			case err == nil:
				ok++
			case errors.As(err, &ad):
			default:
				t.Errorf("click %d by %s: %v", i, who[i], err)
			}
		}
		eq(t, "successful racing clicks", ok, 1)
		eq(t, "decision rows", len(f.decisions(r.ID)), 2)
		eq(t, "status", f.get(r.ID).Status, accessbot.StatusApproved)
		eq(t, "provisioned", len(f.rec.of("Provision")), 1)
		eq(t, "audit", fmt.Sprint(f.audit(r.ID)), "[request.created request.approved request.approved]")
	})
}

func TestQuorumDenyByAnyoneAndAdminsMakeUpTheNumber(t *testing.T) {
	f := newFixture(t, "sqlite", requests.Policy{})
	lvl := level(accessbot.RuleQuorum, kind(accessbot.ApproverOwners), f.named("alice"))
	lvl.Quorum = 3
	f.chain("gitlab", true, "", lvl)
	// alice is the requester: two owners are left for a quorum of 3, so the
	// first admin joins rather than the bar dropping to 2.
	r := f.create(f.userAccess())
	eq(t, "approvers", fmtLevels(f.levelNames(r)), "[[admin1 owner1 owner2]]")
	eq(t, "needed", r.Levels[0].Needed(), 3)
	f.approve(r, "owner1", 0)
	out, err := f.decide(r, "admin1", 0, accessbot.DecisionDeny, "Not this quarter")
	f.must(err)
	if !out.Finished || out.Request.Status != accessbot.StatusDenied {
		t.Fatalf("a deny after one approval: %+v", out)
	}
}
