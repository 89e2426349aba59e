package conformance

import (
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

// testPurposes covers purposes, assignments and sessions: the upsert by
// name, one open session per person and purpose, the end claim (one winner
// among racers, the end re-checked), stop, extend and finish as
// conditional updates, and tenant isolation.
func testPurposes(t *testing.T, s store.Store) {
	ten := newTenant(t, s)
	other := newTenant(t, s)
	u := newUser(t, s, ten.ID, "oncall@example.com")
	a := newApp(t, s, ten.ID, "DB", u.ID)
	c := newConn(t, s, ten.ID, a.ID, "readers")
	p := &accessbot.Purpose{TenantID: ten.ID, Name: "oncall-db", Description: "On-call database access",
		Connections: []accessbot.PurposeConnection{{AppID: a.ID, ConnectionID: c.ID}}, MaxSession: 4 * time.Hour,
		AssignChain: "default", Channel: "C0ONCALL"}
	ok(t, s.UpsertPurpose(ctx(), p), "create purpose")
	id := p.ID
	p.Description, p.StartChain = "On-call DB", "oncall"
	ok(t, s.UpsertPurpose(ctx(), p), "update purpose")
	if p.ID != id {
		t.Fatalf("upsert changed the id: %s -> %s", id, p.ID)
	}
	got, err := s.GetPurposeByName(ctx(), ten.ID, "oncall-db")
	ok(t, err, "get purpose by name")
	same(t, *got, *p, "get purpose by name")
	_, err = s.GetPurpose(ctx(), other.ID, id)
	isErr(t, err, accessbot.ErrNotFound, "get another tenant's purpose")
	isErr(t, s.UpsertPurpose(ctx(), &accessbot.Purpose{TenantID: ten.ID, Name: "x"}), accessbot.ErrInvalid, "purpose without max or chain")
	list, err := s.ListPurposes(ctx(), other.ID)
	ok(t, err, "list another tenant's purposes")
	if len(list) != 0 {
		t.Fatalf("another tenant lists %d purposes", len(list))
	}

	as := &accessbot.PurposeAssignment{TenantID: ten.ID, PurposeID: id, UserID: u.ID, RequestID: "r1"}
	ok(t, s.AssignPurpose(ctx(), as), "assign")
	ok(t, s.AssignPurpose(ctx(), &accessbot.PurposeAssignment{TenantID: ten.ID, PurposeID: id, UserID: u.ID, RequestID: "r2"}), "assign again")
	ga, err := s.GetPurposeAssignment(ctx(), ten.ID, id, u.ID)
	ok(t, err, "get assignment")
	if ga.RequestID != "r1" {
		t.Fatalf("assigning again replaced the assignment: %+v", ga)
	}
	_, err = s.GetPurposeAssignment(ctx(), other.ID, id, u.ID)
	isErr(t, err, accessbot.ErrNotFound, "another tenant's assignment")

	now := time.Now().UTC().Truncate(time.Second)
	ses := &accessbot.PurposeSession{TenantID: ten.ID, PurposeID: id, UserID: u.ID, Reason: "incident 42", RequestIDs: []string{"q1"},
		StartedAt: now, EndsAt: now.Add(time.Hour)}
	ok(t, s.CreatePurposeSession(ctx(), ses), "create session")
	isErr(t, s.CreatePurposeSession(ctx(), &accessbot.PurposeSession{TenantID: ten.ID, PurposeID: id, UserID: u.ID, StartedAt: now, EndsAt: now.Add(time.Hour)}),
		accessbot.ErrConflict, "a second open session")
	gs, err := s.GetPurposeSession(ctx(), ten.ID, ses.ID)
	ok(t, err, "get session")
	same(t, *gs, *ses, "get session")

	// Extend: conditional on the end read.
	isErr(t, s.ExtendPurposeSession(ctx(), ten.ID, ses.ID, now, now.Add(2*time.Hour)), accessbot.ErrStale, "extend from a wrong end")
	ok(t, s.ExtendPurposeSession(ctx(), ten.ID, ses.ID, now.Add(time.Hour), now.Add(2*time.Hour)), "extend")
	end := now.Add(2 * time.Hour)
	isErr(t, s.ExtendPurposeSession(ctx(), other.ID, ses.ID, end, end.Add(time.Hour)), accessbot.ErrNotFound, "extend another tenant's session")

	due, err := s.ListDuePurposeSessions(ctx(), ten.ID, end.Add(-time.Second))
	ok(t, err, "list due before the end")
	if len(due) != 0 {
		t.Fatalf("%d sessions due before the end", len(due))
	}
	claim := func(tenantID string, at time.Time) func() (bool, error) {
		return func() (bool, error) { return s.ClaimPurposeSession(ctx(), tenantID, ses.ID, at, time.Minute) }
	}
	claims(t, false, "claim before the end", claim(ten.ID, end.Add(-time.Second)))
	claims(t, false, "claim from another tenant", claim(other.ID, end))
	oneRacerWins(t, "claim at the end", claim(ten.ID, end))
	gs, err = s.GetPurposeSession(ctx(), ten.ID, ses.ID)
	ok(t, err, "get claimed session")
	if gs.Status != accessbot.SessionEnding || gs.EndedBy != "system" || gs.EndReason != "expired" || gs.EndingAt == nil || !gs.EndingAt.Equal(end) {
		t.Fatalf("claimed session %+v, want ending by system, expired, at its end", gs)
	}
	isErr(t, s.StopPurposeSession(ctx(), ten.ID, ses.ID, u.ID, "done", end), accessbot.ErrStale, "stop an ending session")
	// The claim runs out: an ending session is claimed again.
	claims(t, false, "claim within another's lease", claim(ten.ID, end.Add(30*time.Second)))
	claims(t, true, "claim an ending session whose claim ran out", claim(ten.ID, end.Add(2*time.Minute)))
	ok(t, s.FinishPurposeSession(ctx(), ten.ID, ses.ID, end.Add(2*time.Minute)), "finish")
	isErr(t, s.FinishPurposeSession(ctx(), ten.ID, ses.ID, end), accessbot.ErrStale, "finish twice")
	due, err = s.ListDuePurposeSessions(ctx(), ten.ID, end.Add(time.Hour))
	ok(t, err, "list due after finish")
	if len(due) != 0 {
		t.Fatalf("%d sessions due after finish", len(due))
	}

	// Ended, a new session may start; a stop is by whom and why.
	s2 := &accessbot.PurposeSession{TenantID: ten.ID, PurposeID: id, UserID: u.ID, StartedAt: end, EndsAt: end.Add(time.Hour)}
	ok(t, s.CreatePurposeSession(ctx(), s2), "start again after the end")
	ok(t, s.StopPurposeSession(ctx(), ten.ID, s2.ID, "admin", "incident over", end.Add(time.Minute)), "stop")
	open, err := s.ListPurposeSessions(ctx(), ten.ID, u.ID, []accessbot.SessionStatus{accessbot.SessionEnding})
	ok(t, err, "list ending sessions")
	if len(open) != 1 || open[0].ID != s2.ID || open[0].EndedBy != "admin" || open[0].EndReason != "incident over" {
		t.Fatalf("ending sessions %+v", open)
	}
	all, err := s.ListPurposeSessions(ctx(), ten.ID, "", nil)
	ok(t, err, "list all sessions")
	if len(all) != 2 {
		t.Fatalf("%d sessions, want 2", len(all))
	}
	ok(t, s.ReleasePurposeSession(ctx(), ten.ID, s2.ID), "release")

	ok(t, s.DeletePurpose(ctx(), ten.ID, id), "delete purpose")
	_, err = s.GetPurposeAssignment(ctx(), ten.ID, id, u.ID)
	isErr(t, err, accessbot.ErrNotFound, "assignment of a deleted purpose")
	if _, err := s.GetPurposeSession(ctx(), ten.ID, s2.ID); err != nil {
		t.Fatalf("a deleted purpose's session is evidence and stays: %v", err)
	}
}
