package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/accessbot/accessbot"
)

func (q *queries) PutReviewSettings(ctx context.Context, s *accessbot.ReviewSettings) error {
	days := s.RemindDays
	if days == nil {
		days = []int{}
	}
	b, err := marshalJSON(days)
	if err != nil {
		return fmt.Errorf("put review settings: %w", err)
	}
	if s.Grace < 0 {
		return fmt.Errorf("put review settings: %w: negative grace", accessbot.ErrInvalid)
	}
	s.UpdatedAt = Round(q.now())
	_, err = q.exec(ctx, `INSERT INTO review_settings (tenant_id, remind_days, grace_ns, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (tenant_id) DO UPDATE SET remind_days = excluded.remind_days, grace_ns = excluded.grace_ns,
			updated_at = excluded.updated_at`, s.TenantID, b, int64(s.Grace), q.tm(s.UpdatedAt))
	if err != nil {
		return fmt.Errorf("put review settings: %w", q.writeErr(err))
	}
	return nil
}

func (q *queries) GetReviewSettings(ctx context.Context, tenantID string) (*accessbot.ReviewSettings, error) {
	s := accessbot.ReviewSettings{TenantID: tenantID}
	var days rawJSON
	var grace int64
	var upd dbTime
	err := q.queryRow(ctx, `SELECT remind_days, grace_ns, updated_at FROM review_settings WHERE tenant_id = ?`, tenantID).
		Scan(&days, &grace, &upd)
	if err != nil {
		return nil, fmt.Errorf("get review settings: %w", notFound(err))
	}
	s.Grace, s.UpdatedAt = time.Duration(grace), upd.T
	if err := unmarshalJSON(days.B, &s.RemindDays); err != nil {
		return nil, fmt.Errorf("get review settings: remind days: %w", err)
	}
	if s.RemindDays == nil {
		s.RemindDays = []int{}
	}
	return &s, nil
}
