package identity_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/identity"
)

// countingStore counts the resolver's store reads.
type countingStore struct {
	identity.Store
	workspaces, users atomic.Int32
}

func (c *countingStore) WorkspaceByTeam(ctx context.Context, teamID string) (*accessbot.Workspace, error) {
	c.workspaces.Add(1)
	return c.Store.WorkspaceByTeam(ctx, teamID)
}

func (c *countingStore) GetUser(ctx context.Context, tenantID, id string) (*accessbot.User, error) {
	c.users.Add(1)
	return c.Store.GetUser(ctx, tenantID, id)
}

// TestWorkspaceBindingKeptBriefly: a repeat resolve reads only the user (its
// status stays current), the binding is re-read once WorkspaceTTL passes or
// after ForgetWorkspace, and an unknown team is not remembered.
func TestWorkspaceBindingKeptBriefly(t *testing.T) {
	ctx := context.Background()
	e := setup(t, "sqlite", "memory")
	cs := &countingStore{Store: e.st}
	res := identity.NewResolver(cs, e.clients, identity.Options{
		Cache: identity.NewMemoryCache(100, e.clock.Now), TTL: time.Hour, WorkspaceTTL: 30 * time.Second,
		UserTTL: -1, // the user is read on every resolve: only bindings are kept here
		Now:     e.clock.Now, Log: zerolog.Nop(),
	})
	reads := func(step string, wantWS, wantUsers int32) {
		t.Helper()
		if w, u := cs.workspaces.Swap(0), cs.users.Swap(0); w != wantWS || u != wantUsers {
			t.Errorf("%s: %d workspace and %d user reads, want %d and %d", step, w, u, wantWS, wantUsers)
		}
	}
	resolve := func(step string) {
		t.Helper()
		a, err := res.Resolve(ctx, teamID, "UALICE")
		if err != nil || a.TenantID != e.tenant || a.User.ID != e.users["alice"].ID {
			t.Fatalf("%s: Resolve = %+v, %v; want alice in acme", step, a, err)
		}
	}

	resolve("first")
	cs.workspaces.Store(0)
	cs.users.Store(0)
	resolve("second")
	reads("second resolve", 0, 1)

	// Terminations still take effect at once: the user is re-read.
	alice := *e.users["alice"]
	alice.Status = accessbot.UserTerminated
	must(t, e.st.UpdateUser(ctx, &alice))
	if _, err := res.Resolve(ctx, teamID, "UALICE"); !errors.Is(err, identity.ErrTerminated) {
		t.Errorf("after termination: err %v, want ErrTerminated", err)
	}
	reads("resolve after termination", 0, 1)

	e.clock.Add(31 * time.Second)
	res.Resolve(ctx, teamID, "UALICE")
	reads("after the workspace TTL", 1, 1)
	res.Resolve(ctx, teamID, "UALICE")
	reads("again", 0, 1)

	res.ForgetWorkspace(teamID)
	res.Resolve(ctx, teamID, "UALICE")
	reads("after ForgetWorkspace", 1, 1)

	for range 2 {
		if _, err := res.Workspace(ctx, unlinkedTeam); !errors.Is(err, identity.ErrWorkspaceNotLinked) {
			t.Fatalf("unlinked team: err %v, want ErrWorkspaceNotLinked", err)
		}
	}
	reads("unlinked team twice", 2, 0)
}

// gatedStore holds the first GetUser after gate is set until release closes.
type gatedStore struct {
	countingStore
	gate    atomic.Bool
	waiting chan struct{}
	release chan struct{}
}

func (g *gatedStore) GetUser(ctx context.Context, tenantID, id string) (*accessbot.User, error) {
	if g.gate.CompareAndSwap(true, false) {
		close(g.waiting)
		<-g.release
	}
	return g.countingStore.GetUser(ctx, tenantID, id)
}

// TestConcurrentResolvesShareOneRead: when a user's in-process copy has
// expired and many of their envelopes are resolved at once, one store read
// serves them all; after Invalidate, a new resolve does not join a read that
// started before it.
func TestConcurrentResolvesShareOneRead(t *testing.T) {
	ctx := context.Background()
	e := setup(t, "sqlite", "memory")
	gs := &gatedStore{countingStore: countingStore{Store: e.st}, waiting: make(chan struct{}), release: make(chan struct{})}
	res := identity.NewResolver(gs, e.clients, identity.Options{
		Cache: identity.NewMemoryCache(100, e.clock.Now), TTL: time.Hour, UserTTL: time.Second, Now: e.clock.Now, Log: zerolog.Nop(),
	})
	if _, err := res.Resolve(ctx, teamID, "UALICE"); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(2 * time.Second) // the in-process copy expired; the mapping is still cached
	gs.users.Store(0)
	gs.gate.Store(true)
	const n = 10
	errs := make(chan error, n)
	for range n {
		go func() {
			a, err := res.Resolve(ctx, teamID, "UALICE")
			if err == nil && a.User.ID != e.users["alice"].ID {
				err = errors.New("resolved " + a.User.ID + ", want alice")
			}
			errs <- err
		}()
	}
	<-gs.waiting
	time.Sleep(300 * time.Millisecond) // the others reach the read in flight
	close(gs.release)
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("[counts] %d store reads of the user for %d concurrent resolves", gs.users.Load(), n)
	if got := gs.users.Load(); got != 1 {
		t.Errorf("%d store reads of the user for %d concurrent resolves, want 1", got, n)
	}

	// A resolve after Invalidate reads again, even while an older read is held.
	e.clock.Add(2 * time.Second)
	gs.users.Store(0)
	gs.waiting, gs.release = make(chan struct{}), make(chan struct{})
	gs.gate.Store(true)
	go func() { _, err := res.Resolve(ctx, teamID, "UALICE"); errs <- err }()
	<-gs.waiting
	alice := *e.users["alice"]
	alice.Status = accessbot.UserTerminated
	must(t, e.st.UpdateUser(ctx, &alice))
	must(t, res.Invalidate(ctx, teamID, "UALICE"))
	if _, err := res.Resolve(ctx, teamID, "UALICE"); !errors.Is(err, identity.ErrTerminated) {
		t.Errorf("resolve after Invalidate during an older read: %v, want ErrTerminated", err)
	}
	close(gs.release)
	<-errs
}
