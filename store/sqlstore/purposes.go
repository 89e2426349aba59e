package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/accessbot/accessbot"
)

const purposeCols = `tenant_id, id, name, description, connections, max_session_ns, assign_chain, start_chain, channel, created_at, updated_at`

func scanPurpose(r scanner) (accessbot.Purpose, error) {
	var p accessbot.Purpose
	var conns rawJSON
	var maxNS int64
	var cr, up dbTime
	if err := r.Scan(&p.TenantID, &p.ID, &p.Name, &p.Description, &conns, &maxNS, &p.AssignChain, &p.StartChain, &p.Channel, &cr, &up); err != nil {
		return p, err
	}
	p.MaxSession = time.Duration(maxNS)
	p.CreatedAt, p.UpdatedAt = cr.T, up.T
	if err := unmarshalJSON(conns.B, &p.Connections); err != nil {
		return p, fmt.Errorf("purpose %s connections: %w", p.ID, err)
	}
	return p, nil
}

func (q *queries) UpsertPurpose(ctx context.Context, p *accessbot.Purpose) error {
	if p.Name == "" || p.MaxSession <= 0 || p.AssignChain == "" {
		return fmt.Errorf("upsert purpose: %w: a purpose needs a name, a maximum session length and an assignment chain", accessbot.ErrInvalid)
	}
	q.stamp(&p.ID, &p.CreatedAt)
	conns, err := marshalJSON(p.Connections)
	if err != nil {
		return fmt.Errorf("upsert purpose %s: %w", p.Name, err)
	}
	now := Round(q.now())
	var created dbTime
	err = q.queryRow(ctx, `INSERT INTO purposes (`+purposeCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, name) DO UPDATE SET description = excluded.description, connections = excluded.connections,
			max_session_ns = excluded.max_session_ns, assign_chain = excluded.assign_chain, start_chain = excluded.start_chain,
			channel = excluded.channel, updated_at = excluded.updated_at
		RETURNING id, created_at`,
		p.TenantID, p.ID, p.Name, p.Description, conns, int64(p.MaxSession), p.AssignChain, p.StartChain, p.Channel,
		q.tm(p.CreatedAt), q.tm(now)).Scan(&p.ID, &created)
	q.written() // a write by queryRow: done once scanned
	if err != nil {
		return fmt.Errorf("upsert purpose %s: %w", p.Name, q.writeErr(err))
	}
	p.CreatedAt, p.UpdatedAt = created.T, now
	return nil
}

func (q *queries) GetPurpose(ctx context.Context, tenantID, id string) (*accessbot.Purpose, error) {
	p, err := scanPurpose(q.queryRow(ctx, `SELECT `+purposeCols+` FROM purposes WHERE tenant_id = ? AND id = ?`, tenantID, id))
	if err != nil {
		return nil, fmt.Errorf("get purpose %s: %w", id, notFound(err))
	}
	return &p, nil
}

func (q *queries) GetPurposeByName(ctx context.Context, tenantID, name string) (*accessbot.Purpose, error) {
	p, err := scanPurpose(q.queryRow(ctx, `SELECT `+purposeCols+` FROM purposes WHERE tenant_id = ? AND name = ?`, tenantID, name))
	if err != nil {
		return nil, fmt.Errorf("get purpose %q: %w", name, notFound(err))
	}
	return &p, nil
}

func (q *queries) ListPurposes(ctx context.Context, tenantID string) ([]accessbot.Purpose, error) {
	rows, err := q.query(ctx, `SELECT `+purposeCols+` FROM purposes WHERE tenant_id = ? ORDER BY name`, tenantID)
	out, err := collect(rows, err, scanPurpose)
	if err != nil {
		return nil, fmt.Errorf("list purposes: %w", err)
	}
	return out, nil
}

func (q *queries) DeletePurpose(ctx context.Context, tenantID, id string) error {
	if err := affected(q.exec(ctx, `DELETE FROM purposes WHERE tenant_id = ? AND id = ?`, tenantID, id)); err != nil {
		return fmt.Errorf("delete purpose %s: %w", id, q.deleteErr(err))
	}
	return nil
}

const purposeAssignCols = `tenant_id, purpose_id, user_id, request_id, assigned_at`

func scanPurposeAssignment(r scanner) (accessbot.PurposeAssignment, error) {
	var a accessbot.PurposeAssignment
	var at dbTime
	err := r.Scan(&a.TenantID, &a.PurposeID, &a.UserID, &a.RequestID, &at)
	a.AssignedAt = at.T
	return a, err
}

func (q *queries) AssignPurpose(ctx context.Context, a *accessbot.PurposeAssignment) error {
	if a.AssignedAt.IsZero() {
		a.AssignedAt = q.now()
	}
	a.AssignedAt = Round(a.AssignedAt)
	_, err := q.exec(ctx, `INSERT INTO purpose_assignments (`+purposeAssignCols+`) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, purpose_id, user_id) DO NOTHING`,
		a.TenantID, a.PurposeID, a.UserID, a.RequestID, q.tm(a.AssignedAt))
	if err != nil {
		return fmt.Errorf("assign purpose %s to %s: %w", a.PurposeID, a.UserID, q.writeErr(err))
	}
	return nil
}

func (q *queries) GetPurposeAssignment(ctx context.Context, tenantID, purposeID, userID string) (*accessbot.PurposeAssignment, error) {
	a, err := scanPurposeAssignment(q.queryRow(ctx, `SELECT `+purposeAssignCols+` FROM purpose_assignments WHERE tenant_id = ? AND purpose_id = ? AND user_id = ?`,
		tenantID, purposeID, userID))
	if err != nil {
		return nil, fmt.Errorf("get assignment of purpose %s to %s: %w", purposeID, userID, notFound(err))
	}
	return &a, nil
}

func (q *queries) ListPurposeAssignments(ctx context.Context, tenantID, userID string) ([]accessbot.PurposeAssignment, error) {
	query, args := `SELECT `+purposeAssignCols+` FROM purpose_assignments WHERE tenant_id = ?`, []any{tenantID}
	if userID != "" {
		query += ` AND user_id = ?`
		args = append(args, userID)
	}
	rows, err := q.query(ctx, query+` ORDER BY assigned_at, purpose_id, user_id`, args...)
	out, err := collect(rows, err, scanPurposeAssignment)
	if err != nil {
		return nil, fmt.Errorf("list purpose assignments: %w", err)
	}
	return out, nil
}

const sessionCols = `tenant_id, id, purpose_id, user_id, reason, request_ids, started_at, ends_at, status, ended_by, end_reason, ending_at, ended_at`

func scanSession(r scanner) (accessbot.PurposeSession, error) {
	var s accessbot.PurposeSession
	var reqs rawJSON
	var st string
	var started, ends, ending, ended dbTime
	if err := r.Scan(&s.TenantID, &s.ID, &s.PurposeID, &s.UserID, &s.Reason, &reqs, &started, &ends, &st, &s.EndedBy, &s.EndReason, &ending, &ended); err != nil {
		return s, err
	}
	s.Status = accessbot.SessionStatus(st)
	s.StartedAt, s.EndsAt, s.EndingAt, s.EndedAt = started.T, ends.T, ending.ptr(), ended.ptr()
	if err := unmarshalJSON(reqs.B, &s.RequestIDs); err != nil {
		return s, fmt.Errorf("purpose session %s requests: %w", s.ID, err)
	}
	return s, nil
}

func (q *queries) CreatePurposeSession(ctx context.Context, s *accessbot.PurposeSession) error {
	q.stamp(&s.ID, &s.StartedAt)
	s.EndsAt = Round(s.EndsAt)
	s.Status = accessbot.SessionActive
	reqs, err := marshalJSON(s.RequestIDs)
	if err != nil {
		return fmt.Errorf("create purpose session: %w", err)
	}
	_, err = q.exec(ctx, `INSERT INTO purpose_sessions (`+sessionCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		s.TenantID, s.ID, s.PurposeID, s.UserID, s.Reason, reqs, q.tm(s.StartedAt), q.tm(s.EndsAt), string(s.Status),
		s.EndedBy, s.EndReason, q.tmp(s.EndingAt), q.tmp(s.EndedAt))
	if err != nil {
		return fmt.Errorf("create session of purpose %s for %s: %w", s.PurposeID, s.UserID, q.writeErr(err))
	}
	return nil
}

func (q *queries) GetPurposeSession(ctx context.Context, tenantID, id string) (*accessbot.PurposeSession, error) {
	s, err := scanSession(q.queryRow(ctx, `SELECT `+sessionCols+` FROM purpose_sessions WHERE tenant_id = ? AND id = ?`, tenantID, id))
	if err != nil {
		return nil, fmt.Errorf("get purpose session %s: %w", id, notFound(err))
	}
	return &s, nil
}

func (q *queries) ListPurposeSessions(ctx context.Context, tenantID, userID string, statuses []accessbot.SessionStatus) ([]accessbot.PurposeSession, error) {
	query, args := `SELECT `+sessionCols+` FROM purpose_sessions WHERE tenant_id = ?`, []any{tenantID}
	if userID != "" {
		query += ` AND user_id = ?`
		args = append(args, userID)
	}
	if len(statuses) > 0 {
		query += ` AND status IN (` + strings.TrimSuffix(strings.Repeat("?, ", len(statuses)), ", ") + `)`
		for _, s := range statuses {
			args = append(args, string(s))
		}
	}
	rows, err := q.query(ctx, query+` ORDER BY started_at, id`, args...)
	out, err := collect(rows, err, scanSession)
	if err != nil {
		return nil, fmt.Errorf("list purpose sessions: %w", err)
	}
	return out, nil
}

func (q *queries) ListDuePurposeSessions(ctx context.Context, tenantID string, now time.Time) ([]accessbot.PurposeSession, error) {
	rows, err := q.query(ctx, `SELECT `+sessionCols+` FROM purpose_sessions
		WHERE tenant_id = ? AND (status = 'ending' OR (status = 'active' AND ends_at <= ?)) ORDER BY ends_at, id`, tenantID, q.tm(now))
	out, err := collect(rows, err, scanSession)
	if err != nil {
		return nil, fmt.Errorf("list due purpose sessions: %w", err)
	}
	return out, nil
}

func (q *queries) ClaimPurposeSession(ctx context.Context, tenantID, id string, now time.Time, lease time.Duration) (bool, error) {
	n, err := q.exec(ctx, `UPDATE purpose_sessions SET end_claim_until = ?,
			ended_by = CASE WHEN status = 'active' THEN 'system' ELSE ended_by END,
			end_reason = CASE WHEN status = 'active' THEN 'expired' ELSE end_reason END,
			ending_at = CASE WHEN status = 'active' THEN ends_at ELSE ending_at END,
			status = 'ending'
		WHERE tenant_id = ? AND id = ? AND (status = 'ending' OR (status = 'active' AND ends_at <= ?))
			AND (end_claim_until IS NULL OR end_claim_until <= ?)`,
		q.tm(now.Add(lease)), tenantID, id, q.tm(now), q.tm(now))
	if err != nil {
		return false, fmt.Errorf("claim end of purpose session %s: %w", id, err)
	}
	return n == 1, nil
}

// staleOr turns "no row changed" into ErrStale when the row exists.
func (q *queries) sessionStale(ctx context.Context, tenantID, id string, err error) error {
	if errors.Is(err, accessbot.ErrNotFound) {
		if _, gerr := q.GetPurposeSession(ctx, tenantID, id); gerr == nil {
			return accessbot.ErrStale
		}
	}
	return err
}

func (q *queries) StopPurposeSession(ctx context.Context, tenantID, id, by, reason string, at time.Time) error {
	err := affected(q.exec(ctx, `UPDATE purpose_sessions SET status = 'ending', ended_by = ?, end_reason = ?, ending_at = ?
		WHERE tenant_id = ? AND id = ? AND status = 'active'`, by, reason, q.tm(at), tenantID, id))
	if err = q.sessionStale(ctx, tenantID, id, err); err != nil {
		return fmt.Errorf("stop purpose session %s: %w", id, err)
	}
	return nil
}

func (q *queries) ExtendPurposeSession(ctx context.Context, tenantID, id string, from, to time.Time) error {
	err := affected(q.exec(ctx, `UPDATE purpose_sessions SET ends_at = ?
		WHERE tenant_id = ? AND id = ? AND status = 'active' AND ends_at = ?`, q.tm(to), tenantID, id, q.tm(from)))
	if err = q.sessionStale(ctx, tenantID, id, err); err != nil {
		return fmt.Errorf("extend purpose session %s: %w", id, err)
	}
	return nil
}

func (q *queries) FinishPurposeSession(ctx context.Context, tenantID, id string, at time.Time) error {
	err := affected(q.exec(ctx, `UPDATE purpose_sessions SET status = 'ended', ended_at = ?, end_claim_until = NULL
		WHERE tenant_id = ? AND id = ? AND status = 'ending'`, q.tm(at), tenantID, id))
	if err = q.sessionStale(ctx, tenantID, id, err); err != nil {
		return fmt.Errorf("finish purpose session %s: %w", id, err)
	}
	return nil
}

func (q *queries) ReleasePurposeSession(ctx context.Context, tenantID, id string) error {
	if _, err := q.exec(ctx, `UPDATE purpose_sessions SET end_claim_until = NULL WHERE tenant_id = ? AND id = ?`, tenantID, id); err != nil {
		return fmt.Errorf("release purpose session %s: %w", id, err)
	}
	return nil
}
