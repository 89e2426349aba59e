package reviews

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/grants"
	"github.com/accessbot/accessbot/store"
)

// ItemDecision is one Keep or Revoke with an optional comment.
type ItemDecision struct {
	ItemID   string
	Decision accessbot.ReviewDecision
	Comment  string
}

// DecideInput is a batch of decisions by one reviewer (one modal page, or
// "Keep all remaining").
type DecideInput struct {
	TenantID  string
	ActorID   string
	Decisions []ItemDecision
}

// Refusal says why one decision of a batch was not recorded.
type Refusal struct {
	ItemID string
	// Err wraps ErrNotReviewer (someone else reviews it now), accessbot.ErrStale
	// (already decided, or the campaign completed) or accessbot.ErrNotFound.
	Err error
	// DecidedBy and Status say who decided it first, when it was decided.
	DecidedBy string
	Status    accessbot.ReviewStatus
}

// DecideResult lists what was recorded and what was refused.
type DecideResult struct {
	Decided []accessbot.ReviewItem
	Refused []Refusal
	// Next are the next-level items created for what was kept.
	Next []accessbot.ReviewItem
}

const maxComment = 500

// Decide records each decision that is still the actor's to make, in one
// transaction: a Keep creates the item's next-level item (when the
// campaign has one), a Revoke records a pending revocation for the
// application owner. Decisions that are no longer the actor's are refused
// one by one and do not stop the others. The next level's reviewers get one
// message each, owners one per campaign for what is left to them by hand,
// and the decider's DMs show what they have left: notices committed with
// the decisions (see WithQueue).
func (s *Service) Decide(ctx context.Context, in DecideInput) (*DecideResult, error) {
	now := s.now()
	res := &DecideResult{}
	var owed []notice
	campaigns := map[string]*accessbot.Campaign{}
	err := s.st.InTx(ctx, func(q store.Queries) error {
		*res = DecideResult{}
		revoked := map[string][]accessbot.ReviewItem{}
		dir := newDirectory(q, in.TenantID, now)
		for _, d := range in.Decisions {
			var status accessbot.ReviewStatus
			switch d.Decision {
			case accessbot.DecisionKeep:
				status = accessbot.ReviewKept
			case accessbot.DecisionRevoke:
				status = accessbot.ReviewRevoked
			default:
				return fmt.Errorf("decide item %s: %w: decision %q", d.ItemID, accessbot.ErrInvalid, d.Decision)
			}
			comment := strings.TrimSpace(d.Comment)
			if r := []rune(comment); len(r) > maxComment {
				comment = string(r[:maxComment])
			}
			it, err := q.GetReviewItem(ctx, in.TenantID, d.ItemID)
			if errors.Is(err, accessbot.ErrNotFound) {
				res.Refused = append(res.Refused, Refusal{ItemID: d.ItemID, Err: err})
				continue
			}
			if err != nil {
				return err
			}
			c, err := campaignOf(ctx, q, campaigns, in.TenantID, it.CampaignID)
			if err != nil {
				return err
			}
			if c.Status != accessbot.CampaignActive {
				res.Refused = append(res.Refused, Refusal{ItemID: it.ID, Err: fmt.Errorf("campaign %s is %s: %w", c.ID, c.Status, accessbot.ErrStale), Status: it.Status, DecidedBy: it.DecidedBy})
				continue
			}
			err = q.DecideReviewItem(ctx, in.TenantID, it.ID, in.ActorID, status, comment, now)
			if errors.Is(err, accessbot.ErrStale) || errors.Is(err, accessbot.ErrNotFound) {
				res.Refused = append(res.Refused, refusal(ctx, q, in, it.ID))
				continue
			}
			if err != nil {
				return err
			}
			before := stateOf(it)
			it.Status, it.Comment, it.DecidedBy, it.DecidedAt = status, comment, in.ActorID, &now
			action := ActionKept
			if status == accessbot.ReviewRevoked {
				action = ActionRevoked
			}
			if err := audit(ctx, q, in.TenantID, now, in.ActorID, action, AuditItem, it.ID, before, stateOf(it)); err != nil {
				return err
			}
			res.Decided = append(res.Decided, *it)
			if s.decided != nil {
				if err := s.decided(ctx, q, *it); err != nil {
					return fmt.Errorf("decide item %s: %w", it.ID, err)
				}
			}
			switch {
			case status == accessbot.ReviewRevoked:
				app, err := dir.app(ctx, it.AppID)
				if err != nil {
					return err
				}
				owner := app.PrimaryOwnerID
				if u, err := dir.user(ctx, owner); err != nil {
					return err
				} else if u == nil {
					owner = app.SecondaryOwnerID
				}
				if err := q.CreateRevocation(ctx, &accessbot.Revocation{ID: newID(), TenantID: in.TenantID, ItemID: it.ID,
					CampaignID: it.CampaignID, AppID: it.AppID, IdentityID: it.IdentityID, EntitlementID: it.EntitlementID,
					OwnerID: owner, Status: accessbot.RevocationPending, CreatedAt: now}); err != nil {
					return err
				}
				started, err := s.deprovision(ctx, q, it)
				if err != nil {
					return err
				}
				if !started {
					revoked[owner] = append(revoked[owner], *it)
				}
			case it.Level+1 < len(c.Levels):
				next, err := s.nextLevel(ctx, q, dir, c, it, now)
				if err != nil {
					return err
				}
				res.Next = append(res.Next, next)
			}
		}
		// Completed campaigns stop reminding.
		for _, c := range campaigns {
			left, err := q.ListReviewItems(ctx, in.TenantID, accessbot.ReviewItemFilter{CampaignID: c.ID, Status: accessbot.ReviewPending, Limit: 1})
			if err != nil {
				return err
			}
			if len(left) == 0 && c.Status == accessbot.CampaignActive {
				if err := q.CompleteCampaign(ctx, in.TenantID, c.ID, now); err != nil && !errors.Is(err, accessbot.ErrStale) {
					return err
				}
				c.Status, c.CompletedAt = accessbot.CampaignCompleted, &now
				if err := audit(ctx, q, in.TenantID, now, actorSystem, ActionCompleted, AuditCampaign, c.ID, nil, map[string]string{"status": string(c.Status)}); err != nil {
					return err
				}
			}
		}
		owed = s.revocations(revoked)
		byCampaign := map[string][]accessbot.ReviewItem{}
		for _, it := range res.Next {
			byCampaign[it.CampaignID] = append(byCampaign[it.CampaignID], it)
		}
		for cid, its := range byCampaign {
			owed = append(owed, assigned(campaigns[cid], its, AssignNextLevel)...)
		}
		// The decider has fewer items left in each campaign they decided in.
		var decidedIn []string
		for _, it := range res.Decided {
			if !slices.Contains(decidedIn, it.CampaignID) {
				decidedIn = append(decidedIn, it.CampaignID)
			}
		}
		progress, err := s.owesProgress(ctx, q, in.TenantID, decidedIn, in.ActorID)
		if err != nil {
			return err
		}
		owed = append(owed, progress...)
		return s.owe(ctx, q, owed)
	})
	if err != nil {
		return nil, fmt.Errorf("decide review items: %w", err)
	}
	s.log.Info().Str("tenant", in.TenantID).Str("actor", in.ActorID).Int("decided", len(res.Decided)).
		Int("refused", len(res.Refused)).Int("next_level", len(res.Next)).Msg("review decisions")
	s.deliver(ctx, in.TenantID, owed)
	return res, nil
}

// deprovision starts the deprovisioning chain of a revoked item inside the
// decision's transaction q, so the decision and the flow (with its first
// job) commit together: a crash cannot keep one and lose the other. It
// reports false when no chain can end it (no connection matches the
// access, or no Revoker): the owner then removes it by hand. Any other
// error undoes the decision.
func (s *Service) deprovision(ctx context.Context, q store.Queries, it *accessbot.ReviewItem) (bool, error) {
	if s.revoke == nil {
		return false, nil
	}
	flow, err := s.revoke.RevokeAccessTx(ctx, q, it.TenantID, it.AppID, it.UserID, it.EntitlementID, it.DecidedBy, "revoked in access review "+it.CampaignID)
	if errors.Is(err, grants.ErrNoGrant) {
		s.log.Info().Err(err).Str("tenant", it.TenantID).Str("item", it.ID).Msg("revoked access left to the application owner")
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("start deprovisioning of review item %s: %w", it.ID, err)
	}
	s.log.Info().Str("tenant", it.TenantID).Str("item", it.ID).Str("flow", flow).Msg("revoked access: deprovisioning started")
	return true, nil
}

func campaignOf(ctx context.Context, q store.Queries, cache map[string]*accessbot.Campaign, tenantID, id string) (*accessbot.Campaign, error) {
	if c, ok := cache[id]; ok {
		return c, nil
	}
	c, err := q.GetCampaign(ctx, tenantID, id)
	if err != nil {
		return nil, err
	}
	cache[id] = c
	return c, nil
}

// refusal explains a lost conditional update from the item as it is now.
func refusal(ctx context.Context, q store.Queries, in DecideInput, id string) Refusal {
	it, err := q.GetReviewItem(ctx, in.TenantID, id)
	if err != nil {
		return Refusal{ItemID: id, Err: err}
	}
	r := Refusal{ItemID: id, Status: it.Status, DecidedBy: it.DecidedBy}
	switch {
	case it.Status == accessbot.ReviewPending && it.ReviewerID != in.ActorID:
		r.Err = fmt.Errorf("item %s: %w", id, ErrNotReviewer)
	case it.Status != accessbot.ReviewPending && it.DecidedBy != in.ActorID && it.ReviewerID != in.ActorID:
		r.Err = fmt.Errorf("item %s: %w", id, ErrNotReviewer)
	default:
		r.Err = fmt.Errorf("item %s already %s: %w", id, it.Status, accessbot.ErrStale)
	}
	return r
}

// nextLevel creates the item the next level reviews after a Keep.
func (s *Service) nextLevel(ctx context.Context, q store.Queries, dir *directory, c *accessbot.Campaign, it *accessbot.ReviewItem, now time.Time) (accessbot.ReviewItem, error) {
	var emp *accessbot.User
	if it.UserID != "" {
		u, err := dir.user(ctx, it.UserID)
		if err != nil {
			return accessbot.ReviewItem{}, err
		}
		if u == nil { // terminated: still the employee whose access is reviewed
			if u, err = q.GetUser(ctx, it.TenantID, it.UserID); err != nil && !errors.Is(err, accessbot.ErrNotFound) {
				return accessbot.ReviewItem{}, err
			}
		}
		emp = u
	}
	level := it.Level + 1
	rid, del, err := dir.reviewer(ctx, c.Levels[level], it.AppID, emp)
	if err != nil {
		return accessbot.ReviewItem{}, fmt.Errorf("reviewer of level %d for item %s: %w", level+1, it.ID, err)
	}
	next := *it
	next.ID, next.Level, next.ParentID, next.ReviewerID = newID(), level, it.ID, rid
	next.Status, next.Comment, next.DecidedBy, next.DecidedAt = accessbot.ReviewPending, "", "", nil
	next.CreatedAt, next.UpdatedAt = now, now
	if err := q.CreateReviewItems(ctx, []accessbot.ReviewItem{next}); err != nil {
		return accessbot.ReviewItem{}, err
	}
	if del != nil {
		if err := audit(ctx, q, it.TenantID, now, actorSystem, ActionDelegated, AuditItem, next.ID,
			map[string]string{"reviewer_id": del.From}, map[string]string{"reviewer_id": del.To, "reason": "delegate of the reviewer"}); err != nil {
			return accessbot.ReviewItem{}, err
		}
	}
	return next, nil
}
