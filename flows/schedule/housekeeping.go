package schedule

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
)

// HousekeepingStore is what housekeeping reads and deletes; store.Store has it.
type HousekeepingStore interface {
	ListTenants(ctx context.Context) ([]accessbot.Tenant, error)
	SkipOvertakenSlots(ctx context.Context, tenantID string, now time.Time) (int, error)
	PruneDeliveries(ctx context.Context, tenantID string, sentBefore time.Time) (int, error)
}

// DefaultRetention is how long sent outbox rows are kept. It must stay
// well above the critical-alert lookback (digest.Config.CriticalLookback,
// 7 days): an alert whose row is gone must be too old to be sent again.
const DefaultRetention = 30 * 24 * time.Hour

// Housekeeping keeps the scheduler's tables in shape: it closes running
// slots overtaken by a later slot of their job as skipped (the scheduler
// only ever retries a job's latest slot, so they would stay running for
// good) and deletes outbox rows sent more than Retention ago (critical
// alerts add one per finding and channel, and every tick reads them). Run
// it with Scheduler.Every; both steps are idempotent, so every replica may.
type Housekeeping struct {
	st        HousekeepingStore
	retention time.Duration
	interval  time.Duration
	log       zerolog.Logger

	mu   sync.Mutex
	next time.Time // no run before it
}

// NewHousekeeping runs at most once per interval (default 1h) and keeps
// sent deliveries for retention (default DefaultRetention).
func NewHousekeeping(st HousekeepingStore, retention, interval time.Duration, log zerolog.Logger) *Housekeeping {
	if retention <= 0 {
		retention = DefaultRetention
	}
	if interval <= 0 {
		interval = time.Hour
	}
	return &Housekeeping{st: st, retention: retention, interval: interval, log: log.With().Str("component", "housekeeping").Logger()}
}

// Run does the housekeeping of every tenant at now, unless it ran less
// than the interval ago (a failed run is retried on the next call).
func (h *Housekeeping) Run(ctx context.Context, now time.Time) error {
	h.mu.Lock()
	if now.Before(h.next) {
		h.mu.Unlock()
		return nil
	}
	h.next = now.Add(h.interval)
	h.mu.Unlock()

	err := h.runAll(ctx, now)
	if err != nil {
		h.mu.Lock()
		h.next = time.Time{}
		h.mu.Unlock()
	}
	return err
}

func (h *Housekeeping) runAll(ctx context.Context, now time.Time) error {
	tenants, err := h.st.ListTenants(ctx)
	if err != nil {
		return fmt.Errorf("housekeeping: list tenants: %w", err)
	}
	var errs []error
	for _, t := range tenants {
		skipped, err := h.st.SkipOvertakenSlots(ctx, t.ID, now)
		if err != nil {
			errs = append(errs, fmt.Errorf("housekeeping tenant %s: %w", t.ID, err))
		}
		pruned, err := h.st.PruneDeliveries(ctx, t.ID, now.Add(-h.retention))
		if err != nil {
			errs = append(errs, fmt.Errorf("housekeeping tenant %s: %w", t.ID, err))
		}
		if skipped > 0 || pruned > 0 {
			h.log.Info().Str("tenant", t.ID).Int("slots_skipped", skipped).Int("deliveries_pruned", pruned).Msg("housekeeping")
		}
	}
	return errors.Join(errs...)
}
