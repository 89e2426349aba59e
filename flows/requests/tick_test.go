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

var tickPolicy = requests.Policy{ReminderAfter: 24 * time.Hour, EscalateAfter: 72 * time.Hour, ExpireAfter: 7 * 24 * time.Hour}

func TestTickRemindEscalateExpire(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver, tickPolicy)
		f.chain("gitlab", true, "",
			level(accessbot.RuleAll, kind(accessbot.ApproverOwners)),
			level(accessbot.RuleAny, f.named("carol")))
		r := f.create(f.userAccess())
		f.clock.Advance(time.Hour)
		f.approve(r, "owner1", 0) // owner2 still owes a decision

		steps := []struct {
			advance time.Duration
			want    requests.TickResult
		}{
			{22 * time.Hour, requests.TickResult{}},             // 23h: nothing due
			{time.Hour, requests.TickResult{Reminded: 1}},       // 24h: one reminder
			{time.Hour, requests.TickResult{}},                  // 25h: not twice
			{47 * time.Hour, requests.TickResult{Escalated: 1}}, // 72h: admins join
			{time.Hour, requests.TickResult{}},
		}
		for i, s := range steps {
			now := f.clock.Advance(s.advance)
			got, err := f.svc.Tick(f.ctx, now)
			f.must(err)
			if got != s.want {
				t.Fatalf("tick %d at +%s: %+v, want %+v", i, now.Sub(t0), got, s.want)
			}
		}
		rem := f.rec.of("Remind")
		if len(rem) != 1 || fmt.Sprint(f.names(rem[0].UserIDs)) != "[owner2]" {
			t.Fatalf("reminders = %+v", rem)
		}
		got := f.get(r.ID)
		if got.RemindedAt == nil || got.EscalatedAt == nil {
			t.Fatalf("marks: reminded %v escalated %v", got.RemindedAt, got.EscalatedAt)
		}
		eq(t, "escalated level", fmtLevels(f.levelNames(got)), "[[admin1 admin2 owner1 owner2] [carol]]")
		eq(t, "escalated rule", got.Levels[0].Rule, accessbot.RuleAny)
		an := f.rec.of("ApprovalNeeded")
		if last := an[len(an)-1]; last.Level != 0 || fmt.Sprint(f.names(last.UserIDs)) != "[admin1 admin2]" {
			t.Fatalf("escalation notified %+v", last)
		}

		// An admin decides the escalated level; level 2 gets its own reminder clock.
		f.approve(got, "admin2", 0)
		got = f.get(r.ID)
		eq(t, "level", got.Level, 1)
		if got.RemindedAt != nil || got.EscalatedAt != nil {
			t.Fatal("marks not cleared on a new level")
		}
		now := f.clock.Advance(23 * time.Hour)
		res, err := f.svc.Tick(f.ctx, now)
		f.must(err)
		eq(t, "level 2 at 23h", res, requests.TickResult{})
		now = f.clock.Advance(time.Hour)
		res, err = f.svc.Tick(f.ctx, now)
		f.must(err)
		eq(t, "level 2 at 24h", res, requests.TickResult{Reminded: 1})

		// Seven days after creation the request expires, and the requester is told.
		now = t0.Add(7 * 24 * time.Hour)
		f.clock.mu.Lock()
		f.clock.now = now
		f.clock.mu.Unlock()
		res, err = f.svc.Tick(f.ctx, now)
		f.must(err)
		eq(t, "expiry", res, requests.TickResult{Expired: 1})
		got = f.get(r.ID)
		eq(t, "status", got.Status, accessbot.StatusExpired)
		eq(t, "open key", got.OpenKey, "")
		fin := f.rec.of("RequestFinished")
		if len(fin) != 1 || fin[0].Status != accessbot.StatusExpired {
			t.Fatalf("finished = %+v", fin)
		}
		eq(t, "audit", fmt.Sprint(f.audit(r.ID)),
			"[request.created request.approved request.reminded request.escalated request.approved request.reminded request.expired]")
		_, err = f.decide(got, "carol", 1, accessbot.DecisionApprove, "")
		var ad *requests.AlreadyDecidedError
		if !errors.As(err, &ad) || ad.Status != accessbot.StatusExpired || ad.ByUserID != requests.SystemActor {
			t.Fatalf("approve after expiry = %v", err)
		}
		res, err = f.svc.Tick(f.ctx, f.clock.Advance(time.Hour))
		f.must(err)
		eq(t, "nothing after expiry", res, requests.TickResult{})
	})
}

func TestTickConcurrentReplicasDoEachStepOnce(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver, tickPolicy)
		f.chain("gitlab", true, "", level(accessbot.RuleAny, kind(accessbot.ApproverOwners)))
		var reqs []*accessbot.AccessRequest
		for _, c := range []string{"developers", "maintainers", "auditor"} {
			in := f.userAccess()
			in.ConnectionID = f.conn[c].ID
			reqs = append(reqs, f.create(in))
		}
		tickTwice := func(now time.Time) requests.TickResult {
			var wg sync.WaitGroup
			var mu sync.Mutex
			var sum requests.TickResult
			for range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					res, err := f.svc.Tick(f.ctx, now)
					if err != nil {
						t.Errorf("tick: %v", err)
					}
					mu.Lock()
					sum.Reminded += res.Reminded
					sum.Escalated += res.Escalated
					sum.Expired += res.Expired
					mu.Unlock()
				}()
			}
			wg.Wait()
			return sum
		}
		eq(t, "reminders", tickTwice(f.clock.Advance(24*time.Hour)), requests.TickResult{Reminded: 3})
		eq(t, "escalations", tickTwice(f.clock.Advance(48*time.Hour)), requests.TickResult{Escalated: 3})
		eq(t, "expiries", tickTwice(f.clock.Advance(96*time.Hour)), requests.TickResult{Expired: 3})
		eq(t, "remind calls", len(f.rec.of("Remind")), 3)
		eq(t, "finished calls", len(f.rec.of("RequestFinished")), 3)
		for _, r := range reqs {
			eq(t, "audit of "+r.ID, fmt.Sprint(f.audit(r.ID)),
				"[request.created request.reminded request.escalated request.expired]")
		}
	})
}
