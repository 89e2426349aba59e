package handlers_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/digest"
	"github.com/accessbot/accessbot/store"
)

// recordOutage fails the outbox's "sent" record while down, as a database
// that went away between a post and its record.
type recordOutage struct {
	store.Store
	mu   sync.Mutex
	down bool
}

func (s *recordOutage) CompleteDelivery(ctx context.Context, tenantID, key, ch, ts string, now time.Time) error {
	s.mu.Lock()
	down := s.down
	s.mu.Unlock()
	if down {
		return errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")
	}
	return s.Store.CompleteDelivery(ctx, tenantID, key, ch, ts, now)
}

// TestCriticalAlertRecordLostAfterPost: the database goes away after Slack
// took a critical alert and stays away past the lease; the next tick finds
// the alert in the channel instead of posting it again.
func TestCriticalAlertRecordLostAfterPost(t *testing.T) {
	e := newDigestEnv(t, "sqlite", time.Now().UTC())
	ctx := context.Background()
	must(t, e.st.PutAlertSettings(ctx, &store.AlertSettings{TenantID: e.tenant, Channels: []string{"C1"}, Since: e.now.Now().Add(-time.Hour)}))
	e.report(t, "terminated_active", accessbot.SeverityCritical, 1)
	st := &recordOutage{Store: e.st, down: true}
	svc := digest.New(st, e.notifier(t, 1), digest.Config{Clock: e.now.Now, Lease: 300 * time.Millisecond})
	if err := svc.AlertCritical(ctx, e.now.Now()); err == nil {
		t.Fatal("the alert was recorded with the database down")
	}
	st.mu.Lock()
	st.down = false
	st.mu.Unlock()
	e.now.Add(time.Minute) // the claim ran out
	must(t, svc.AlertCritical(ctx, e.now.Now()))
	must(t, svc.AlertCritical(ctx, e.now.Now()))
	if got := e.topLevel("C1", "Critical finding"); len(got) != 1 {
		t.Fatalf("%d critical alerts posted, want 1", len(got))
	}
}
