package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/accessbot/accessbot"
)

const stepUpCols = `tenant_id, id, request_id, level, approver_id, expires_at, state, nonce, started_at, completed_at, created_at`

func scanStepUp(r scanner) (*accessbot.StepUp, error) {
	var s accessbot.StepUp
	var state sql.NullString
	var exp, started, done, created dbTime
	if err := r.Scan(&s.TenantID, &s.ID, &s.RequestID, &s.Level, &s.ApproverID, &exp, &state, &s.Nonce, &started, &done, &created); err != nil {
		return nil, err
	}
	s.State, s.ExpiresAt, s.StartedAt, s.CompletedAt, s.CreatedAt = state.String, exp.T, started.ptr(), done.ptr(), created.T
	return &s, nil
}

func (q *queries) CreateStepUp(ctx context.Context, s *accessbot.StepUp) error {
	s.CreatedAt = Round(q.now())
	s.ExpiresAt = Round(s.ExpiresAt)
	_, err := q.exec(ctx, `INSERT INTO step_ups (tenant_id, id, request_id, level, approver_id, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		s.TenantID, s.ID, s.RequestID, s.Level, s.ApproverID, q.tm(s.ExpiresAt), q.tm(s.CreatedAt))
	if err != nil {
		return fmt.Errorf("create step-up: %w", q.writeErr(err))
	}
	return nil
}

func (q *queries) GetStepUp(ctx context.Context, tenantID, id string) (*accessbot.StepUp, error) {
	s, err := scanStepUp(q.queryRow(ctx, `SELECT `+stepUpCols+` FROM step_ups WHERE tenant_id = ? AND id = ?`, tenantID, id))
	if err != nil {
		return nil, fmt.Errorf("get step-up: %w", notFound(err))
	}
	return s, nil
}

func (q *queries) GetStepUpByState(ctx context.Context, tenantID, state string) (*accessbot.StepUp, error) {
	s, err := scanStepUp(q.queryRow(ctx, `SELECT `+stepUpCols+` FROM step_ups WHERE tenant_id = ? AND state = ?`, tenantID, state))
	if err != nil {
		return nil, fmt.Errorf("get step-up by state: %w", notFound(err))
	}
	return s, nil
}

// StartStepUp marks the link opened, once, while it has not expired; a
// second open (a replayed link) or an expired one answers ErrStale.
func (q *queries) StartStepUp(ctx context.Context, tenantID, id, state, nonce string, now time.Time) error {
	now = Round(now)
	err := affected(q.exec(ctx, `UPDATE step_ups SET started_at = ?, state = ?, nonce = ?
		WHERE tenant_id = ? AND id = ? AND started_at IS NULL AND expires_at > ?`, q.tm(now), state, nonce, tenantID, id, q.tm(now)))
	if err != nil {
		return fmt.Errorf("start step-up: %w", stale(err))
	}
	return nil
}

// CompleteStepUp marks the step-up done, once: a second completion (a
// replayed callback) answers ErrStale.
func (q *queries) CompleteStepUp(ctx context.Context, tenantID, id string, now time.Time) error {
	err := affected(q.exec(ctx, `UPDATE step_ups SET completed_at = ?
		WHERE tenant_id = ? AND id = ? AND started_at IS NOT NULL AND completed_at IS NULL`, q.tm(Round(now)), tenantID, id))
	if err != nil {
		return fmt.Errorf("complete step-up: %w", stale(err))
	}
	return nil
}

// stale turns "0 rows changed" into ErrStale: the conditional update lost.
func stale(err error) error {
	if errors.Is(err, accessbot.ErrNotFound) {
		return accessbot.ErrStale
	}
	return err
}
