package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/accessbot/accessbot"
)

const tenantCols = `id, slug, name, created_at, updated_at`

func scanTenant(r scanner) (accessbot.Tenant, error) {
	var t accessbot.Tenant
	var c, u dbTime
	err := r.Scan(&t.ID, &t.Slug, &t.Name, &c, &u)
	t.CreatedAt, t.UpdatedAt = c.T, u.T
	return t, err
}

func (q *queries) CreateTenant(ctx context.Context, t *accessbot.Tenant) error {
	q.stamp(&t.ID, &t.CreatedAt)
	t.UpdatedAt = t.CreatedAt
	_, err := q.exec(ctx, `INSERT INTO tenants (`+tenantCols+`) VALUES (?, ?, ?, ?, ?)`,
		t.ID, t.Slug, t.Name, q.tm(t.CreatedAt), q.tm(t.UpdatedAt))
	if err != nil {
		return fmt.Errorf("create tenant %s: %w", t.Slug, q.writeErr(err))
	}
	return nil
}

func (q *queries) UpdateTenant(ctx context.Context, t *accessbot.Tenant) error {
	now := Round(q.now())
	err := affected(q.exec(ctx, `UPDATE tenants SET slug = ?, name = ?, updated_at = ? WHERE id = ?`,
		t.Slug, t.Name, q.tm(now), t.ID))
	if err != nil {
		return fmt.Errorf("update tenant %s: %w", t.ID, q.writeErr(err))
	}
	t.UpdatedAt = now
	return nil
}

func (q *queries) GetTenant(ctx context.Context, id string) (*accessbot.Tenant, error) {
	t, err := scanTenant(q.queryRow(ctx, `SELECT `+tenantCols+` FROM tenants WHERE id = ?`, id))
	if err != nil {
		return nil, fmt.Errorf("get tenant %s: %w", id, notFound(err))
	}
	return &t, nil
}

func (q *queries) GetTenantBySlug(ctx context.Context, slug string) (*accessbot.Tenant, error) {
	t, err := scanTenant(q.queryRow(ctx, `SELECT `+tenantCols+` FROM tenants WHERE slug = ?`, slug))
	if err != nil {
		return nil, fmt.Errorf("get tenant by slug %s: %w", slug, notFound(err))
	}
	return &t, nil
}

func (q *queries) ListTenants(ctx context.Context) ([]accessbot.Tenant, error) {
	rows, err := q.query(ctx, `SELECT `+tenantCols+` FROM tenants ORDER BY slug`)
	out, err := collect(rows, err, scanTenant)
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	return out, nil
}

const workspaceCols = `tenant_id, team_id, team_name, bot_token_secret, bot_user_id, installed_at`

func scanWorkspace(r scanner) (accessbot.Workspace, error) {
	var w accessbot.Workspace
	var at dbTime
	err := r.Scan(&w.TenantID, &w.TeamID, &w.TeamName, &w.BotTokenSecret, &w.BotUserID, &at)
	w.InstalledAt = at.T
	return w, err
}

// BindWorkspace updates the binding when this tenant already has this team,
// else inserts; the unique keys on tenant_id and team_id refuse a second
// binding in either direction. A zero InstalledAt keeps the stored one (or
// is now for a new binding), and is written back to w.
func (q *queries) BindWorkspace(ctx context.Context, w *accessbot.Workspace) error {
	var installed any // NULL keeps the stored time
	if !w.InstalledAt.IsZero() {
		w.InstalledAt = Round(w.InstalledAt)
		installed = q.tm(w.InstalledAt)
	}
	var at dbTime
	err := q.queryRow(ctx, `UPDATE workspaces SET team_name = ?, bot_token_secret = ?, bot_user_id = ?,
			installed_at = COALESCE(?, installed_at)
		WHERE tenant_id = ? AND team_id = ? RETURNING installed_at`,
		w.TeamName, w.BotTokenSecret, w.BotUserID, installed, w.TenantID, w.TeamID).Scan(&at)
	q.written() // a write by queryRow: done once scanned
	if err == nil {
		w.InstalledAt = at.T
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		if w.InstalledAt.IsZero() {
			w.InstalledAt = Round(q.now())
		}
		_, err = q.exec(ctx, `INSERT INTO workspaces (`+workspaceCols+`) VALUES (?, ?, ?, ?, ?, ?)`,
			w.TenantID, w.TeamID, w.TeamName, w.BotTokenSecret, w.BotUserID, q.tm(w.InstalledAt))
	}
	if err != nil {
		return fmt.Errorf("bind workspace %s to tenant %s: %w", w.TeamID, w.TenantID, q.writeErr(err))
	}
	return nil
}

func (q *queries) WorkspaceByTeam(ctx context.Context, teamID string) (*accessbot.Workspace, error) {
	w, err := scanWorkspace(q.queryRow(ctx, `SELECT `+workspaceCols+` FROM workspaces WHERE team_id = ?`, teamID))
	if err != nil {
		return nil, fmt.Errorf("workspace by team %s: %w", teamID, notFound(err))
	}
	return &w, nil
}

func (q *queries) WorkspaceByTenant(ctx context.Context, tenantID string) (*accessbot.Workspace, error) {
	w, err := scanWorkspace(q.queryRow(ctx, `SELECT `+workspaceCols+` FROM workspaces WHERE tenant_id = ?`, tenantID))
	if err != nil {
		return nil, fmt.Errorf("workspace by tenant %s: %w", tenantID, notFound(err))
	}
	return &w, nil
}

func (q *queries) UnbindWorkspace(ctx context.Context, tenantID string) error {
	if err := affected(q.exec(ctx, `DELETE FROM workspaces WHERE tenant_id = ?`, tenantID)); err != nil {
		return fmt.Errorf("unbind workspace of tenant %s: %w", tenantID, err)
	}
	return nil
}
