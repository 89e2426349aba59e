package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

var _ store.ScheduleQueries = (*queries)(nil)

const scheduleCols = `tenant_id, job, cron, time_zone, since, updated_at`

func scanSchedule(r scanner) (store.Schedule, error) {
	var s store.Schedule
	var since, upd dbTime
	err := r.Scan(&s.TenantID, &s.Job, &s.Cron, &s.TimeZone, &since, &upd)
	s.Since, s.UpdatedAt = since.T, upd.T
	return s, err
}

// PutSchedule upserts; since moves only when cron or time zone changed.
func (q *queries) PutSchedule(ctx context.Context, s *store.Schedule) error {
	now := Round(q.now())
	if s.Since.IsZero() {
		s.Since = now
	}
	s.Since, s.UpdatedAt = Round(s.Since), now
	_, err := q.exec(ctx, `INSERT INTO schedules (`+scheduleCols+`) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, job) DO UPDATE SET
			since = CASE WHEN schedules.cron = excluded.cron AND schedules.time_zone = excluded.time_zone
				THEN schedules.since ELSE excluded.since END,
			cron = excluded.cron, time_zone = excluded.time_zone, updated_at = excluded.updated_at`,
		s.TenantID, s.Job, s.Cron, s.TimeZone, q.tm(s.Since), q.tm(s.UpdatedAt))
	if err != nil {
		return fmt.Errorf("put schedule %s: %w", s.Job, q.writeErr(err))
	}
	cur, err := scanSchedule(q.queryRow(ctx, `SELECT `+scheduleCols+` FROM schedules WHERE tenant_id = ? AND job = ?`, s.TenantID, s.Job))
	if err != nil {
		return fmt.Errorf("put schedule %s: read back: %w", s.Job, err)
	}
	*s = cur
	return nil
}

func (q *queries) ListSchedules(ctx context.Context, tenantID string) ([]store.Schedule, error) {
	rows, err := q.query(ctx, `SELECT `+scheduleCols+` FROM schedules WHERE tenant_id = ? ORDER BY job`, tenantID)
	out, err := collect(rows, err, scanSchedule)
	if err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	return out, nil
}

func (q *queries) DeleteSchedule(ctx context.Context, tenantID, job string) error {
	if err := affected(q.exec(ctx, `DELETE FROM schedules WHERE tenant_id = ? AND job = ?`, tenantID, job)); err != nil {
		return fmt.Errorf("delete schedule %s: %w", job, err)
	}
	return nil
}

const slotCols = `tenant_id, job, slot_at, status, owner, attempts, claimed_at, lease_until, finished_at, last_error`

func scanSlot(r scanner) (store.Slot, error) {
	var s store.Slot
	var at, claimed, lease, fin dbTime
	var status string
	err := r.Scan(&s.TenantID, &s.Job, &at, &status, &s.Owner, &s.Attempts, &claimed, &lease, &fin, &s.LastError)
	s.At, s.Status, s.ClaimedAt, s.LeaseUntil, s.FinishedAt = at.T, store.SlotStatus(status), claimed.T, lease.T, fin.ptr()
	return s, err
}

// ClaimSlot inserts the slot row (the winner of the insert runs it) or takes
// over a running slot whose lease ran out. Both are single statements, so
// exactly one racing caller wins.
func (q *queries) ClaimSlot(ctx context.Context, tenantID, job string, at time.Time, owner string, now time.Time, lease time.Duration) (*store.Slot, bool, error) {
	now = Round(now)
	until := now.Add(lease)
	n, err := q.exec(ctx, `INSERT INTO schedule_slots (`+slotCols+`) VALUES (?, ?, ?, 'running', ?, 1, ?, ?, NULL, '')
		ON CONFLICT (tenant_id, job, slot_at) DO NOTHING`,
		tenantID, job, q.tm(at), owner, q.tm(now), q.tm(until))
	if err != nil {
		return nil, false, fmt.Errorf("claim slot %s %s: %w", job, at.UTC().Format(time.RFC3339), q.writeErr(err))
	}
	if n == 0 {
		n, err = q.exec(ctx, `UPDATE schedule_slots SET owner = ?, attempts = attempts + 1, claimed_at = ?, lease_until = ?
			WHERE tenant_id = ? AND job = ? AND slot_at = ? AND status = 'running' AND lease_until <= ?`,
			owner, q.tm(now), q.tm(until), tenantID, job, q.tm(at), q.tm(now))
		if err != nil {
			return nil, false, fmt.Errorf("reclaim slot %s %s: %w", job, at.UTC().Format(time.RFC3339), err)
		}
	}
	s, err := q.GetSlot(ctx, tenantID, job, at)
	if err != nil {
		return nil, false, err
	}
	return s, n == 1, nil
}

func (q *queries) FinishSlot(ctx context.Context, tenantID, job string, at time.Time, owner string, attempt int, status store.SlotStatus, lastError string, now, retryAt time.Time) error {
	var fin any
	lease := q.tm(retryAt)
	if status != store.SlotRunning {
		fin = q.tm(now)
		lease = q.tm(now)
	}
	err := affected(q.exec(ctx, `UPDATE schedule_slots SET status = ?, finished_at = ?, lease_until = ?, last_error = ?
		WHERE tenant_id = ? AND job = ? AND slot_at = ? AND owner = ? AND attempts = ? AND status = 'running'`,
		string(status), fin, lease, lastError, tenantID, job, q.tm(at), owner, attempt))
	if errors.Is(err, accessbot.ErrNotFound) {
		err = accessbot.ErrStale
	}
	if err != nil {
		return fmt.Errorf("finish slot %s %s: %w", job, at.UTC().Format(time.RFC3339), q.writeErr(err))
	}
	return nil
}

func (q *queries) GetSlot(ctx context.Context, tenantID, job string, at time.Time) (*store.Slot, error) {
	s, err := scanSlot(q.queryRow(ctx, `SELECT `+slotCols+` FROM schedule_slots WHERE tenant_id = ? AND job = ? AND slot_at = ?`,
		tenantID, job, q.tm(at)))
	if err != nil {
		return nil, fmt.Errorf("get slot %s %s: %w", job, at.UTC().Format(time.RFC3339), notFound(err))
	}
	return &s, nil
}

func (q *queries) LastSlot(ctx context.Context, tenantID, job string) (*store.Slot, error) {
	s, err := scanSlot(q.queryRow(ctx, `SELECT `+slotCols+` FROM schedule_slots WHERE tenant_id = ? AND job = ?
		ORDER BY slot_at DESC LIMIT 1`, tenantID, job))
	if err != nil {
		return nil, fmt.Errorf("last slot of %s: %w", job, notFound(err))
	}
	return &s, nil
}

func (q *queries) LastDoneSlotBefore(ctx context.Context, tenantID, job string, at time.Time) (*store.Slot, error) {
	s, err := scanSlot(q.queryRow(ctx, `SELECT `+slotCols+` FROM schedule_slots WHERE tenant_id = ? AND job = ?
		AND status = 'done' AND slot_at < ? ORDER BY slot_at DESC LIMIT 1`, tenantID, job, q.tm(at)))
	if err != nil {
		return nil, fmt.Errorf("last done slot of %s: %w", job, notFound(err))
	}
	return &s, nil
}

// SkipOvertakenSlots: one conditional update, so a slot whose owner is
// still inside its lease (running, or retrying soon) is never touched.
func (q *queries) SkipOvertakenSlots(ctx context.Context, tenantID string, now time.Time) (int, error) {
	n, err := q.exec(ctx, `UPDATE schedule_slots SET status = 'skipped', finished_at = ?
		WHERE tenant_id = ? AND status = 'running' AND lease_until <= ?
		AND EXISTS (SELECT 1 FROM schedule_slots later WHERE later.tenant_id = schedule_slots.tenant_id
			AND later.job = schedule_slots.job AND later.slot_at > schedule_slots.slot_at)`,
		q.tm(now), tenantID, q.tm(now))
	if err != nil {
		return 0, fmt.Errorf("skip overtaken slots: %w", q.writeErr(err))
	}
	return int(n), nil
}

const alertCols = `tenant_id, channels, all_clear, since, updated_at`

func scanAlerts(r scanner) (store.AlertSettings, error) {
	var a store.AlertSettings
	var ch rawJSON
	var allClear int
	var since, upd dbTime
	if err := r.Scan(&a.TenantID, &ch, &allClear, &since, &upd); err != nil {
		return a, err
	}
	a.AllClear, a.Since, a.UpdatedAt = allClear != 0, since.T, upd.T
	if len(ch.B) > 0 {
		if err := json.Unmarshal(ch.B, &a.Channels); err != nil {
			return a, fmt.Errorf("decode alert channels: %w", err)
		}
	}
	return a, nil
}

func (q *queries) PutAlertSettings(ctx context.Context, a *store.AlertSettings) error {
	now := Round(q.now())
	if a.Since.IsZero() {
		a.Since = now
	}
	a.Since, a.UpdatedAt = Round(a.Since), now
	chans := a.Channels
	if chans == nil {
		chans = []string{}
	}
	b, err := json.Marshal(chans)
	if err != nil {
		return fmt.Errorf("put alert settings: %w", err)
	}
	allClear := 0
	if a.AllClear {
		allClear = 1
	}
	_, err = q.exec(ctx, `INSERT INTO alert_settings (`+alertCols+`) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id) DO UPDATE SET channels = excluded.channels, all_clear = excluded.all_clear,
			updated_at = excluded.updated_at`,
		a.TenantID, string(b), allClear, q.tm(a.Since), q.tm(a.UpdatedAt))
	if err != nil {
		return fmt.Errorf("put alert settings: %w", q.writeErr(err))
	}
	cur, err := q.GetAlertSettings(ctx, a.TenantID)
	if err != nil {
		return err
	}
	*a = *cur
	return nil
}

func (q *queries) GetAlertSettings(ctx context.Context, tenantID string) (*store.AlertSettings, error) {
	a, err := scanAlerts(q.queryRow(ctx, `SELECT `+alertCols+` FROM alert_settings WHERE tenant_id = ?`, tenantID))
	if err != nil {
		return nil, fmt.Errorf("get alert settings: %w", notFound(err))
	}
	return &a, nil
}

func (q *queries) DeleteAlertSettings(ctx context.Context, tenantID string) error {
	if err := affected(q.exec(ctx, `DELETE FROM alert_settings WHERE tenant_id = ?`, tenantID)); err != nil {
		return fmt.Errorf("delete alert settings: %w", err)
	}
	return nil
}
