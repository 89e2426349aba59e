package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// HomeVersion reads the counter the home_v triggers move forward; a tenant
// without a row has had no Home-visible write yet.
func (q *queries) HomeVersion(ctx context.Context, tenantID string) (int64, error) {
	var v int64
	err := q.queryRow(ctx, `SELECT version FROM home_versions WHERE tenant_id = ?`, tenantID).Scan(&v)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("home version of %s: %w", tenantID, err)
	}
	return v, nil
}
