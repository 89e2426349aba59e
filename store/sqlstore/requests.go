package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/accessbot/accessbot"
)

const requestCols = `tenant_id, id, kind, requester_id, target_user_id, app_id, connection_id, payload, duration_ns,
	justification, status, level, levels, open_key, created_at, updated_at, decided_at, reminded_at, escalated_at, channel_id`

func scanRequest(r scanner) (accessbot.AccessRequest, error) {
	var a accessbot.AccessRequest
	var target, openKey, channel sql.NullString
	var payload, levels rawJSON
	var dur int64
	var c, u, decided, reminded, escalated dbTime
	if err := r.Scan(&a.TenantID, &a.ID, &a.Kind, &a.RequesterID, &target, &a.AppID, &a.ConnectionID, &payload, &dur,
		&a.Justification, &a.Status, &a.Level, &levels, &openKey, &c, &u, &decided, &reminded, &escalated, &channel); err != nil {
		return a, err
	}
	a.TargetUserID, a.OpenKey = target.String, openKey.String
	// NULL: a request stored before the channel was (migration 00370).
	a.Channel, a.ChannelUnknown = channel.String, !channel.Valid
	if payload.B != nil {
		a.Payload = payload.B
	}
	a.Duration = time.Duration(dur)
	a.CreatedAt, a.UpdatedAt = c.T, u.T
	a.DecidedAt, a.RemindedAt, a.EscalatedAt = decided.ptr(), reminded.ptr(), escalated.ptr()
	if err := unmarshalJSON(levels.B, &a.Levels); err != nil {
		return a, fmt.Errorf("request %s levels: %w", a.ID, err)
	}
	return a, nil
}

// openKey is what is stored: only a pending request holds its key.
func openKey(status accessbot.RequestStatus, key string) any {
	if status != accessbot.StatusPending {
		return nil
	}
	return nullStr(key)
}

// requestChannel is what is stored as the request's channel: NULL only
// for one that does not know it.
func requestChannel(r *accessbot.AccessRequest) any {
	if r.ChannelUnknown {
		return nil
	}
	return r.Channel
}

func normalizeRequest(r *accessbot.AccessRequest) {
	if r.Status == "" {
		r.Status = accessbot.StatusPending
	}
	if r.Status != accessbot.StatusPending {
		r.OpenKey = ""
	}
	r.DecidedAt = roundPtr(r.DecidedAt)
	r.RemindedAt = roundPtr(r.RemindedAt)
	r.EscalatedAt = roundPtr(r.EscalatedAt)
}

func (q *queries) CreateRequest(ctx context.Context, r *accessbot.AccessRequest) error {
	q.stamp(&r.ID, &r.CreatedAt)
	if r.UpdatedAt.IsZero() {
		r.UpdatedAt = r.CreatedAt
	}
	r.UpdatedAt = Round(r.UpdatedAt)
	normalizeRequest(r)
	levels, err := marshalJSON(r.Levels)
	if err != nil {
		return fmt.Errorf("create request: %w", err)
	}
	_, err = q.exec(ctx, `INSERT INTO access_requests (`+requestCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.TenantID, r.ID, string(r.Kind), r.RequesterID, nullStr(r.TargetUserID), r.AppID, r.ConnectionID,
		jsonArg(r.Payload), int64(r.Duration), r.Justification, string(r.Status), r.Level, levels,
		openKey(r.Status, r.OpenKey), q.tm(r.CreatedAt), q.tm(r.UpdatedAt), q.tmp(r.DecidedAt), q.tmp(r.RemindedAt),
		q.tmp(r.EscalatedAt), requestChannel(r))
	if err != nil {
		return fmt.Errorf("create request: %w", q.writeErr(err))
	}
	return nil
}

func (q *queries) GetRequest(ctx context.Context, tenantID, id string) (*accessbot.AccessRequest, error) {
	r, err := scanRequest(q.queryRow(ctx, `SELECT `+requestCols+` FROM access_requests WHERE tenant_id = ? AND id = ?`,
		tenantID, id))
	if err != nil {
		return nil, fmt.Errorf("get request %s: %w", id, notFound(err))
	}
	return &r, nil
}

func (q *queries) GetOpenRequestByKey(ctx context.Context, tenantID, key string) (*accessbot.AccessRequest, error) {
	r, err := scanRequest(q.queryRow(ctx, `SELECT `+requestCols+` FROM access_requests WHERE tenant_id = ? AND open_key = ?`,
		tenantID, key))
	if err != nil {
		return nil, fmt.Errorf("get open request by key: %w", notFound(err))
	}
	return &r, nil
}

// ListRequestsByRequester returns the newest first; limit 0 means all.
func (q *queries) ListRequestsByRequester(ctx context.Context, tenantID, requesterID string, limit int) ([]accessbot.AccessRequest, error) {
	rows, err := q.query(ctx, `SELECT `+requestCols+` FROM access_requests WHERE tenant_id = ? AND requester_id = ?
		ORDER BY created_at DESC, id DESC`+limitClause(limit), tenantID, requesterID)
	out, err := collect(rows, err, scanRequest)
	if err != nil {
		return nil, fmt.Errorf("list requests by requester %s: %w", requesterID, err)
	}
	return out, nil
}

// ListRequestsByStatus returns the oldest first, the order work is due in; limit 0 means all.
func (q *queries) ListRequestsByStatus(ctx context.Context, tenantID string, status accessbot.RequestStatus, limit int) ([]accessbot.AccessRequest, error) {
	rows, err := q.query(ctx, `SELECT `+requestCols+` FROM access_requests WHERE tenant_id = ? AND status = ?
		ORDER BY created_at, id`+limitClause(limit), tenantID, string(status))
	out, err := collect(rows, err, scanRequest)
	if err != nil {
		return nil, fmt.Errorf("list %s requests: %w", status, err)
	}
	return out, nil
}

// TransitionRequest is a compare-and-swap on (status, level): the database
// lets exactly one of several racing writers match the WHERE clause.
// It writes next's status, level, levels, payload, connection id, open key and
// the decided/reminded/escalated times; UpdatedAt comes from the store clock.
func (q *queries) TransitionRequest(ctx context.Context, tenantID, id string, fromStatus accessbot.RequestStatus, fromLevel int, next *accessbot.AccessRequest) error {
	normalizeRequest(next)
	levels, err := marshalJSON(next.Levels)
	if err != nil {
		return fmt.Errorf("transition request %s: %w", id, err)
	}
	now := Round(q.now())
	n, err := q.exec(ctx, `UPDATE access_requests SET status = ?, level = ?, levels = ?, payload = ?, connection_id = ?,
		open_key = ?, updated_at = ?, decided_at = ?, reminded_at = ?, escalated_at = ?
		WHERE tenant_id = ? AND id = ? AND status = ? AND level = ?`,
		string(next.Status), next.Level, levels, jsonArg(next.Payload), next.ConnectionID,
		openKey(next.Status, next.OpenKey), q.tm(now), q.tmp(next.DecidedAt), q.tmp(next.RemindedAt), q.tmp(next.EscalatedAt),
		tenantID, id, string(fromStatus), fromLevel)
	if err != nil {
		return fmt.Errorf("transition request %s: %w", id, q.writeErr(err))
	}
	if n == 0 {
		// Tell "gone (or another tenant's)" from "lost the race".
		var one int
		err := q.queryRow(ctx, `SELECT 1 FROM access_requests WHERE tenant_id = ? AND id = ?`, tenantID, id).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("transition request %s: %w", id, accessbot.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("transition request %s: %w", id, err)
		}
		return fmt.Errorf("transition request %s from %s/%d: %w", id, fromStatus, fromLevel, accessbot.ErrStale)
	}
	next.UpdatedAt = now
	return nil
}

const decisionCols = `tenant_id, id, request_id, level, approver_id, decision, reason, decided_at`

func scanDecision(r scanner) (accessbot.Decision, error) {
	var d accessbot.Decision
	var at dbTime
	err := r.Scan(&d.TenantID, &d.ID, &d.RequestID, &d.Level, &d.ApproverID, &d.Decision, &d.Reason, &at)
	d.DecidedAt = at.T
	return d, err
}

func (q *queries) AddDecision(ctx context.Context, d *accessbot.Decision) error {
	q.stamp(&d.ID, &d.DecidedAt)
	_, err := q.exec(ctx, `INSERT INTO decisions (`+decisionCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		d.TenantID, d.ID, d.RequestID, d.Level, d.ApproverID, string(d.Decision), d.Reason, q.tm(d.DecidedAt))
	if err != nil {
		return fmt.Errorf("add decision on request %s: %w", d.RequestID, q.writeErr(err))
	}
	return nil
}

func (q *queries) ListDecisions(ctx context.Context, tenantID, requestID string) ([]accessbot.Decision, error) {
	rows, err := q.query(ctx, `SELECT `+decisionCols+` FROM decisions WHERE tenant_id = ? AND request_id = ?
		ORDER BY level, decided_at, id`, tenantID, requestID)
	out, err := collect(rows, err, scanDecision)
	if err != nil {
		return nil, fmt.Errorf("list decisions of request %s: %w", requestID, err)
	}
	return out, nil
}
