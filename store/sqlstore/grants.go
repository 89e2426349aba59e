package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/accessbot/accessbot"
)

const entCols = `tenant_id, id, user_id, connection_id, request_id, granted_at, expires_at, ending_flow_id, ending_at`

func scanEnt(r scanner) (accessbot.Entitlement, error) {
	var e accessbot.Entitlement
	var req, flow sql.NullString
	var granted, expires, ending dbTime
	err := r.Scan(&e.TenantID, &e.ID, &e.UserID, &e.ConnectionID, &req, &granted, &expires, &flow, &ending)
	e.RequestID, e.EndingFlowID = req.String, flow.String
	e.GrantedAt, e.ExpiresAt, e.EndingAt = granted.T, expires.ptr(), ending.ptr()
	return e, err
}

func (q *queries) CreateEntitlement(ctx context.Context, e *accessbot.Entitlement) error {
	q.stamp(&e.ID, &e.GrantedAt)
	e.ExpiresAt, e.EndingAt = roundPtr(e.ExpiresAt), roundPtr(e.EndingAt)
	_, err := q.exec(ctx, `INSERT INTO entitlements (`+entCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.TenantID, e.ID, e.UserID, e.ConnectionID, nullStr(e.RequestID), q.tm(e.GrantedAt), q.tmp(e.ExpiresAt),
		nullStr(e.EndingFlowID), q.tmp(e.EndingAt))
	if err != nil {
		return fmt.Errorf("create entitlement of %s to %s: %w", e.UserID, e.ConnectionID, q.writeErr(err))
	}
	return nil
}

func (q *queries) GetEntitlement(ctx context.Context, tenantID, id string) (*accessbot.Entitlement, error) {
	e, err := scanEnt(q.queryRow(ctx, `SELECT `+entCols+` FROM entitlements WHERE tenant_id = ? AND id = ?`, tenantID, id))
	if err != nil {
		return nil, fmt.Errorf("get entitlement %s: %w", id, notFound(err))
	}
	return &e, nil
}

// ListEntitlements lists one user's entitlements, or the tenant's when userID is "".
func (q *queries) ListEntitlements(ctx context.Context, tenantID, userID string) ([]accessbot.Entitlement, error) {
	query := `SELECT ` + entCols + ` FROM entitlements WHERE tenant_id = ?`
	args := []any{tenantID}
	if userID != "" {
		query += ` AND user_id = ?`
		args = append(args, userID)
	}
	rows, err := q.query(ctx, query+` ORDER BY granted_at, id`, args...)
	out, err := collect(rows, err, scanEnt)
	if err != nil {
		return nil, fmt.Errorf("list entitlements: %w", err)
	}
	return out, nil
}

func (q *queries) ListConnectionEntitlements(ctx context.Context, tenantID, connectionID string) ([]accessbot.Entitlement, error) {
	rows, err := q.query(ctx, `SELECT `+entCols+` FROM entitlements WHERE tenant_id = ? AND connection_id = ? ORDER BY granted_at, id`,
		tenantID, connectionID)
	out, err := collect(rows, err, scanEnt)
	if err != nil {
		return nil, fmt.Errorf("list entitlements of connection %s: %w", connectionID, err)
	}
	return out, nil
}

func (q *queries) ListExpiringEntitlements(ctx context.Context, tenantID string, before time.Time) ([]accessbot.Entitlement, error) {
	rows, err := q.query(ctx, `SELECT `+entCols+` FROM entitlements
		WHERE tenant_id = ? AND expires_at IS NOT NULL AND expires_at <= ? AND ending_flow_id IS NULL ORDER BY expires_at, id`,
		tenantID, q.tm(before))
	out, err := collect(rows, err, scanEnt)
	if err != nil {
		return nil, fmt.Errorf("list expiring entitlements: %w", err)
	}
	return out, nil
}

func (q *queries) ClaimExpiredEntitlement(ctx context.Context, tenantID, id string, now time.Time, lease time.Duration) (bool, error) {
	n, err := q.exec(ctx, `UPDATE entitlements SET end_claim_until = ?
		WHERE tenant_id = ? AND id = ? AND expires_at IS NOT NULL AND expires_at <= ? AND ending_flow_id IS NULL
			AND (end_claim_until IS NULL OR end_claim_until <= ?)`,
		q.tm(now.Add(lease)), tenantID, id, q.tm(now), q.tm(now))
	if err != nil {
		return false, fmt.Errorf("claim end of entitlement %s: %w", id, err)
	}
	return n == 1, nil
}

func (q *queries) MarkEntitlementEnding(ctx context.Context, tenantID, id, flowID string, at time.Time) error {
	if flowID == "" {
		return fmt.Errorf("mark entitlement %s ending: %w: no flow id", id, accessbot.ErrInvalid)
	}
	n, err := q.exec(ctx, `UPDATE entitlements SET ending_flow_id = ?, ending_at = ?, end_claim_until = NULL
		WHERE tenant_id = ? AND id = ? AND ending_flow_id IS NULL`, flowID, q.tm(at), tenantID, id)
	if err != nil {
		return fmt.Errorf("mark entitlement %s ending: %w", id, err)
	}
	if n == 1 {
		return nil
	}
	e, err := q.GetEntitlement(ctx, tenantID, id)
	if err != nil {
		return fmt.Errorf("mark entitlement %s ending: %w", id, err)
	}
	if e.EndingFlowID != flowID {
		return fmt.Errorf("mark entitlement %s ending with flow %s: flow %s ends it: %w", id, flowID, e.EndingFlowID, accessbot.ErrStale)
	}
	return nil
}

func (q *queries) ExtendEntitlement(ctx context.Context, tenantID, id string, from, to time.Time) error {
	err := affected(q.exec(ctx, `UPDATE entitlements SET expires_at = ?, end_claim_until = NULL
		WHERE tenant_id = ? AND id = ? AND expires_at = ? AND ending_flow_id IS NULL`,
		q.tm(to), tenantID, id, q.tm(from)))
	if errors.Is(err, accessbot.ErrNotFound) {
		if _, gerr := q.GetEntitlement(ctx, tenantID, id); gerr == nil {
			err = accessbot.ErrStale
		}
	}
	if err != nil {
		return fmt.Errorf("extend entitlement %s: %w", id, err)
	}
	return nil
}

func (q *queries) DeleteEntitlement(ctx context.Context, tenantID, id string) error {
	if err := affected(q.exec(ctx, `DELETE FROM entitlements WHERE tenant_id = ? AND id = ?`, tenantID, id)); err != nil {
		return fmt.Errorf("delete entitlement %s: %w", id, q.deleteErr(err))
	}
	return nil
}

func (q *queries) PutGrantSettings(ctx context.Context, s *accessbot.GrantSettings) error {
	offs := make([]int64, 0, len(s.ExpiryNotices))
	for _, d := range s.ExpiryNotices {
		if d <= 0 {
			return fmt.Errorf("put grant settings: %w: expiry notice offset %s is not positive", accessbot.ErrInvalid, d)
		}
		offs = append(offs, int64(d))
	}
	b, err := marshalJSON(offs)
	if err != nil {
		return fmt.Errorf("put grant settings: %w", err)
	}
	s.UpdatedAt = Round(q.now())
	_, err = q.exec(ctx, `INSERT INTO grant_settings (tenant_id, expiry_notices, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (tenant_id) DO UPDATE SET expiry_notices = excluded.expiry_notices, updated_at = excluded.updated_at`,
		s.TenantID, b, q.tm(s.UpdatedAt))
	if err != nil {
		return fmt.Errorf("put grant settings: %w", q.writeErr(err))
	}
	return nil
}

func (q *queries) GetGrantSettings(ctx context.Context, tenantID string) (*accessbot.GrantSettings, error) {
	s := accessbot.GrantSettings{TenantID: tenantID}
	var offs rawJSON
	var upd dbTime
	err := q.queryRow(ctx, `SELECT expiry_notices, updated_at FROM grant_settings WHERE tenant_id = ?`, tenantID).Scan(&offs, &upd)
	if err != nil {
		return nil, fmt.Errorf("get grant settings: %w", notFound(err))
	}
	s.UpdatedAt = upd.T
	var ns []int64
	if err := unmarshalJSON(offs.B, &ns); err != nil {
		return nil, fmt.Errorf("get grant settings: expiry notices: %w", err)
	}
	s.ExpiryNotices = make([]time.Duration, 0, len(ns))
	for _, n := range ns {
		s.ExpiryNotices = append(s.ExpiryNotices, time.Duration(n))
	}
	return &s, nil
}

const chainCols = `tenant_id, id, name, app_id, connection_id, levels, created_at, updated_at`

func scanChain(r scanner) (accessbot.ApprovalChain, error) {
	var c accessbot.ApprovalChain
	var app, conn sql.NullString
	var levels rawJSON
	var cr, up dbTime
	if err := r.Scan(&c.TenantID, &c.ID, &c.Name, &app, &conn, &levels, &cr, &up); err != nil {
		return c, err
	}
	c.AppID, c.ConnectionID = app.String, conn.String
	c.CreatedAt, c.UpdatedAt = cr.T, up.T
	if err := unmarshalJSON(levels.B, &c.Levels); err != nil {
		return c, fmt.Errorf("approval chain %s levels: %w", c.ID, err)
	}
	return c, nil
}

// UpsertApprovalChain inserts, or replaces the chain with the same name in
// place (keeping its id and creation time, which are written back to c).
func (q *queries) UpsertApprovalChain(ctx context.Context, c *accessbot.ApprovalChain) error {
	q.stamp(&c.ID, &c.CreatedAt)
	levels, err := marshalJSON(c.Levels)
	if err != nil {
		return fmt.Errorf("upsert approval chain %s: %w", c.Name, err)
	}
	now := Round(q.now())
	var created dbTime
	err = q.queryRow(ctx, `INSERT INTO approval_chains (`+chainCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, name) DO UPDATE SET app_id = excluded.app_id, connection_id = excluded.connection_id,
			levels = excluded.levels, updated_at = excluded.updated_at
		RETURNING id, created_at`,
		c.TenantID, c.ID, c.Name, nullStr(c.AppID), nullStr(c.ConnectionID), levels, q.tm(c.CreatedAt), q.tm(now),
	).Scan(&c.ID, &created)
	q.written() // a write by queryRow: done once scanned
	if err != nil {
		return fmt.Errorf("upsert approval chain %s: %w", c.Name, q.writeErr(err))
	}
	c.CreatedAt, c.UpdatedAt = created.T, now
	return nil
}

func (q *queries) GetApprovalChain(ctx context.Context, tenantID, id string) (*accessbot.ApprovalChain, error) {
	c, err := scanChain(q.queryRow(ctx, `SELECT `+chainCols+` FROM approval_chains WHERE tenant_id = ? AND id = ?`, tenantID, id))
	if err != nil {
		return nil, fmt.Errorf("get approval chain %s: %w", id, notFound(err))
	}
	return &c, nil
}

func (q *queries) ListApprovalChains(ctx context.Context, tenantID string) ([]accessbot.ApprovalChain, error) {
	rows, err := q.query(ctx, `SELECT `+chainCols+` FROM approval_chains WHERE tenant_id = ? ORDER BY name`, tenantID)
	out, err := collect(rows, err, scanChain)
	if err != nil {
		return nil, fmt.Errorf("list approval chains: %w", err)
	}
	return out, nil
}

func (q *queries) DeleteApprovalChain(ctx context.Context, tenantID, id string) error {
	if err := affected(q.exec(ctx, `DELETE FROM approval_chains WHERE tenant_id = ? AND id = ?`, tenantID, id)); err != nil {
		return fmt.Errorf("delete approval chain %s: %w", id, q.deleteErr(err))
	}
	return nil
}
