package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

var _ store.Reviews = (*queries)(nil)

const defCols = `tenant_id, name, scope, levels, cron, time_zone, due_at, due_after_ns, created_at, updated_at, source`

func scanDefinition(r scanner) (accessbot.CampaignDefinition, error) {
	var d accessbot.CampaignDefinition
	var scope, levels rawJSON
	var due, c, u dbTime
	var after int64
	var source string
	if err := r.Scan(&d.TenantID, &d.Name, &scope, &levels, &d.Cron, &d.TimeZone, &due, &after, &c, &u, &source); err != nil {
		return d, err
	}
	d.DueAt, d.DueAfter, d.CreatedAt, d.UpdatedAt = due.ptr(), time.Duration(after), c.T, u.T
	d.Source = accessbot.CampaignSource(source)
	if err := unmarshalJSON(scope.B, &d.Scope); err != nil {
		return d, fmt.Errorf("definition %s scope: %w", d.Name, err)
	}
	if err := unmarshalJSON(levels.B, &d.Levels); err != nil {
		return d, fmt.Errorf("definition %s levels: %w", d.Name, err)
	}
	return d, nil
}

// ReplaceCampaignDefinitions deletes the definitions not in defs and
// upserts the others, keeping CreatedAt of the ones that stay.
func (q *queries) ReplaceCampaignDefinitions(ctx context.Context, tenantID string, defs []accessbot.CampaignDefinition) error {
	keep := make([]any, 0, len(defs)+1)
	keep = append(keep, tenantID)
	marks := ""
	for i := range defs {
		if i > 0 {
			marks += ", "
		}
		marks += "?"
		keep = append(keep, defs[i].Name)
	}
	del := `DELETE FROM review_definitions WHERE tenant_id = ?`
	if len(defs) > 0 {
		del += ` AND name NOT IN (` + marks + `)`
	}
	if _, err := q.exec(ctx, del, keep...); err != nil {
		return fmt.Errorf("replace campaign definitions: %w", err)
	}
	now := Round(q.now())
	for i := range defs {
		d := &defs[i]
		d.TenantID = tenantID
		if d.CreatedAt.IsZero() {
			d.CreatedAt = now
		}
		d.CreatedAt, d.UpdatedAt, d.DueAt = Round(d.CreatedAt), now, roundPtr(d.DueAt)
		if d.Source == "" {
			d.Source = accessbot.CampaignSourceFile
		}
		scope, err := marshalJSON(d.Scope)
		if err != nil {
			return fmt.Errorf("replace campaign definition %s: %w", d.Name, err)
		}
		levels, err := marshalJSON(d.Levels)
		if err != nil {
			return fmt.Errorf("replace campaign definition %s: %w", d.Name, err)
		}
		_, err = q.exec(ctx, `INSERT INTO review_definitions (`+defCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (tenant_id, name) DO UPDATE SET scope = excluded.scope, levels = excluded.levels,
				cron = excluded.cron, time_zone = excluded.time_zone, due_at = excluded.due_at,
				due_after_ns = excluded.due_after_ns, updated_at = excluded.updated_at, source = excluded.source`,
			tenantID, d.Name, scope, levels, d.Cron, d.TimeZone, q.tmp(d.DueAt), int64(d.DueAfter), q.tm(d.CreatedAt), q.tm(d.UpdatedAt), string(d.Source))
		if err != nil {
			return fmt.Errorf("replace campaign definition %s: %w", d.Name, q.writeErr(err))
		}
	}
	return nil
}

func (q *queries) ListCampaignDefinitions(ctx context.Context, tenantID string) ([]accessbot.CampaignDefinition, error) {
	rows, err := q.query(ctx, `SELECT `+defCols+` FROM review_definitions WHERE tenant_id = ? ORDER BY name`, tenantID)
	out, err := collect(rows, err, scanDefinition)
	if err != nil {
		return nil, fmt.Errorf("list campaign definitions: %w", err)
	}
	return out, nil
}

const campaignCols = `tenant_id, id, name, scope, levels, due_at, status, created_by, definition, slot_at, launched_at, completed_at`

func scanCampaign(r scanner) (accessbot.Campaign, error) {
	var c accessbot.Campaign
	var scope, levels rawJSON
	var def sql.NullString
	var due, slot, launched, completed dbTime
	if err := r.Scan(&c.TenantID, &c.ID, &c.Name, &scope, &levels, &due, &c.Status, &c.CreatedBy, &def, &slot, &launched, &completed); err != nil {
		return c, err
	}
	c.DueAt, c.Definition, c.Slot, c.LaunchedAt, c.CompletedAt = due.T, def.String, slot.ptr(), launched.T, completed.ptr()
	if err := unmarshalJSON(scope.B, &c.Scope); err != nil {
		return c, fmt.Errorf("campaign %s scope: %w", c.ID, err)
	}
	if err := unmarshalJSON(levels.B, &c.Levels); err != nil {
		return c, fmt.Errorf("campaign %s levels: %w", c.ID, err)
	}
	return c, nil
}

func (q *queries) CreateCampaign(ctx context.Context, c *accessbot.Campaign) error {
	q.stamp(&c.ID, &c.LaunchedAt)
	if c.Status == "" {
		c.Status = accessbot.CampaignActive
	}
	c.DueAt, c.Slot, c.CompletedAt = Round(c.DueAt), roundPtr(c.Slot), roundPtr(c.CompletedAt)
	scope, err := marshalJSON(c.Scope)
	if err != nil {
		return fmt.Errorf("create campaign: %w", err)
	}
	levels, err := marshalJSON(c.Levels)
	if err != nil {
		return fmt.Errorf("create campaign: %w", err)
	}
	_, err = q.exec(ctx, `INSERT INTO review_campaigns (`+campaignCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.TenantID, c.ID, c.Name, scope, levels, q.tm(c.DueAt), string(c.Status), c.CreatedBy, nullStr(c.Definition),
		q.tmp(c.Slot), q.tm(c.LaunchedAt), q.tmp(c.CompletedAt))
	if err != nil {
		return fmt.Errorf("create campaign %s: %w", c.Name, q.writeErr(err))
	}
	return nil
}

func (q *queries) GetCampaign(ctx context.Context, tenantID, id string) (*accessbot.Campaign, error) {
	c, err := scanCampaign(q.queryRow(ctx, `SELECT `+campaignCols+` FROM review_campaigns WHERE tenant_id = ? AND id = ?`, tenantID, id))
	if err != nil {
		return nil, fmt.Errorf("get campaign %s: %w", id, notFound(err))
	}
	return &c, nil
}

func (q *queries) ListCampaigns(ctx context.Context, tenantID string, status accessbot.CampaignStatus) ([]accessbot.Campaign, error) {
	query, args := `SELECT `+campaignCols+` FROM review_campaigns WHERE tenant_id = ?`, []any{tenantID}
	if status != "" {
		query += ` AND status = ?`
		args = append(args, string(status))
	}
	rows, err := q.query(ctx, query+` ORDER BY launched_at, id`, args...)
	out, err := collect(rows, err, scanCampaign)
	if err != nil {
		return nil, fmt.Errorf("list campaigns: %w", err)
	}
	return out, nil
}

func (q *queries) LastCampaignOf(ctx context.Context, tenantID, definition string) (*accessbot.Campaign, error) {
	c, err := scanCampaign(q.queryRow(ctx, `SELECT `+campaignCols+` FROM review_campaigns WHERE tenant_id = ? AND definition = ?
		ORDER BY slot_at DESC, launched_at DESC LIMIT 1`, tenantID, definition))
	if err != nil {
		return nil, fmt.Errorf("last campaign of %s: %w", definition, notFound(err))
	}
	return &c, nil
}

func (q *queries) CompleteCampaign(ctx context.Context, tenantID, id string, at time.Time) error {
	n, err := q.exec(ctx, `UPDATE review_campaigns SET status = ?, completed_at = ? WHERE tenant_id = ? AND id = ? AND status = ?`,
		string(accessbot.CampaignCompleted), q.tm(at), tenantID, id, string(accessbot.CampaignActive))
	if err != nil {
		return fmt.Errorf("complete campaign %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("complete campaign %s: %w", id, q.missingOrStale(ctx, "review_campaigns", tenantID, id))
	}
	return nil
}

// missingOrStale tells "no such row (in this tenant)" from "lost the race".
func (q *queries) missingOrStale(ctx context.Context, table, tenantID, id string) error {
	var one int
	err := q.queryRow(ctx, `SELECT 1 FROM `+table+` WHERE tenant_id = ? AND id = ?`, tenantID, id).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return accessbot.ErrNotFound
	case err != nil:
		return err
	}
	return accessbot.ErrStale
}
