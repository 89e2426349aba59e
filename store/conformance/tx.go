package conformance

import (
	"errors"
	"testing"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

func testTransactions(t *testing.T, s store.Store) {
	errBoom := errors.New("boom")
	type panicValue struct{ msg string }
	tests := []struct {
		name string
		// fn writes a user, an application and an audit entry, then fails its way.
		fail      func(q store.Queries, tenantID string) error
		wantErr   error
		wantPanic any
	}{
		{"error rolls back", func(q store.Queries, _ string) error { return errBoom }, errBoom, nil},
		{"panic rolls back and re-panics", func(q store.Queries, _ string) error { panic(panicValue{"boom"}) }, nil, panicValue{"boom"}},
		{"conflict rolls back earlier writes", func(q store.Queries, tenantID string) error {
			return q.CreateUser(ctx(), &accessbot.User{TenantID: tenantID, Email: "TX@example.com"})
		}, accessbot.ErrConflict, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ten := newTenant(t, s)
			var userID string
			var gotPanic any
			err := func() (err error) {
				defer func() { gotPanic = recover() }()
				return s.InTx(ctx(), func(q store.Queries) error {
					u := newUser(t, q, ten.ID, "tx@example.com")
					userID = u.ID
					newApp(t, q, ten.ID, "TxApp", u.ID)
					ok(t, q.AppendAudit(ctx(), &accessbot.AuditEntry{TenantID: ten.ID, ActorID: "system", Action: "tx", ObjectID: u.ID}), "audit")
					// Reads inside the transaction see its writes.
					if _, err := q.GetUser(ctx(), ten.ID, u.ID); err != nil {
						t.Errorf("read own write in tx: %v", err)
					}
					return tc.fail(q, ten.ID)
				})
			}()
			if tc.wantPanic != nil {
				if gotPanic != tc.wantPanic {
					t.Fatalf("recovered %v, want the original panic %v", gotPanic, tc.wantPanic)
				}
			} else {
				if gotPanic != nil {
					t.Fatalf("unexpected panic %v", gotPanic)
				}
				isErr(t, err, tc.wantErr, "InTx error")
			}
			assertEmptyTenant(t, s, ten.ID, userID)
		})
	}

	t.Run("commit keeps everything", func(t *testing.T) {
		t.Parallel()
		ten := newTenant(t, s)
		var u *accessbot.User
		ok(t, s.InTx(ctx(), func(q store.Queries) error {
			u = newUser(t, q, ten.ID, "c@example.com")
			newApp(t, q, ten.ID, "C", u.ID)
			return nil
		}), "InTx")
		_, err := s.GetUser(ctx(), ten.ID, u.ID)
		ok(t, err, "user after commit")
		_, err = s.GetApplicationByName(ctx(), ten.ID, "C")
		ok(t, err, "application after commit")
	})

	t.Run("store still usable after rollbacks", func(t *testing.T) {
		t.Parallel()
		for range 3 {
			_ = s.InTx(ctx(), func(store.Queries) error { return errBoom })
		}
		ok(t, s.Ping(ctx()), "ping")
		newTenant(t, s)
	})
}

func assertEmptyTenant(t *testing.T, s store.Store, tenantID, userID string) {
	t.Helper()
	if userID == "" {
		t.Fatal("transaction body did not run")
	}
	_, err := s.GetUser(ctx(), tenantID, userID)
	isErr(t, err, accessbot.ErrNotFound, "user after rollback")
	users, err := s.ListUsers(ctx(), tenantID)
	ok(t, err, "list users")
	apps, err2 := s.ListApplications(ctx(), tenantID, "", 0)
	ok(t, err2, "list apps")
	audit, err3 := s.ListAudit(ctx(), tenantID, "")
	ok(t, err3, "list audit")
	if len(users)+len(apps)+len(audit) != 0 {
		t.Fatalf("rollback left %d users, %d apps, %d audit entries", len(users), len(apps), len(audit))
	}
}
