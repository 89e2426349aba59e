package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/accessbot/accessbot"
)

// What the finding rules read a page of identities at a time, beside the
// identities and their relations (inventory.go).

func (q *queries) ListIdentityMappingsBetween(ctx context.Context, tenantID, after, through string) ([]accessbot.IdentityMapping, error) {
	// A range of the primary key (tenant_id, identity_id).
	query, args := ` AND identity_id > ?`, []any{tenantID, after}
	if through != "" {
		query, args = query+` AND identity_id <= ?`, append(args, through)
	}
	rows, err := q.query(ctx, `SELECT tenant_id, identity_id, user_id, created_at FROM inv_mappings WHERE tenant_id = ?`+query+` ORDER BY identity_id`, args...)
	out, err := collect(rows, err, scanMapping)
	if err != nil {
		return nil, fmt.Errorf("list identity mappings after %q through %q: %w", after, through, err)
	}
	return out, nil
}

func scanMapping(r scanner) (accessbot.IdentityMapping, error) {
	var m accessbot.IdentityMapping
	var c dbTime
	err := r.Scan(&m.TenantID, &m.IdentityID, &m.UserID, &c)
	m.CreatedAt = c.T
	return m, err
}

func (q *queries) ListAppEntitlementsOf(ctx context.Context, tenantID string, ids []string) ([]accessbot.AppEntitlement, error) {
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	var out []accessbot.AppEntitlement
	per := batchParams - 1
	for start := 0; start < len(ids); start += per {
		chunk := ids[start:min(len(ids), start+per)]
		rows, err := q.query(ctx, `SELECT `+appEntCols+` FROM inv_entitlements WHERE tenant_id = ? AND removed_at IS NULL AND id IN (`+
			strings.TrimSuffix(strings.Repeat("?, ", len(chunk)), ", ")+`) ORDER BY id`, append([]any{tenantID}, toAny(chunk)...)...)
		es, err := collect(rows, err, scanAppEnt)
		if err != nil {
			return nil, fmt.Errorf("list %d app entitlement(s): %w", len(ids), err)
		}
		out = append(out, es...)
	}
	return out, nil
}
