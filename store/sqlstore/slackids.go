package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

const slackIDCols = `s.tenant_id, s.user_id, s.team_id, s.slack_user_id, s.email, s.dm_channel_id, s.verified_at`

func (q *queries) GetSlackID(ctx context.Context, tenantID, userID, teamID string) (*store.SlackID, error) {
	var s store.SlackID
	var at dbTime
	// The join re-checks the identity rule: a row verified for another
	// email than the user's current one is not an answer.
	err := q.queryRow(ctx, `SELECT `+slackIDCols+` FROM slack_ids s
		JOIN users u ON u.tenant_id = s.tenant_id AND u.id = s.user_id
		WHERE s.tenant_id = ? AND s.user_id = ? AND s.team_id = ? AND s.email = lower(u.email)`,
		tenantID, userID, teamID).Scan(&s.TenantID, &s.UserID, &s.TeamID, &s.SlackUserID, &s.Email, &s.DMChannelID, &at)
	if err != nil {
		return nil, fmt.Errorf("get slack id of %s: %w", userID, notFound(err))
	}
	s.VerifiedAt = at.T
	return &s, nil
}

// slackUserCols are userCols of users u, for a join.
const slackUserCols = `u.tenant_id, u.id, u.email, u.name, u.manager_id, u.department, u.status, u.terminated_at, u.role,
	u.delegate_id, u.delegate_until, u.created_at, u.updated_at`

func (q *queries) UserBySlackID(ctx context.Context, tenantID, teamID, slackUserID string, since time.Time) (*accessbot.User, time.Time, error) {
	var at dbTime
	// slack_ids_slack_user (tenant_id, team_id, slack_user_id) finds the
	// row; the join re-checks the identity rule as GetSlackID does.
	u, err := scanUser(scanAlso{q.queryRow(ctx, `SELECT `+slackUserCols+`, s.verified_at FROM slack_ids s
		JOIN users u ON u.tenant_id = s.tenant_id AND u.id = s.user_id
		WHERE s.tenant_id = ? AND s.team_id = ? AND s.slack_user_id = ? AND s.verified_at >= ? AND s.email = lower(u.email)`,
		tenantID, teamID, slackUserID, q.tm(since)), &at})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("find the user of Slack id %s: %w", slackUserID, notFound(err))
	}
	return &u, at.T, nil
}

// scanAlso scans one more column after those its caller asks for.
type scanAlso struct {
	r     scanner
	extra any
}

func (s scanAlso) Scan(dest ...any) error { return s.r.Scan(append(dest, s.extra)...) }

func (q *queries) PutSlackID(ctx context.Context, s *store.SlackID) error {
	if s.TenantID == "" || s.UserID == "" || s.TeamID == "" || s.SlackUserID == "" || s.Email == "" || s.VerifiedAt.IsZero() {
		return fmt.Errorf("put slack id of %q: tenant, user, team, Slack user, email and time are required: %w", s.UserID, accessbot.ErrInvalid)
	}
	s.Email = accessbot.NormalizeEmail(s.Email)
	s.VerifiedAt = Round(s.VerifiedAt)
	// The Slack user now has this email: no other tenant user maps to it.
	if _, err := q.exec(ctx, `DELETE FROM slack_ids WHERE tenant_id = ? AND team_id = ? AND slack_user_id = ? AND user_id <> ?`,
		s.TenantID, s.TeamID, s.SlackUserID, s.UserID); err != nil {
		return fmt.Errorf("put slack id of %s: drop older holders of %s: %w", s.UserID, s.SlackUserID, err)
	}
	// Written only while the user still has the email that was matched,
	// so a lookup racing an email change does not store a stale id.
	n, err := q.exec(ctx, `INSERT INTO slack_ids (tenant_id, user_id, team_id, slack_user_id, email, dm_channel_id, verified_at)
		SELECT tenant_id, id, ?, ?, ?, '', ? FROM users WHERE tenant_id = ? AND id = ? AND lower(email) = ?
		ON CONFLICT (tenant_id, user_id) DO UPDATE SET team_id = excluded.team_id, slack_user_id = excluded.slack_user_id,
			email = excluded.email, verified_at = excluded.verified_at,
			dm_channel_id = CASE WHEN slack_ids.team_id = excluded.team_id AND slack_ids.slack_user_id = excluded.slack_user_id
				THEN slack_ids.dm_channel_id ELSE '' END`,
		s.TeamID, s.SlackUserID, s.Email, q.tm(s.VerifiedAt), s.TenantID, s.UserID, s.Email)
	if err != nil {
		return fmt.Errorf("put slack id of %s: %w", s.UserID, q.writeErr(err))
	}
	if n == 0 {
		return fmt.Errorf("put slack id of %s: the user is gone or no longer has email %s: %w", s.UserID, s.Email, accessbot.ErrStale)
	}
	return nil
}

func (q *queries) SetSlackDM(ctx context.Context, tenantID, userID, slackUserID, channelID string) error {
	err := affected(q.exec(ctx, `UPDATE slack_ids SET dm_channel_id = ? WHERE tenant_id = ? AND user_id = ? AND slack_user_id = ?`,
		channelID, tenantID, userID, slackUserID))
	if err != nil {
		return fmt.Errorf("set the DM channel of %s: %w", userID, err)
	}
	return nil
}

func (q *queries) ForgetSlackUser(ctx context.Context, tenantID, teamID, slackUserID, keepEmail string) (int, error) {
	n, err := q.exec(ctx, `DELETE FROM slack_ids WHERE tenant_id = ? AND team_id = ? AND slack_user_id = ? AND email <> ?`,
		tenantID, teamID, slackUserID, accessbot.NormalizeEmail(keepEmail))
	if err != nil {
		return 0, fmt.Errorf("forget slack user %s: %w", slackUserID, err)
	}
	return int(n), nil
}
