package conformance

import (
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

// testRequestPolicies covers a tenant's request policies: none at first,
// stored and read back whole, replaced, and never another tenant's.
func testRequestPolicies(t *testing.T, s store.Store) {
	ten := newTenant(t, s)
	other := newTenant(t, s)
	_, err := s.GetRequestPolicy(ctx(), ten.ID)
	isErr(t, err, accessbot.ErrNotFound, "no request policy")
	p := &accessbot.RequestPolicy{TenantID: ten.ID,
		Channels:      []accessbot.ChannelRoute{{ChannelID: "C0DATA", ChainID: "chain-1", AppIDs: []string{"a1", "a2"}}},
		ChannelChains: []string{"chain-1"},
		OnBehalf: accessbot.OnBehalf{Managers: accessbot.ReachReportingLine, Admins: true,
			Groups: []accessbot.OnBehalfGroup{{Name: "helpdesk", MemberIDs: []string{"u1"}, AppIDs: []string{"a1"}}}}}
	ok(t, s.PutRequestPolicy(ctx(), p), "put request policy")
	back, err := s.GetRequestPolicy(ctx(), ten.ID)
	ok(t, err, "get request policy")
	same(t, *back, *p, "request policy")
	if r := back.Route("C0DATA"); r == nil || r.ChainID != "chain-1" {
		t.Fatalf("route of C0DATA = %+v", r)
	}
	ok(t, s.PutRequestPolicy(ctx(), &accessbot.RequestPolicy{TenantID: ten.ID}), "replace with the default")
	back, err = s.GetRequestPolicy(ctx(), ten.ID)
	ok(t, err, "get replaced request policy")
	if len(back.Channels) != 0 || back.OnBehalf.ManagerReach() != accessbot.ReachDirectReports {
		t.Fatalf("replaced policy = %+v", back)
	}
	_, err = s.GetRequestPolicy(ctx(), other.ID)
	isErr(t, err, accessbot.ErrNotFound, "another tenant's request policy")
}

// testStepUps covers step-up links: opened once before they expire,
// completed once, and never another tenant's.
func testStepUps(t *testing.T, s store.Store) {
	ten := newTenant(t, s)
	other := newTenant(t, s)
	now := time.Now().UTC().Truncate(time.Second)
	su := &accessbot.StepUp{TenantID: ten.ID, ID: "hash-1", RequestID: "r1", Level: 1, ApproverID: "u1", ExpiresAt: now.Add(5 * time.Minute)}
	ok(t, s.CreateStepUp(ctx(), su), "create step-up")
	isErr(t, s.CompleteStepUp(ctx(), ten.ID, su.ID, now), accessbot.ErrStale, "complete before it was opened")
	isErr(t, s.StartStepUp(ctx(), other.ID, su.ID, "st", "n", now), accessbot.ErrStale, "open another tenant's")
	ok(t, s.StartStepUp(ctx(), ten.ID, su.ID, "state-1", "nonce-1", now), "open")
	isErr(t, s.StartStepUp(ctx(), ten.ID, su.ID, "state-2", "nonce-2", now), accessbot.ErrStale, "open again (replay)")
	got, err := s.GetStepUpByState(ctx(), ten.ID, "state-1")
	ok(t, err, "get by state")
	if got.ID != su.ID || got.Nonce != "nonce-1" || got.StartedAt == nil || got.CompletedAt != nil || got.Level != 1 || !got.ExpiresAt.Equal(su.ExpiresAt) {
		t.Fatalf("step-up by state = %+v", got)
	}
	_, err = s.GetStepUpByState(ctx(), other.ID, "state-1")
	isErr(t, err, accessbot.ErrNotFound, "another tenant's state")
	ok(t, s.CompleteStepUp(ctx(), ten.ID, su.ID, now), "complete")
	isErr(t, s.CompleteStepUp(ctx(), ten.ID, su.ID, now), accessbot.ErrStale, "complete again (replay)")
	got, err = s.GetStepUp(ctx(), ten.ID, su.ID)
	ok(t, err, "get")
	if got.CompletedAt == nil {
		t.Fatalf("completed step-up = %+v", got)
	}
	expired := &accessbot.StepUp{TenantID: ten.ID, ID: "hash-2", RequestID: "r1", ApproverID: "u1", ExpiresAt: now.Add(-time.Second)}
	ok(t, s.CreateStepUp(ctx(), expired), "create expired step-up")
	isErr(t, s.StartStepUp(ctx(), ten.ID, expired.ID, "state-3", "n", now), accessbot.ErrStale, "open an expired link")
}
