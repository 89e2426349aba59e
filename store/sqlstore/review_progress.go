package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

const reviewProgressCols = `tenant_id, campaign_id, reviewer_id, gen, sent_gen, claim, lease_until`

// leaseFree is the lease of a row no update holds yet.
var leaseFree = time.Unix(0, 0)

func (q *queries) BumpReviewProgress(ctx context.Context, tenantID, campaignID, reviewerID string) error {
	_, err := q.exec(ctx, `INSERT INTO review_progress (`+reviewProgressCols+`) VALUES (?, ?, ?, 1, 0, 0, ?)
		ON CONFLICT (tenant_id, campaign_id, reviewer_id) DO UPDATE SET gen = review_progress.gen + 1`,
		tenantID, campaignID, reviewerID, q.tm(leaseFree))
	if err != nil {
		return fmt.Errorf("bump review progress of %s: %w", reviewerID, q.writeErr(err))
	}
	return nil
}

// ClaimReviewProgress is a conditional update: of racing claims the one
// that updates first wins, the others (on PostgreSQL, after waiting for its
// row lock) find its lease running.
func (q *queries) ClaimReviewProgress(ctx context.Context, tenantID, campaignID, reviewerID string, now time.Time, lease time.Duration) (*store.ReviewProgress, bool, error) {
	now = Round(now)
	n, err := q.exec(ctx, `UPDATE review_progress SET claim = claim + 1, lease_until = ?
		WHERE tenant_id = ? AND campaign_id = ? AND reviewer_id = ? AND sent_gen < gen AND lease_until <= ?`,
		q.tm(now.Add(lease)), tenantID, campaignID, reviewerID, q.tm(now))
	if err != nil {
		return nil, false, fmt.Errorf("claim review progress of %s: %w", reviewerID, q.writeErr(err))
	}
	var p store.ReviewProgress
	var until dbTime
	err = q.queryRow(ctx, `SELECT `+reviewProgressCols+` FROM review_progress WHERE tenant_id = ? AND campaign_id = ? AND reviewer_id = ?`,
		tenantID, campaignID, reviewerID).Scan(&p.TenantID, &p.CampaignID, &p.ReviewerID, &p.Gen, &p.SentGen, &p.Claim, &until)
	if err != nil {
		return nil, false, fmt.Errorf("read review progress of %s: %w", reviewerID, notFound(err))
	}
	p.LeaseUntil = until.T
	return &p, n == 1, nil
}

func (q *queries) FinishReviewProgress(ctx context.Context, tenantID, campaignID, reviewerID string, claim, gen int64, sent bool, now time.Time) error {
	shown := int64(0) // raises nothing
	if sent {
		shown = gen
	}
	err := affected(q.exec(ctx, `UPDATE review_progress SET
		sent_gen = CASE WHEN sent_gen < ? THEN ? ELSE sent_gen END,
		lease_until = CASE WHEN claim = ? THEN ? ELSE lease_until END
		WHERE tenant_id = ? AND campaign_id = ? AND reviewer_id = ?`,
		shown, shown, claim, q.tm(now), tenantID, campaignID, reviewerID))
	if errors.Is(err, accessbot.ErrNotFound) {
		return nil // the campaign is gone, and its progress with it
	}
	if err != nil {
		return fmt.Errorf("finish review progress of %s: %w", reviewerID, q.writeErr(err))
	}
	return nil
}
