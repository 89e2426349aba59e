package sqlstore

import (
	"context"
	"fmt"

	"github.com/accessbot/accessbot/store"
)

// HomeVersion reads the parts the home_v triggers move forward (migration
// 00300); a part without a row has not moved yet.
func (q *queries) HomeVersion(ctx context.Context, tenantID, userID string, admin bool) (store.HomeVersion, error) {
	var v store.HomeVersion
	err := q.queryRow(ctx, `SELECT
		COALESCE((SELECT version FROM home_versions WHERE tenant_id = ?), 0),
		COALESCE((SELECT admins FROM home_versions WHERE tenant_id = ?), 0),
		COALESCE((SELECT version FROM home_user_versions WHERE tenant_id = ? AND user_id = ?), 0)`,
		tenantID, tenantID, tenantID, userID).Scan(&v.Tenant, &v.Admins, &v.User)
	if err != nil {
		return store.HomeVersion{}, fmt.Errorf("home version of %s in %s: %w", userID, tenantID, err)
	}
	if !admin {
		v.Admins = 0
	}
	return v, nil
}
