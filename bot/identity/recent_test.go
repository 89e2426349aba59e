package identity_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/identity"
)

// heldStore counts reads of users by id and, while held, makes reads of
// users (by id, email or Slack id) wait.
type heldStore struct {
	identity.Store
	reads atomic.Int32
	mu    sync.Mutex
	gate  chan struct{} // nil: reads go through
}

func (h *heldStore) GetUser(ctx context.Context, tenantID, id string) (*accessbot.User, error) {
	if err := h.wait(ctx); err != nil {
		return nil, err
	}
	h.reads.Add(1)
	return h.Store.GetUser(ctx, tenantID, id)
}

func (h *heldStore) GetUserByEmail(ctx context.Context, tenantID, email string) (*accessbot.User, error) {
	if err := h.wait(ctx); err != nil {
		return nil, err
	}
	return h.Store.GetUserByEmail(ctx, tenantID, email)
}

func (h *heldStore) UserBySlackID(ctx context.Context, tenantID, teamID, slackUserID string, since time.Time) (*accessbot.User, time.Time, error) {
	if err := h.wait(ctx); err != nil {
		return nil, time.Time{}, err
	}
	return h.Store.UserBySlackID(ctx, tenantID, teamID, slackUserID, since)
}

func (h *heldStore) wait(ctx context.Context) error {
	h.mu.Lock()
	gate := h.gate
	h.mu.Unlock()
	if gate == nil {
		return nil
	}
	select {
	case <-gate:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// hold makes reads wait until the returned func is called.
func (h *heldStore) hold() (release func()) {
	gate := make(chan struct{})
	h.mu.Lock()
	h.gate = gate
	h.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			h.mu.Lock()
			h.gate = nil
			h.mu.Unlock()
			close(gate)
		})
	}
}

func sameUser(a, b accessbot.User) bool {
	return a.ID == b.ID && a.Email == b.Email && a.Role == b.Role && a.Status == b.Status && a.Name == b.Name
}

type outcome struct {
	a   identity.Actor
	err error
}

// async runs fn and hands back its outcome.
func async(fn func() (identity.Actor, error)) <-chan outcome {
	ch := make(chan outcome, 1)
	go func() {
		a, err := fn()
		ch <- outcome{a, err}
	}()
	return ch
}

func within(t *testing.T, what string, ch <-chan outcome) outcome {
	t.Helper()
	select {
	case o := <-ch:
		return o
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: no answer within 5 s", what)
		return outcome{}
	}
}

// TestResolveRecent: ResolveRecent answers from the copy kept in process
// without waiting for the store (the user's read held), once it is older
// than UserTTL, and reads it again in the background; Resolve, which
// commands and clicks that act use, never answers from the old copy: each
// change (role, email, status, delete) is seen by the first Resolve after
// UserTTL, even while ResolveRecent still answered from the old copy, and
// by ResolveRecent itself once the background read is in. Past
// UserTTL+StaleFor, and after Invalidate, ResolveRecent waits for the store.
func TestResolveRecent(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		st := &heldStore{Store: e.st}
		res := identity.NewResolver(st, e.clients, identity.Options{
			Cache: identity.NewMemoryCache(100, e.clock.Now), TTL: e.cacheTTL, Now: e.clock.Now, Log: zerolog.Nop(),
		})
		recent := func() (identity.Actor, error) { return res.ResolveRecent(ctx, teamID, "UDAVE") }
		resolve := func() (identity.Actor, error) { return res.Resolve(ctx, teamID, "UDAVE") }
		// fresh waits until ResolveRecent answers from a copy read after
		// the last change (the background read is in).
		fresh := func(ok func(identity.Actor, error) bool) {
			t.Helper()
			deadline := time.Now().Add(5 * time.Second)
			for {
				if a, err := recent(); ok(a, err) {
					return
				}
				if time.Now().After(deadline) {
					t.Fatal("ResolveRecent never saw the change")
				}
				time.Sleep(2 * time.Millisecond)
			}
		}

		if a, err := recent(); err != nil || a.User.Email != "dave@example.com" {
			t.Fatalf("first resolve: %+v, %v", a.User, err)
		}
		dave := *e.users["dave"]
		steps := []struct {
			name   string
			change func() error
			seen   func(a identity.Actor, err error) bool // by Resolve after the change
		}{
			{"role", func() error { dave.Role = accessbot.RoleAdmin; return e.st.UpdateUser(ctx, &dave) },
				func(a identity.Actor, err error) bool { return err == nil && a.User.Role == accessbot.RoleAdmin }},
			{"email", func() error { dave.Email = "dave.new@example.com"; return e.st.UpdateUser(ctx, &dave) },
				func(a identity.Actor, err error) bool { return err == nil && a.User.Email == "dave.new@example.com" }},
			{"status", func() error { dave.Status = accessbot.UserTerminated; return e.st.UpdateUser(ctx, &dave) },
				func(_ identity.Actor, err error) bool { return errors.Is(err, identity.ErrTerminated) }},
			{"delete", func() error { return e.st.DeleteUser(ctx, e.tenant, dave.ID) },
				func(_ identity.Actor, err error) bool { return errors.Is(err, identity.ErrNoMatch) }},
		}
		for _, step := range steps {
			before, beforeErr := recent()
			reads := st.reads.Load()
			must(t, step.change())
			e.clock.Add(identity.DefaultUserTTL)
			release := st.hold()
			t.Cleanup(release)
			got := within(t, step.name+": ResolveRecent with the read held", async(recent))
			if !sameUser(got.a.User, before.User) || (got.err == nil) != (beforeErr == nil) ||
				errors.Is(got.err, identity.ErrTerminated) != errors.Is(beforeErr, identity.ErrTerminated) {
				t.Fatalf("%s: ResolveRecent = %+v, %v; want the kept copy %+v, %v", step.name, got.a.User, got.err, before.User, beforeErr)
			}
			acting := async(resolve) // joins the background read
			select {
			case o := <-acting:
				t.Fatalf("%s: Resolve answered %+v, %v before the store was read", step.name, o.a.User, o.err)
			case <-time.After(50 * time.Millisecond):
			}
			release()
			if o := within(t, step.name+": Resolve", acting); !step.seen(o.a, o.err) {
				t.Fatalf("%s: Resolve after the change = %+v, %v", step.name, o.a.User, o.err)
			}
			if n := st.reads.Load() - reads; n != 1 {
				t.Errorf("%s: %d reads of the user, want 1 (Resolve joins the background read)", step.name, n)
			}
			fresh(step.seen)
		}

		// Past UserTTL+StaleFor, and after Invalidate, it waits for the store.
		must(t, e.st.CreateUser(ctx, &accessbot.User{TenantID: e.tenant, Email: "dave@example.com", Name: "Dave again",
			Status: accessbot.UserActive, Role: accessbot.RoleMember}))
		fresh(func(a identity.Actor, err error) bool { return err == nil && a.User.Name == "Dave again" })
		for _, stale := range []func(){
			func() { e.clock.Add(identity.DefaultUserTTL + identity.DefaultStaleFor) },
			func() { must(t, res.Invalidate(ctx, teamID, "UDAVE")) },
		} {
			stale()
			release := st.hold()
			t.Cleanup(release)
			waiting := async(recent)
			select {
			case o := <-waiting:
				t.Fatalf("ResolveRecent answered %+v, %v without reading the store", o.a.User, o.err)
			case <-time.After(50 * time.Millisecond):
			}
			release()
			if o := within(t, "ResolveRecent", waiting); o.err != nil || o.a.User.Name != "Dave again" {
				t.Fatalf("ResolveRecent = %+v, %v", o.a.User, o.err)
			}
		}
	})
}

// TestResolveRecentNeverStale: with StaleFor < 0 ResolveRecent is Resolve.
func TestResolveRecentNeverStale(t *testing.T) {
	t.Parallel()
	e := setup(t, "sqlite", "memory")
	ctx := context.Background()
	st := &heldStore{Store: e.st}
	res := identity.NewResolver(st, e.clients, identity.Options{StaleFor: -1, Now: e.clock.Now, Log: zerolog.Nop()})
	if _, err := res.ResolveRecent(ctx, teamID, "UDAVE"); err != nil {
		t.Fatal(err)
	}
	dave := e.users["dave"]
	dave.Role = accessbot.RoleAdmin
	must(t, e.st.UpdateUser(ctx, dave))
	e.clock.Add(identity.DefaultUserTTL)
	if a, err := res.ResolveRecent(ctx, teamID, "UDAVE"); err != nil || a.User.Role != accessbot.RoleAdmin {
		t.Fatalf("ResolveRecent = %+v, %v; want the stored admin", a.User, err)
	}
}
