package reviews

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

// NominateInput hands one pending item to another person, with a reason.
type NominateInput struct {
	TenantID string
	ActorID  string
	ItemID   string
	ToUserID string
	Reason   string
}

// Nominate moves an item from its current reviewer (the actor) to another
// active user, audited with the reason; the nominee's delegate receives it
// when one is active. The nominee gets one message, committed with the
// nomination (see WithQueue). Refusals: *FieldErrors
// (no reason, unknown or terminated nominee, the actor themself, the
// person whose access it is), ErrNotReviewer, accessbot.ErrStale (decided).
func (s *Service) Nominate(ctx context.Context, in NominateInput) (*accessbot.ReviewItem, error) {
	now := s.now()
	in.Reason = strings.TrimSpace(in.Reason)
	var item accessbot.ReviewItem
	var camp *accessbot.Campaign
	var owed []notice
	err := s.st.InTx(ctx, func(q store.Queries) error {
		it, err := q.GetReviewItem(ctx, in.TenantID, in.ItemID)
		if err != nil {
			return err
		}
		if it.Status != accessbot.ReviewPending {
			return fmt.Errorf("item already %s: %w", it.Status, accessbot.ErrStale)
		}
		if it.ReviewerID != in.ActorID {
			return ErrNotReviewer
		}
		fe := FieldErrors{}
		if in.Reason == "" {
			fe[FieldReason] = "Say why you are handing this item on."
		} else if len([]rune(in.Reason)) > maxComment {
			fe[FieldReason] = fmt.Sprintf("Keep the reason under %d characters.", maxComment)
		}
		dir := newDirectory(q, in.TenantID, now)
		to, err := dir.user(ctx, in.ToUserID)
		if err != nil {
			return err
		}
		switch {
		case to == nil:
			fe[FieldNominee] = "Choose an active accessbot user."
		case to.ID == in.ActorID:
			fe[FieldNominee] = "Choose someone other than yourself."
		case to.ID == it.UserID:
			fe[FieldNominee] = "No one reviews their own access."
		}
		if len(fe) > 0 {
			return fe
		}
		rid, del, err := dir.delegate(ctx, to, nil)
		if err != nil {
			return err
		}
		if rid == it.UserID {
			rid, del = to.ID, nil
		}
		if c, err := q.GetCampaign(ctx, in.TenantID, it.CampaignID); err != nil {
			return err
		} else if c.Status != accessbot.CampaignActive {
			return fmt.Errorf("campaign %s: %w", c.Status, accessbot.ErrStale)
		} else {
			camp = c
		}
		if err := q.ReassignReviewItem(ctx, in.TenantID, it.ID, in.ActorID, rid, now); err != nil {
			return err
		}
		before := stateOf(it)
		it.ReviewerID = rid
		after := stateOf(it)
		after.Reason = in.Reason
		if err := audit(ctx, q, in.TenantID, now, in.ActorID, ActionNominated, AuditItem, it.ID, before, after); err != nil {
			return err
		}
		if del != nil {
			if err := audit(ctx, q, in.TenantID, now, actorSystem, ActionDelegated, AuditItem, it.ID,
				map[string]string{"reviewer_id": del.From}, map[string]string{"reviewer_id": del.To, "reason": "delegate of the nominee"}); err != nil {
				return err
			}
		}
		item = *it
		// The nominee's DM, and one item fewer in the nominator's.
		progress, err := s.owesProgress(ctx, q, in.TenantID, []string{camp.ID}, in.ActorID)
		if err != nil {
			return err
		}
		owed = append([]notice{nominated(camp, it, in.ActorID, in.Reason, now)}, progress...)
		return s.owe(ctx, q, owed)
	})
	if err != nil {
		if errors.As(err, new(FieldErrors)) {
			return nil, err
		}
		return nil, fmt.Errorf("nominate for item %s: %w", in.ItemID, err)
	}
	s.log.Info().Str("tenant", in.TenantID).Str("item", item.ID).Str("from", in.ActorID).Str("to", item.ReviewerID).Msg("review item nominated")
	s.deliver(ctx, in.TenantID, owed)
	return &item, nil
}

// PendingItems lists a reviewer's pending items in active campaigns,
// optionally of one campaign.
func (s *Service) PendingItems(ctx context.Context, tenantID, reviewerID, campaignID string) ([]accessbot.ReviewItem, error) {
	active, err := s.st.ListCampaigns(ctx, tenantID, accessbot.CampaignActive)
	if err != nil {
		return nil, fmt.Errorf("pending reviews of %s: %w", reviewerID, err)
	}
	ok := map[string]bool{}
	for _, c := range active {
		ok[c.ID] = true
	}
	items, err := s.st.ListReviewItems(ctx, tenantID, accessbot.ReviewItemFilter{CampaignID: campaignID, ReviewerID: reviewerID, Status: accessbot.ReviewPending})
	if err != nil {
		return nil, fmt.Errorf("pending reviews of %s: %w", reviewerID, err)
	}
	out := items[:0]
	for _, it := range items {
		if ok[it.CampaignID] {
			out = append(out, it)
		}
	}
	return out, nil
}

// PendingCount counts a reviewer's pending items in active campaigns (App Home).
func (s *Service) PendingCount(ctx context.Context, tenantID, reviewerID string) (int, error) {
	return s.st.CountPendingReviews(ctx, tenantID, reviewerID)
}

// Campaign reads one campaign of the tenant.
func (s *Service) Campaign(ctx context.Context, tenantID, id string) (*accessbot.Campaign, error) {
	return s.st.GetCampaign(ctx, tenantID, id)
}
