package requests_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/requests"
)

func TestQueries(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver, requests.Policy{})
		f.chain("gitlab", true, "",
			level(accessbot.RuleAny, kind(accessbot.ApproverManager)),
			level(accessbot.RuleAny, kind(accessbot.ApproverOwners)))
		r1 := f.create(f.userAccess())
		f.clock.Advance(time.Minute)
		in := f.userAccess()
		in.ConnectionID = f.conn["maintainers"].ID
		r2 := f.create(in)
		f.approve(r2, "mgr", 0)

		mine, err := f.svc.MyRequests(f.ctx, f.tenant.ID, f.u["alice"].ID)
		f.must(err)
		if len(mine) != 2 || mine[0].ID != r2.ID {
			t.Fatalf("my requests = %d, newest first wanted", len(mine))
		}
		for who, want := range map[string][]string{
			"mgr": {r1.ID}, "owner1": {r2.ID}, "owner2": {r2.ID}, "alice": nil, "carol": nil,
		} {
			got, err := f.svc.PendingFor(f.ctx, f.tenant.ID, f.u[who].ID)
			f.must(err)
			var ids []string
			for _, r := range got {
				ids = append(ids, r.ID)
			}
			if len(ids) != len(want) || (len(want) > 0 && ids[0] != want[0]) {
				t.Errorf("pending for %s = %v, want %v", who, ids, want)
			}
		}

		if _, err := f.svc.History(f.ctx, f.tenant.ID, f.u["alice"].ID, r2.ID); !errors.Is(err, requests.ErrForbidden) {
			t.Errorf("history by a member: %v", err)
		}
		h, err := f.svc.History(f.ctx, f.tenant.ID, f.u["admin1"].ID, r2.ID)
		f.must(err)
		if len(h.Decisions) != 1 || len(h.Audit) != 2 || h.Request.ID != r2.ID {
			t.Fatalf("history = %d decisions, %d audit entries", len(h.Decisions), len(h.Audit))
		}
		// The decision's audit entry carries before and after state.
		e := h.Audit[1]
		eq(t, "actor", e.ActorID, f.u["mgr"].ID)
		eq(t, "object", e.ObjectType, requests.AuditObject)
		var before, after struct {
			Status   string `json:"status"`
			Level    int    `json:"level"`
			Decision *struct {
				ApproverID string `json:"approver_id"`
			} `json:"decision"`
		}
		f.must(json.Unmarshal(e.Before, &before))
		f.must(json.Unmarshal(e.After, &after))
		if before.Level != 1 || after.Level != 2 || after.Decision == nil || after.Decision.ApproverID != f.u["mgr"].ID {
			t.Errorf("audit before %+v after %+v", before, after)
		}
		if _, err := f.svc.History(f.ctx, f.tenant.ID, f.u["admin1"].ID, "missing"); !errors.Is(err, accessbot.ErrNotFound) {
			t.Errorf("history of a missing request: %v", err)
		}
	})
}
