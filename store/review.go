package store

import (
	"context"
	"time"

	"github.com/accessbot/accessbot"
)

// Reviews persists access-review campaigns, their definitions, items,
// pending revocations and the one-shot notice log. Decisions and
// reassignments are conditional updates: of racing callers exactly one wins.
type Reviews interface {
	// ReplaceCampaignDefinitions makes defs the tenant's declared campaigns
	// (by name); launched campaigns are left alone.
	ReplaceCampaignDefinitions(ctx context.Context, tenantID string, defs []accessbot.CampaignDefinition) error
	ListCampaignDefinitions(ctx context.Context, tenantID string) ([]accessbot.CampaignDefinition, error)

	// CreateCampaign fails with ErrConflict when (Definition, Slot) was launched already.
	CreateCampaign(ctx context.Context, c *accessbot.Campaign) error
	GetCampaign(ctx context.Context, tenantID, id string) (*accessbot.Campaign, error)
	// ListCampaigns lists the tenant's campaigns with status ("" for all), oldest first.
	ListCampaigns(ctx context.Context, tenantID string, status accessbot.CampaignStatus) ([]accessbot.Campaign, error)
	// LastCampaignOf is the definition's latest launch; ErrNotFound when none.
	LastCampaignOf(ctx context.Context, tenantID, definition string) (*accessbot.Campaign, error)
	// CompleteCampaign moves an active campaign to completed; ErrStale when it is not active.
	CompleteCampaign(ctx context.Context, tenantID, id string, at time.Time) error

	// CreateReviewItems inserts items (ids and times filled in).
	CreateReviewItems(ctx context.Context, items []accessbot.ReviewItem) error
	GetReviewItem(ctx context.Context, tenantID, id string) (*accessbot.ReviewItem, error)
	// ListReviewItems returns matching items by campaign, level, subject, id.
	ListReviewItems(ctx context.Context, tenantID string, f accessbot.ReviewItemFilter) ([]accessbot.ReviewItem, error)
	// CountPendingReviews counts a reviewer's pending items across active campaigns.
	CountPendingReviews(ctx context.Context, tenantID, reviewerID string) (int, error)
	// DecideReviewItem records status (kept or revoked) only while the item
	// is pending and reviewerID is its reviewer; otherwise ErrStale
	// (ErrNotFound for an unknown id).
	DecideReviewItem(ctx context.Context, tenantID, id, reviewerID string, status accessbot.ReviewStatus, comment string, at time.Time) error
	// ReassignReviewItem moves a pending item from one reviewer to another; ErrStale as above.
	ReassignReviewItem(ctx context.Context, tenantID, id, fromReviewerID, toReviewerID string, at time.Time) error

	// CreateRevocation fails with ErrConflict for a second revocation of one item.
	CreateRevocation(ctx context.Context, r *accessbot.Revocation) error
	// ListRevocations lists the tenant's revocations for ownerID ("" for all), oldest first.
	ListRevocations(ctx context.Context, tenantID, ownerID string) ([]accessbot.Revocation, error)

	// MarkReviewNotice records that notice key (e.g. "remind:2026-03-27",
	// "escalate") went to userID about campaignID. first is false when it
	// was recorded before: the caller must not send it again.
	MarkReviewNotice(ctx context.Context, tenantID, campaignID, userID, key string, at time.Time) (first bool, err error)
	// ReviewNoticeMarked reports whether MarkReviewNotice recorded key.
	ReviewNoticeMarked(ctx context.Context, tenantID, campaignID, userID, key string) (bool, error)

	// BumpReviewProgress records, in the transaction of a change, that
	// reviewerID's pending count in campaignID changed: a new generation
	// for the updates of their review DMs to catch up with.
	BumpReviewProgress(ctx context.Context, tenantID, campaignID, reviewerID string) error
	// ClaimReviewProgress claims bringing reviewerID's review DMs about
	// campaignID up to date, until now+lease. It wins when a generation is
	// not shown yet and no other claim's lease runs; p.Gen is then the
	// generation the update catches up with. Losing, p says why: SentGen >=
	// Gen (up to date) or LeaseUntil (another update is under way).
	// ErrNotFound when nothing was ever bumped.
	ClaimReviewProgress(ctx context.Context, tenantID, campaignID, reviewerID string, now time.Time, lease time.Duration) (p *ReviewProgress, won bool, err error)
	// FinishReviewProgress ends claim at now: when sent, gen is recorded as
	// shown (what is recorded never goes down). A claim taken over since
	// (its lease ran out) leaves the newer claim's lease alone.
	FinishReviewProgress(ctx context.Context, tenantID, campaignID, reviewerID string, claim, gen int64, sent bool, now time.Time) error

	// PutReviewSettings creates or replaces the tenant's reminder timing.
	PutReviewSettings(ctx context.Context, s *accessbot.ReviewSettings) error
	// GetReviewSettings returns ErrNotFound when the tenant has none.
	GetReviewSettings(ctx context.Context, tenantID string) (*accessbot.ReviewSettings, error)
}

// ReviewProgress is where the updates of one reviewer's review DMs about a
// campaign stand: every change of their pending count bumps Gen, an update
// that showed the count as of Gen records SentGen, and one update at a
// time holds the claim (Claim counts them) until LeaseUntil, so an update
// that read an older count never lands after one that read a newer.
type ReviewProgress struct {
	TenantID   string
	CampaignID string
	ReviewerID string
	Gen        int64
	SentGen    int64
	Claim      int64
	LeaseUntil time.Time
}
