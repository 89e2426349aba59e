package sqlstore

import (
	"context"
	"fmt"

	"github.com/accessbot/accessbot"
)

func (q *queries) PutImportSettings(ctx context.Context, s *accessbot.ImportSettings) error {
	if s.MaxRemovedRows < 0 || s.MaxRemovedPercent < 0 || s.MaxRemovedPercent > 100 {
		return fmt.Errorf("put import settings: %w: rows must be 0 or more, percent 0 to 100", accessbot.ErrInvalid)
	}
	s.UpdatedAt = Round(q.now())
	_, err := q.exec(ctx, `INSERT INTO import_settings (tenant_id, max_removed_rows, max_removed_percent, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (tenant_id) DO UPDATE SET max_removed_rows = excluded.max_removed_rows,
			max_removed_percent = excluded.max_removed_percent, updated_at = excluded.updated_at`,
		s.TenantID, s.MaxRemovedRows, s.MaxRemovedPercent, q.tm(s.UpdatedAt))
	if err != nil {
		return fmt.Errorf("put import settings: %w", q.writeErr(err))
	}
	return nil
}

func (q *queries) GetImportSettings(ctx context.Context, tenantID string) (*accessbot.ImportSettings, error) {
	s := accessbot.ImportSettings{TenantID: tenantID}
	var upd dbTime
	err := q.queryRow(ctx, `SELECT max_removed_rows, max_removed_percent, updated_at FROM import_settings WHERE tenant_id = ?`, tenantID).
		Scan(&s.MaxRemovedRows, &s.MaxRemovedPercent, &upd)
	if err != nil {
		return nil, fmt.Errorf("get import settings: %w", notFound(err))
	}
	s.UpdatedAt = upd.T
	return &s, nil
}
