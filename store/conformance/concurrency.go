package conformance

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

const racers = 8

// race runs fn in racers goroutines released together and returns their errors.
func race(fn func(i int) error) []error {
	errs := make([]error, racers)
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	for i := range racers {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			errs[i] = fn(i)
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()
	return errs
}

// oneWinner fails unless exactly one error is nil and all others wrap loser.
func oneWinner(t *testing.T, errs []error, loser error) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("racers %d and %d both won", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, loser):
			t.Fatalf("racer %d: got %v, want %v", i, err, loser)
		}
	}
	if winner < 0 {
		t.Fatalf("no racer won: %v", errs)
	}
	return winner
}

func testConcurrency(t *testing.T, s store.Store) {
	t.Run("TransitionRequest has one winner", func(t *testing.T) {
		t.Parallel()
		ten := newTenant(t, s)
		u := newUser(t, s, ten.ID, "u@example.com")
		r := newRequest(t, s, ten.ID, u.ID, "k")
		errs := race(func(i int) error {
			next := *r
			next.Status = accessbot.StatusApproved
			next.Payload = []byte(fmt.Sprintf(`{"winner":%d}`, i))
			now := time.Now()
			next.DecidedAt = &now
			return s.TransitionRequest(ctx(), ten.ID, r.ID, accessbot.StatusPending, 0, &next)
		})
		w := oneWinner(t, errs, accessbot.ErrStale)
		got, err := s.GetRequest(ctx(), ten.ID, r.ID)
		ok(t, err, "get request")
		if got.Status != accessbot.StatusApproved || string(got.Payload) != fmt.Sprintf(`{"winner":%d}`, w) {
			t.Fatalf("stored %s %s, want the winner's (%d) write", got.Status, got.Payload, w)
		}
	})

	t.Run("racing approve and deny decisions in transactions", func(t *testing.T) {
		t.Parallel()
		ten := newTenant(t, s)
		u := newUser(t, s, ten.ID, "u@example.com")
		approvers := make([]*accessbot.User, racers)
		for i := range approvers {
			approvers[i] = newUser(t, s, ten.ID, fmt.Sprintf("approver%d@example.com", i))
		}
		r := newRequest(t, s, ten.ID, u.ID, "k")
		// Each approver records a decision and moves the request, atomically.
		errs := race(func(i int) error {
			return s.InTx(ctx(), func(q store.Queries) error {
				kind, status := accessbot.DecisionApprove, accessbot.StatusApproved
				if i%2 == 1 {
					kind, status = accessbot.DecisionDeny, accessbot.StatusDenied
				}
				if err := q.AddDecision(ctx(), &accessbot.Decision{TenantID: ten.ID, RequestID: r.ID, ApproverID: approvers[i].ID, Decision: kind}); err != nil {
					return err
				}
				next := *r
				next.Status = status
				return q.TransitionRequest(ctx(), ten.ID, r.ID, accessbot.StatusPending, 0, &next)
			})
		})
		w := oneWinner(t, errs, accessbot.ErrStale)
		decisions, err := s.ListDecisions(ctx(), ten.ID, r.ID)
		ok(t, err, "list decisions")
		if len(decisions) != 1 || decisions[0].ApproverID != approvers[w].ID {
			t.Fatalf("decisions after race = %+v, want only the winner's", decisions)
		}
	})

	t.Run("same approver decides once", func(t *testing.T) {
		t.Parallel()
		ten := newTenant(t, s)
		u := newUser(t, s, ten.ID, "u@example.com")
		r := newRequest(t, s, ten.ID, u.ID, "")
		errs := race(func(int) error {
			return s.AddDecision(ctx(), &accessbot.Decision{TenantID: ten.ID, RequestID: r.ID, ApproverID: u.ID, Decision: accessbot.DecisionApprove})
		})
		oneWinner(t, errs, accessbot.ErrConflict)
	})

	t.Run("duplicate open requests", func(t *testing.T) {
		t.Parallel()
		ten := newTenant(t, s)
		u := newUser(t, s, ten.ID, "u@example.com")
		errs := race(func(int) error {
			return s.CreateRequest(ctx(), &accessbot.AccessRequest{TenantID: ten.ID, Kind: accessbot.RequestUserAccess,
				RequesterID: u.ID, Status: accessbot.StatusPending, OpenKey: "same"})
		})
		oneWinner(t, errs, accessbot.ErrConflict)
	})
}
