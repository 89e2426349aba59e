package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/accessbot/accessbot"
)

const userCols = `tenant_id, id, email, name, manager_id, department, status, terminated_at, role,
	delegate_id, delegate_until, created_at, updated_at`

func scanUser(r scanner) (accessbot.User, error) {
	var u accessbot.User
	var manager, delegate sql.NullString
	var term, until, c, up dbTime
	err := r.Scan(&u.TenantID, &u.ID, &u.Email, &u.Name, &manager, &u.Department, &u.Status, &term, &u.Role,
		&delegate, &until, &c, &up)
	u.ManagerID, u.DelegateID = manager.String, delegate.String
	u.TerminatedAt, u.DelegateUntil = term.ptr(), until.ptr()
	u.CreatedAt, u.UpdatedAt = c.T, up.T
	return u, err
}

// normalizeUser fills defaults for zero values and the stored forms of email and times.
func normalizeUser(u *accessbot.User) {
	u.Email = accessbot.NormalizeEmail(u.Email)
	if u.Status == "" {
		u.Status = accessbot.UserActive
	}
	if u.Role == "" {
		u.Role = accessbot.RoleMember
	}
	u.TerminatedAt = roundPtr(u.TerminatedAt)
	u.DelegateUntil = roundPtr(u.DelegateUntil)
}

func (q *queries) CreateUser(ctx context.Context, u *accessbot.User) error {
	q.stamp(&u.ID, &u.CreatedAt)
	if u.UpdatedAt.IsZero() {
		u.UpdatedAt = u.CreatedAt
	}
	u.UpdatedAt = Round(u.UpdatedAt)
	normalizeUser(u)
	_, err := q.exec(ctx, `INSERT INTO users (`+userCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.TenantID, u.ID, u.Email, u.Name, nullStr(u.ManagerID), u.Department, string(u.Status), q.tmp(u.TerminatedAt),
		string(u.Role), nullStr(u.DelegateID), q.tmp(u.DelegateUntil), q.tm(u.CreatedAt), q.tm(u.UpdatedAt))
	if err != nil {
		return fmt.Errorf("create user %s: %w", u.Email, q.writeErr(err))
	}
	return nil
}

func (q *queries) UpdateUser(ctx context.Context, u *accessbot.User) error {
	normalizeUser(u)
	now := Round(q.now())
	err := affected(q.exec(ctx, `UPDATE users SET email = ?, name = ?, manager_id = ?, department = ?, status = ?,
		terminated_at = ?, role = ?, delegate_id = ?, delegate_until = ?, updated_at = ?
		WHERE tenant_id = ? AND id = ?`,
		u.Email, u.Name, nullStr(u.ManagerID), u.Department, string(u.Status), q.tmp(u.TerminatedAt), string(u.Role),
		nullStr(u.DelegateID), q.tmp(u.DelegateUntil), q.tm(now), u.TenantID, u.ID))
	if err != nil {
		return fmt.Errorf("update user %s: %w", u.ID, q.writeErr(err))
	}
	// A Slack id verified for another email no longer holds (the identity
	// rule; GetSlackID ignores it anyway, this keeps the table true), and a
	// terminated user (removed by an import or a directory sync) keeps none.
	if _, err := q.exec(ctx, `DELETE FROM slack_ids WHERE tenant_id = ? AND user_id = ? AND (email <> ? OR ? = ?)`,
		u.TenantID, u.ID, u.Email, string(u.Status), string(accessbot.UserTerminated)); err != nil {
		return fmt.Errorf("update user %s: clear its Slack id: %w", u.ID, err)
	}
	u.UpdatedAt = now
	return nil
}

func (q *queries) GetUser(ctx context.Context, tenantID, id string) (*accessbot.User, error) {
	u, err := scanUser(q.queryRow(ctx, `SELECT `+userCols+` FROM users WHERE tenant_id = ? AND id = ?`, tenantID, id))
	if err != nil {
		return nil, fmt.Errorf("get user %s: %w", id, notFound(err))
	}
	return &u, nil
}

func (q *queries) GetUserByEmail(ctx context.Context, tenantID, email string) (*accessbot.User, error) {
	u, err := scanUser(q.queryRow(ctx, `SELECT `+userCols+` FROM users WHERE tenant_id = ? AND lower(email) = ?`,
		tenantID, accessbot.NormalizeEmail(email)))
	if err != nil {
		return nil, fmt.Errorf("get user by email: %w", notFound(err))
	}
	return &u, nil
}

func (q *queries) ListUsers(ctx context.Context, tenantID string) ([]accessbot.User, error) {
	rows, err := q.query(ctx, `SELECT `+userCols+` FROM users WHERE tenant_id = ? ORDER BY email`, tenantID)
	out, err := collect(rows, err, scanUser)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return out, nil
}

func (q *queries) ListUsersOf(ctx context.Context, tenantID string, ids, emails []string) ([]accessbot.User, error) {
	var out []accessbot.User
	seen := map[string]bool{}
	for _, by := range []struct {
		where string
		vals  []string
	}{{"id", ids}, {"lower(email)", emails}} {
		per := batchParams - 1
		for start := 0; start < len(by.vals); start += per {
			chunk := by.vals[start:min(len(by.vals), start+per)]
			rows, err := q.query(ctx, `SELECT `+userCols+` FROM users WHERE tenant_id = ? AND `+by.where+` IN (`+
				strings.TrimSuffix(strings.Repeat("?, ", len(chunk)), ", ")+`)`, append([]any{tenantID}, toAny(chunk)...)...)
			us, err := collect(rows, err, scanUser)
			if err != nil {
				return nil, fmt.Errorf("list users of %d id(s) and %d email(s): %w", len(ids), len(emails), err)
			}
			for _, u := range us {
				if !seen[u.ID] {
					seen[u.ID] = true
					out = append(out, u)
				}
			}
		}
	}
	return out, nil
}

func (q *queries) ListReports(ctx context.Context, tenantID, managerID string) ([]accessbot.User, error) {
	rows, err := q.query(ctx, `SELECT `+userCols+` FROM users WHERE tenant_id = ? AND manager_id = ? ORDER BY email`,
		tenantID, managerID)
	out, err := collect(rows, err, scanUser)
	if err != nil {
		return nil, fmt.Errorf("list reports of %s: %w", managerID, err)
	}
	return out, nil
}

// DeleteUser deletes a user; a trigger clears manager and delegate references
// to it, and any other reference (application owner, requester) is ErrConflict.
func (q *queries) DeleteUser(ctx context.Context, tenantID, id string) error {
	if err := affected(q.exec(ctx, `DELETE FROM users WHERE tenant_id = ? AND id = ?`, tenantID, id)); err != nil {
		return fmt.Errorf("delete user %s: %w", id, q.deleteErr(err))
	}
	return nil
}
