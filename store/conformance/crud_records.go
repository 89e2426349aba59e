package conformance

import (
	"database/sql"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

func testRequests(t *testing.T, s store.Store) {
	ten := newTenant(t, s)
	u := newUser(t, s, ten.ID, "req@example.com")
	a := newApp(t, s, ten.ID, "App", u.ID)
	c := newConn(t, s, ten.ID, a.ID, "devs")
	r := &accessbot.AccessRequest{
		TenantID: ten.ID, Kind: accessbot.RequestConnectionAssign, RequesterID: u.ID, TargetUserID: u.ID,
		AppID: a.ID, ConnectionID: c.ID, Payload: json.RawMessage(`{"grants":["x"],"revokes":[]}`),
		Duration: 8 * time.Hour, Justification: "on call", Status: accessbot.StatusPending, OpenKey: "k1",
		Levels:  []accessbot.ApprovalLevel{{Approvers: []accessbot.Approver{{Kind: accessbot.ApproverOwners}}, Rule: accessbot.RuleAny}},
		Channel: "C0DATA",
	}
	ok(t, s.CreateRequest(ctx(), r), "create request")
	got, err := s.GetRequest(ctx(), ten.ID, r.ID)
	ok(t, err, "get request")
	same(t, got, r, "get request")
	got, err = s.GetOpenRequestByKey(ctx(), ten.ID, "k1")
	ok(t, err, "get open request by key")
	same(t, got, r, "by open key")

	r2 := newRequest(t, s, ten.ID, u.ID, "")
	// Where a request was made: "" (a DM) is known; unknown (stored
	// before the channel was) reads back as unknown.
	if got, err := s.GetRequest(ctx(), ten.ID, r2.ID); err != nil || got.Channel != "" || got.ChannelUnknown {
		t.Fatalf("request made in a DM: channel %q unknown %v (%v)", got.Channel, got.ChannelUnknown, err)
	}
	byReq, err := s.ListRequestsByRequester(ctx(), ten.ID, u.ID, 0)
	ok(t, err, "list by requester")
	if len(byReq) != 2 || byReq[0].ID != r2.ID {
		t.Fatalf("ListRequestsByRequester not newest first: %v", ids(byReq))
	}
	byReq, err = s.ListRequestsByRequester(ctx(), ten.ID, u.ID, 1)
	ok(t, err, "list by requester with limit")
	if len(byReq) != 1 {
		t.Fatalf("limit 1 returned %d", len(byReq))
	}
	pending, err := s.ListRequestsByStatus(ctx(), ten.ID, accessbot.StatusPending, 0)
	ok(t, err, "list pending")
	if len(pending) != 2 || pending[0].ID != r.ID {
		t.Fatalf("ListRequestsByStatus not oldest first: %v", ids(pending))
	}
	legacy := &accessbot.AccessRequest{TenantID: ten.ID, Kind: accessbot.RequestUserAccess, RequesterID: u.ID, TargetUserID: u.ID,
		AppID: a.ID, ConnectionID: c.ID, Status: accessbot.StatusDenied, ChannelUnknown: true}
	ok(t, s.CreateRequest(ctx(), legacy), "create request of unknown channel")
	if got, err := s.GetRequest(ctx(), ten.ID, legacy.ID); err != nil || !got.ChannelUnknown {
		t.Fatalf("request of unknown channel: %+v (%v)", got, err)
	}

	// Moving to the next level keeps the open key; deciding clears it.
	next := *r
	next.Level = 1
	next.Levels = append(next.Levels, accessbot.ApprovalLevel{Approvers: []accessbot.Approver{{Kind: accessbot.ApproverManager}}, Rule: accessbot.RuleAll})
	ok(t, s.TransitionRequest(ctx(), ten.ID, r.ID, accessbot.StatusPending, 0, &next), "advance level")
	got, err = s.GetRequest(ctx(), ten.ID, r.ID)
	ok(t, err, "get advanced request")
	same(t, got, &next, "advanced request")

	decided := time.Now()
	done := next
	done.Status, done.DecidedAt = accessbot.StatusApproved, &decided
	isErr(t, s.TransitionRequest(ctx(), ten.ID, r.ID, accessbot.StatusPending, 0, &done), accessbot.ErrStale, "transition from old level")
	ok(t, s.TransitionRequest(ctx(), ten.ID, r.ID, accessbot.StatusPending, 1, &done), "approve")
	if done.OpenKey != "" {
		t.Fatalf("open key %q kept after decision", done.OpenKey)
	}
	got, err = s.GetRequest(ctx(), ten.ID, r.ID)
	ok(t, err, "get approved request")
	same(t, got, &done, "approved request")
	_, err = s.GetOpenRequestByKey(ctx(), ten.ID, "k1")
	isErr(t, err, accessbot.ErrNotFound, "open key after decision")
	isErr(t, s.TransitionRequest(ctx(), ten.ID, r.ID, accessbot.StatusPending, 1, &done), accessbot.ErrStale, "decide twice")
	isErr(t, s.TransitionRequest(ctx(), ten.ID, "missing", accessbot.StatusPending, 0, &done), accessbot.ErrNotFound, "transition missing")
	// The key is free again once the first request is decided.
	newRequest(t, s, ten.ID, u.ID, "k1")
}

func ids(rs []accessbot.AccessRequest) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

func testDecisions(t *testing.T, s store.Store) {
	ten := newTenant(t, s)
	u := newUser(t, s, ten.ID, "a@example.com")
	v := newUser(t, s, ten.ID, "b@example.com")
	r := newRequest(t, s, ten.ID, u.ID, "")
	d1 := &accessbot.Decision{TenantID: ten.ID, RequestID: r.ID, Level: 1, ApproverID: u.ID, Decision: accessbot.DecisionApprove, Reason: "ok"}
	d0 := &accessbot.Decision{TenantID: ten.ID, RequestID: r.ID, Level: 0, ApproverID: v.ID, Decision: accessbot.DecisionDeny}
	ok(t, s.AddDecision(ctx(), d1), "add decision level 1")
	ok(t, s.AddDecision(ctx(), d0), "add decision level 0")
	list, err := s.ListDecisions(ctx(), ten.ID, r.ID)
	ok(t, err, "list decisions")
	same(t, list, []accessbot.Decision{*d0, *d1}, "decisions by level")
	isErr(t, s.AddDecision(ctx(), &accessbot.Decision{TenantID: ten.ID, RequestID: "missing", ApproverID: u.ID, Decision: "approve"}),
		accessbot.ErrNotFound, "decision on missing request")
	isErr(t, s.AddDecision(ctx(), &accessbot.Decision{TenantID: ten.ID, RequestID: r.ID, Level: 2, ApproverID: u.ID, Decision: "maybe"}),
		accessbot.ErrInvalid, "bad decision kind")
}

func testAudit(t *testing.T, s store.Store) {
	ten := newTenant(t, s)
	e1 := &accessbot.AuditEntry{TenantID: ten.ID, ActorID: "system", Action: "request.created", ObjectType: "request",
		ObjectID: "r1", After: json.RawMessage(`{"status": "pending"}`)}
	ok(t, s.AppendAudit(ctx(), e1), "append")
	e2 := &accessbot.AuditEntry{TenantID: ten.ID, At: e1.At.Add(time.Millisecond), ActorID: "u1", Action: "request.approved",
		ObjectType: "request", ObjectID: "r1", Before: json.RawMessage(`{"status": "pending"}`), After: json.RawMessage(`{"status":"approved"}`)}
	ok(t, s.AppendAudit(ctx(), e2), "append 2")
	ok(t, s.AppendAudit(ctx(), &accessbot.AuditEntry{TenantID: ten.ID, ActorID: "u1", Action: "app.created", ObjectID: "a1"}), "append 3")
	list, err := s.ListAudit(ctx(), ten.ID, "r1")
	ok(t, err, "list audit")
	same(t, list, []accessbot.AuditEntry{*e1, *e2}, "audit of r1 (JSON kept byte for byte)")
	all, err := s.ListAudit(ctx(), ten.ID, "")
	ok(t, err, "list tenant audit")
	if len(all) != 3 {
		t.Fatalf("tenant audit has %d entries, want 3", len(all))
	}

	// The API has no way to change the log...
	for _, name := range methodNames(s) {
		if strings.Contains(name, "Audit") && name != "AppendAudit" && name != "ListAudit" {
			t.Fatalf("store has audit method %s: the audit log must be append-only", name)
		}
	}
	// ...and the database refuses it too, when the backend exposes its handle.
	h, isSQL := s.(interface{ DB() *sql.DB })
	if !isSQL {
		t.Log("backend does not expose DB(): database-level append-only check skipped")
		return
	}
	for _, stmt := range []string{
		`UPDATE audit_log SET action = 'tampered' WHERE id = '` + e1.ID + `'`,
		`DELETE FROM audit_log WHERE id = '` + e1.ID + `'`,
	} {
		if _, err := h.DB().ExecContext(ctx(), stmt); err == nil {
			t.Fatalf("database allowed %q on the audit log", stmt)
		}
	}
	list, err = s.ListAudit(ctx(), ten.ID, "r1")
	ok(t, err, "list audit after tamper attempts")
	same(t, list, []accessbot.AuditEntry{*e1, *e2}, "audit unchanged")
}

func methodNames(v any) []string {
	typ := reflect.TypeOf(v)
	out := make([]string, 0, typ.NumMethod())
	for i := range typ.NumMethod() {
		out = append(out, typ.Method(i).Name)
	}
	return out
}

func testSecrets(t *testing.T, s store.Store) {
	ten := newTenant(t, s)
	sec := &accessbot.Secret{TenantID: ten.ID, Name: "slack-bot", KeyID: "k1", Ciphertext: []byte{0, 1, 2, 255}}
	ok(t, s.PutSecret(ctx(), sec), "put secret")
	got, err := s.GetSecret(ctx(), ten.ID, "slack-bot")
	ok(t, err, "get secret")
	same(t, got, sec, "get secret")
	sec.KeyID, sec.Ciphertext = "k2", []byte("rotated")
	ok(t, s.PutSecret(ctx(), sec), "replace secret")
	got, err = s.GetSecret(ctx(), ten.ID, "slack-bot")
	ok(t, err, "get replaced secret")
	same(t, got, sec, "replaced secret")
	ok(t, s.PutSecret(ctx(), &accessbot.Secret{TenantID: ten.ID, Name: "gitlab", KeyID: "k2", Ciphertext: []byte("x")}), "put second")
	list, err := s.ListSecrets(ctx(), ten.ID)
	ok(t, err, "list secrets")
	if len(list) != 2 || list[0].Name != "gitlab" {
		t.Fatalf("ListSecrets = %+v", list)
	}
	ok(t, s.DeleteSecret(ctx(), ten.ID, "gitlab"), "delete secret")
	_, err = s.GetSecret(ctx(), ten.ID, "gitlab")
	isErr(t, err, accessbot.ErrNotFound, "get deleted secret")
	isErr(t, s.DeleteSecret(ctx(), ten.ID, "gitlab"), accessbot.ErrNotFound, "delete twice")
}

func testMessageRefs(t *testing.T, s store.Store) {
	ten := newTenant(t, s)
	m1 := &accessbot.MessageRef{TenantID: ten.ID, ObjectID: "r1", Purpose: "approval:0", UserID: "u1", ChannelID: "D1", TS: "1.000100"}
	m2 := &accessbot.MessageRef{TenantID: ten.ID, ObjectID: "r1", Purpose: "requester", UserID: "u2", ChannelID: "D2", TS: "1.000200",
		CreatedAt: time.Now().Add(time.Second)}
	ok(t, s.SaveMessageRef(ctx(), m1), "save 1")
	ok(t, s.SaveMessageRef(ctx(), m2), "save 2")
	ok(t, s.SaveMessageRef(ctx(), &accessbot.MessageRef{TenantID: ten.ID, ObjectID: "r2", Purpose: "p", ChannelID: "C", TS: "3"}), "save other")
	list, err := s.ListMessageRefs(ctx(), ten.ID, "r1")
	ok(t, err, "list refs")
	same(t, list, []accessbot.MessageRef{*m1, *m2}, "refs of r1")
	// Saving the same message again replaces, it does not duplicate.
	m1.Purpose = "approval:1"
	ok(t, s.SaveMessageRef(ctx(), &accessbot.MessageRef{TenantID: ten.ID, ObjectID: "r1", Purpose: "approval:1", UserID: "u1", ChannelID: "D1", TS: "1.000100"}), "save again")
	list, err = s.ListMessageRefs(ctx(), ten.ID, "r1")
	ok(t, err, "list refs again")
	same(t, list, []accessbot.MessageRef{*m1, *m2}, "refs after re-save")
}
