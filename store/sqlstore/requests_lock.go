package sqlstore

import (
	"context"
	"fmt"

	"github.com/accessbot/accessbot"
)

// GetRequestForUpdate reads a request and, in PostgreSQL, locks its row until
// the transaction ends. SQLite needs no row lock: its transactions begin
// IMMEDIATE, so writers already run one at a time.
func (q *queries) GetRequestForUpdate(ctx context.Context, tenantID, id string) (*accessbot.AccessRequest, error) {
	lock := " FOR UPDATE"
	if q.d.Name == "sqlite" {
		lock = ""
	}
	r, err := scanRequest(q.queryRow(ctx, `SELECT `+requestCols+` FROM access_requests WHERE tenant_id = ? AND id = ?`+lock,
		tenantID, id))
	if err != nil {
		return nil, fmt.Errorf("get request %s for update: %w", id, notFound(err))
	}
	return &r, nil
}
