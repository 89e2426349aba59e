package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/accessbot/accessbot"
)

const itemCols = `tenant_id, id, campaign_id, level, parent_id, app_id, identity_id, entitlement_id, user_id, reviewer_id,
	subject, app_name, entitlement_name, privileged, status, comment, decided_by, decided_at, created_at, updated_at`

func scanItem(r scanner) (accessbot.ReviewItem, error) {
	var it accessbot.ReviewItem
	var decided, c, u dbTime
	err := r.Scan(&it.TenantID, &it.ID, &it.CampaignID, &it.Level, &it.ParentID, &it.AppID, &it.IdentityID, &it.EntitlementID,
		&it.UserID, &it.ReviewerID, &it.Subject, &it.AppName, &it.EntitlementName, &it.Privileged, &it.Status, &it.Comment,
		&it.DecidedBy, &decided, &c, &u)
	it.DecidedAt, it.CreatedAt, it.UpdatedAt = decided.ptr(), c.T, u.T
	return it, err
}

// CreateReviewItems inserts many rows per statement (a campaign launch
// writes one item per relation in scope: 100,000 one by one took minutes).
func (q *queries) CreateReviewItems(ctx context.Context, items []accessbot.ReviewItem) error {
	for i := range items {
		it := &items[i]
		q.stamp(&it.ID, &it.CreatedAt)
		if it.UpdatedAt.IsZero() {
			it.UpdatedAt = it.CreatedAt
		}
		if it.Status == "" {
			it.Status = accessbot.ReviewPending
		}
		it.UpdatedAt, it.DecidedAt = Round(it.UpdatedAt), roundPtr(it.DecidedAt)
	}
	err := q.insertMany(ctx, `INSERT INTO review_items (`+itemCols+`)`, 20, len(items), func(i int, a []any) []any {
		it := &items[i]
		return append(a, it.TenantID, it.ID, it.CampaignID, it.Level, it.ParentID, it.AppID, it.IdentityID, it.EntitlementID, it.UserID,
			it.ReviewerID, it.Subject, it.AppName, it.EntitlementName, it.Privileged, string(it.Status), it.Comment,
			it.DecidedBy, q.tmp(it.DecidedAt), q.tm(it.CreatedAt), q.tm(it.UpdatedAt))
	})
	if err != nil {
		return fmt.Errorf("create %d review item(s): %w", len(items), q.writeErr(err))
	}
	return nil
}

func (q *queries) GetReviewItem(ctx context.Context, tenantID, id string) (*accessbot.ReviewItem, error) {
	it, err := scanItem(q.queryRow(ctx, `SELECT `+itemCols+` FROM review_items WHERE tenant_id = ? AND id = ?`, tenantID, id))
	if err != nil {
		return nil, fmt.Errorf("get review item %s: %w", id, notFound(err))
	}
	return &it, nil
}

func (q *queries) ListReviewItems(ctx context.Context, tenantID string, f accessbot.ReviewItemFilter) ([]accessbot.ReviewItem, error) {
	query, args := `SELECT `+itemCols+` FROM review_items WHERE tenant_id = ?`, []any{tenantID}
	if f.CampaignID != "" {
		query += ` AND campaign_id = ?`
		args = append(args, f.CampaignID)
	}
	if f.ReviewerID != "" {
		query += ` AND reviewer_id = ?`
		args = append(args, f.ReviewerID)
	}
	if f.Status != "" {
		query += ` AND status = ?`
		args = append(args, string(f.Status))
	}
	if f.Level != nil {
		query += ` AND level = ?`
		args = append(args, *f.Level)
	}
	rows, err := q.query(ctx, query+` ORDER BY campaign_id, level, subject, app_name, entitlement_name, id`+limitClause(f.Limit), args...)
	out, err := collect(rows, err, scanItem)
	if err != nil {
		return nil, fmt.Errorf("list review items: %w", err)
	}
	return out, nil
}

func (q *queries) CountPendingReviews(ctx context.Context, tenantID, reviewerID string) (int, error) {
	var n int
	err := q.queryRow(ctx, `SELECT COUNT(*) FROM review_items i JOIN review_campaigns c
			ON c.tenant_id = i.tenant_id AND c.id = i.campaign_id
		WHERE i.tenant_id = ? AND i.reviewer_id = ? AND i.status = ? AND c.status = ?`,
		tenantID, reviewerID, string(accessbot.ReviewPending), string(accessbot.CampaignActive)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count pending reviews of %s: %w", reviewerID, err)
	}
	return n, nil
}

// DecideReviewItem is a compare-and-swap on (status pending, reviewer).
func (q *queries) DecideReviewItem(ctx context.Context, tenantID, id, reviewerID string, status accessbot.ReviewStatus, comment string, at time.Time) error {
	if status != accessbot.ReviewKept && status != accessbot.ReviewRevoked {
		return fmt.Errorf("decide review item %s: %w: status %q", id, accessbot.ErrInvalid, status)
	}
	n, err := q.exec(ctx, `UPDATE review_items SET status = ?, comment = ?, decided_by = ?, decided_at = ?, updated_at = ?
		WHERE tenant_id = ? AND id = ? AND status = ? AND reviewer_id = ?`,
		string(status), comment, reviewerID, q.tm(at), q.tm(at), tenantID, id, string(accessbot.ReviewPending), reviewerID)
	if err != nil {
		return fmt.Errorf("decide review item %s: %w", id, q.writeErr(err))
	}
	if n == 0 {
		return fmt.Errorf("decide review item %s: %w", id, q.missingOrStale(ctx, "review_items", tenantID, id))
	}
	return nil
}

func (q *queries) ReassignReviewItem(ctx context.Context, tenantID, id, from, to string, at time.Time) error {
	n, err := q.exec(ctx, `UPDATE review_items SET reviewer_id = ?, updated_at = ?
		WHERE tenant_id = ? AND id = ? AND status = ? AND reviewer_id = ?`,
		to, q.tm(at), tenantID, id, string(accessbot.ReviewPending), from)
	if err != nil {
		return fmt.Errorf("reassign review item %s: %w", id, q.writeErr(err))
	}
	if n == 0 {
		return fmt.Errorf("reassign review item %s: %w", id, q.missingOrStale(ctx, "review_items", tenantID, id))
	}
	return nil
}

const revocationCols = `tenant_id, id, item_id, campaign_id, app_id, identity_id, entitlement_id, owner_id, status, created_at`

func scanRevocation(r scanner) (accessbot.Revocation, error) {
	var v accessbot.Revocation
	var c dbTime
	err := r.Scan(&v.TenantID, &v.ID, &v.ItemID, &v.CampaignID, &v.AppID, &v.IdentityID, &v.EntitlementID, &v.OwnerID, &v.Status, &c)
	v.CreatedAt = c.T
	return v, err
}

func (q *queries) CreateRevocation(ctx context.Context, r *accessbot.Revocation) error {
	q.stamp(&r.ID, &r.CreatedAt)
	if r.Status == "" {
		r.Status = accessbot.RevocationPending
	}
	_, err := q.exec(ctx, `INSERT INTO review_revocations (`+revocationCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.TenantID, r.ID, r.ItemID, r.CampaignID, r.AppID, r.IdentityID, r.EntitlementID, r.OwnerID, string(r.Status), q.tm(r.CreatedAt))
	if err != nil {
		return fmt.Errorf("create revocation of item %s: %w", r.ItemID, q.writeErr(err))
	}
	return nil
}

func (q *queries) ListRevocations(ctx context.Context, tenantID, ownerID string) ([]accessbot.Revocation, error) {
	query, args := `SELECT `+revocationCols+` FROM review_revocations WHERE tenant_id = ?`, []any{tenantID}
	if ownerID != "" {
		query += ` AND owner_id = ?`
		args = append(args, ownerID)
	}
	rows, err := q.query(ctx, query+` ORDER BY created_at, id`, args...)
	out, err := collect(rows, err, scanRevocation)
	if err != nil {
		return nil, fmt.Errorf("list revocations: %w", err)
	}
	return out, nil
}

// MarkReviewNotice inserts the notice row; the primary key makes exactly
// one of several racing callers see first = true.
func (q *queries) MarkReviewNotice(ctx context.Context, tenantID, campaignID, userID, key string, at time.Time) (bool, error) {
	n, err := q.exec(ctx, `INSERT INTO review_notices (tenant_id, campaign_id, user_id, notice, sent_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, campaign_id, user_id, notice) DO NOTHING`, tenantID, campaignID, userID, key, q.tm(at))
	if err != nil {
		return false, fmt.Errorf("mark review notice %s for %s: %w", key, userID, q.writeErr(err))
	}
	return n == 1, nil
}

func (q *queries) ReviewNoticeMarked(ctx context.Context, tenantID, campaignID, userID, key string) (bool, error) {
	var n int
	err := q.queryRow(ctx, `SELECT COUNT(*) FROM review_notices WHERE tenant_id = ? AND campaign_id = ? AND user_id = ? AND notice = ?`,
		tenantID, campaignID, userID, key).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("read review notice %s for %s: %w", key, userID, err)
	}
	return n > 0, nil
}
