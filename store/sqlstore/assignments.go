package sqlstore

import (
	"context"
	"fmt"

	"github.com/accessbot/accessbot"
)

const assignCols = `tenant_id, connection_id, member_type, member_name, request_id, granted_at`

func scanAssignment(r scanner) (accessbot.ConnectionAssignment, error) {
	var a accessbot.ConnectionAssignment
	var at dbTime
	err := r.Scan(&a.TenantID, &a.ConnectionID, &a.MemberType, &a.MemberName, &a.RequestID, &at)
	a.GrantedAt = at.T
	return a, err
}

func (q *queries) AssignToConnection(ctx context.Context, a *accessbot.ConnectionAssignment) error {
	if a.GrantedAt.IsZero() {
		a.GrantedAt = q.now()
	}
	a.GrantedAt = Round(a.GrantedAt)
	_, err := q.exec(ctx, `INSERT INTO connection_assignments (`+assignCols+`) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, connection_id, member_type, member_name) DO NOTHING`,
		a.TenantID, a.ConnectionID, a.MemberType, a.MemberName, a.RequestID, q.tm(a.GrantedAt))
	if err != nil {
		return fmt.Errorf("assign %s %q to connection %s: %w", a.MemberType, a.MemberName, a.ConnectionID, q.writeErr(err))
	}
	return nil
}

func (q *queries) UnassignFromConnection(ctx context.Context, tenantID, connectionID, memberType, memberName string) error {
	err := affected(q.exec(ctx, `DELETE FROM connection_assignments
		WHERE tenant_id = ? AND connection_id = ? AND member_type = ? AND member_name = ?`, tenantID, connectionID, memberType, memberName))
	if err != nil {
		return fmt.Errorf("unassign %s %q from connection %s: %w", memberType, memberName, connectionID, err)
	}
	return nil
}

func (q *queries) ListConnectionAssignments(ctx context.Context, tenantID, connectionID string) ([]accessbot.ConnectionAssignment, error) {
	rows, err := q.query(ctx, `SELECT `+assignCols+` FROM connection_assignments
		WHERE tenant_id = ? AND connection_id = ? ORDER BY member_type, member_name`, tenantID, connectionID)
	out, err := collect(rows, err, scanAssignment)
	if err != nil {
		return nil, fmt.Errorf("list assignments of connection %s: %w", connectionID, err)
	}
	return out, nil
}
