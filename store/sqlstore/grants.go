package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/accessbot/accessbot"
)

const entCols = `tenant_id, id, user_id, connection_id, request_id, granted_at, expires_at`

func scanEnt(r scanner) (accessbot.Entitlement, error) {
	var e accessbot.Entitlement
	var req sql.NullString
	var granted, expires dbTime
	err := r.Scan(&e.TenantID, &e.ID, &e.UserID, &e.ConnectionID, &req, &granted, &expires)
	e.RequestID = req.String
	e.GrantedAt, e.ExpiresAt = granted.T, expires.ptr()
	return e, err
}

func (q *queries) CreateEntitlement(ctx context.Context, e *accessbot.Entitlement) error {
	q.stamp(&e.ID, &e.GrantedAt)
	e.ExpiresAt = roundPtr(e.ExpiresAt)
	_, err := q.exec(ctx, `INSERT INTO entitlements (`+entCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		e.TenantID, e.ID, e.UserID, e.ConnectionID, nullStr(e.RequestID), q.tm(e.GrantedAt), q.tmp(e.ExpiresAt))
	if err != nil {
		return fmt.Errorf("create entitlement of %s to %s: %w", e.UserID, e.ConnectionID, q.writeErr(err))
	}
	return nil
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

func (q *queries) ListExpiringEntitlements(ctx context.Context, tenantID string, before time.Time) ([]accessbot.Entitlement, error) {
	rows, err := q.query(ctx, `SELECT `+entCols+` FROM entitlements
		WHERE tenant_id = ? AND expires_at IS NOT NULL AND expires_at <= ? ORDER BY expires_at, id`,
		tenantID, q.tm(before))
	out, err := collect(rows, err, scanEnt)
	if err != nil {
		return nil, fmt.Errorf("list expiring entitlements: %w", err)
	}
	return out, nil
}

func (q *queries) DeleteEntitlement(ctx context.Context, tenantID, id string) error {
	if err := affected(q.exec(ctx, `DELETE FROM entitlements WHERE tenant_id = ? AND id = ?`, tenantID, id)); err != nil {
		return fmt.Errorf("delete entitlement %s: %w", id, q.deleteErr(err))
	}
	return nil
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
