package sqlstore

import (
	"context"
	"fmt"

	"github.com/accessbot/accessbot"
)

func (q *queries) PutRequestPolicy(ctx context.Context, p *accessbot.RequestPolicy) error {
	if p.TenantID == "" {
		return fmt.Errorf("put request policy: %w: no tenant", accessbot.ErrInvalid)
	}
	b, err := marshalJSON(p)
	if err != nil {
		return fmt.Errorf("put request policy: %w", err)
	}
	p.UpdatedAt = Round(q.now())
	_, err = q.exec(ctx, `INSERT INTO request_policies (tenant_id, policy, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (tenant_id) DO UPDATE SET policy = excluded.policy, updated_at = excluded.updated_at`,
		p.TenantID, b, q.tm(p.UpdatedAt))
	if err != nil {
		return fmt.Errorf("put request policy: %w", q.writeErr(err))
	}
	return nil
}

func (q *queries) GetRequestPolicy(ctx context.Context, tenantID string) (*accessbot.RequestPolicy, error) {
	var raw rawJSON
	var upd dbTime
	if err := q.queryRow(ctx, `SELECT policy, updated_at FROM request_policies WHERE tenant_id = ?`, tenantID).Scan(&raw, &upd); err != nil {
		return nil, fmt.Errorf("get request policy: %w", notFound(err))
	}
	var p accessbot.RequestPolicy
	if err := unmarshalJSON(raw.B, &p); err != nil {
		return nil, fmt.Errorf("get request policy: %w", err)
	}
	p.TenantID, p.UpdatedAt = tenantID, upd.T
	return &p, nil
}
