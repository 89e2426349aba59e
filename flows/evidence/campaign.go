// Package evidence gathers what auditors ask for (SOC 2, ISO 27001): a
// campaign's progress and every item's decision with the revocation's
// outcome, every request with its chain, decisions, provisioning and end.
// It only reads the store; handlers show it in Slack and the report command
// writes it as CSV or PDF (package report).
package evidence

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/provision"
	"github.com/accessbot/accessbot/store"
)

// ErrNoCampaign: no campaign has that name or id.
var ErrNoCampaign = errors.New("no campaign has that name")

// FindCampaign returns the campaign with id nameOrID, or the latest launch
// named so (case-insensitive).
func FindCampaign(ctx context.Context, st store.Queries, tenantID, nameOrID string) (*accessbot.Campaign, error) {
	if c, err := st.GetCampaign(ctx, tenantID, nameOrID); err == nil {
		return c, nil
	}
	all, err := st.ListCampaigns(ctx, tenantID, "")
	if err != nil {
		return nil, fmt.Errorf("find campaign %q: %w", nameOrID, err)
	}
	var found *accessbot.Campaign
	for i := range all {
		if strings.EqualFold(all[i].Name, strings.TrimSpace(nameOrID)) && (found == nil || !all[i].LaunchedAt.Before(found.LaunchedAt)) {
			found = &all[i]
		}
	}
	if found == nil {
		return nil, fmt.Errorf("campaign %q: %w", nameOrID, ErrNoCampaign)
	}
	return found, nil
}

// ReviewerLevel counts one reviewer's items at one level.
type ReviewerLevel struct {
	Level            int // 0-based
	ReviewerID       string
	Reviewer         string
	Decided, Pending int
	Escalated        bool // the late reviewer was escalated
}

// Revocation outcomes.
const (
	OutcomeDeprovisioned = "deprovisioned"           // the deprovisioning flow finished
	OutcomeInProgress    = "pending in provisioning" // the flow is running or waiting
	OutcomeFailed        = "deprovisioning failed"
	OutcomeOwner         = "pending with the owner" // no chain: the owner removes it by hand
	OutcomeOwnerDone     = "removed by the owner"
)

// Progress is a campaign's state for its owners and admins.
type Progress struct {
	Campaign         *accessbot.Campaign
	Decided, Pending int
	Kept, Revoked    int
	ByReviewer       []ReviewerLevel // by level, then reviewer name
	Overdue          bool
	OverdueReviewers []string // names of reviewers with pending items past the due date
	Escalated        []string // names of reviewers escalated
	// Revocations counts revoked items by outcome.
	Revocations map[string]int
}

// ItemRow is one review item as evidence.
type ItemRow struct {
	Item      accessbot.ReviewItem
	Reviewer  string
	DecidedBy string
	// Assignment says how the reviewer got the item: "", "nominated by X:
	// reason" or "delegate of X".
	Assignment string
	Outcome    string // for revoked items
	FlowID     string
}

// CampaignItems returns every item of the campaign with who decided it,
// how it was assigned and, for revoked ones, the revocation's outcome.
func CampaignItems(ctx context.Context, st store.Queries, tenantID string, c *accessbot.Campaign) ([]ItemRow, error) {
	items, err := st.ListReviewItems(ctx, tenantID, accessbot.ReviewItemFilter{CampaignID: c.ID})
	if err != nil {
		return nil, fmt.Errorf("items of campaign %s: %w", c.Name, err)
	}
	names := newNames(st, tenantID)
	revs, err := st.ListRevocations(ctx, tenantID, "")
	if err != nil {
		return nil, fmt.Errorf("revocations of campaign %s: %w", c.Name, err)
	}
	revByItem := map[string]accessbot.Revocation{}
	for _, r := range revs {
		if r.CampaignID == c.ID {
			revByItem[r.ItemID] = r
		}
	}
	flows, err := reviewFlows(ctx, st, tenantID, c.ID)
	if err != nil {
		return nil, err
	}
	out := make([]ItemRow, 0, len(items))
	for _, it := range items {
		row := ItemRow{Item: it, Reviewer: names.of(ctx, it.ReviewerID), DecidedBy: names.of(ctx, it.DecidedBy)}
		audit, err := st.ListAudit(ctx, tenantID, it.ID)
		if err != nil {
			return nil, fmt.Errorf("audit of item %s: %w", it.ID, err)
		}
		row.Assignment = assignment(ctx, names, audit)
		if it.Status == accessbot.ReviewRevoked {
			row.Outcome, row.FlowID = outcome(ctx, st, tenantID, it, revByItem[it.ID], flows)
		}
		out = append(out, row)
	}
	return out, nil
}

// assignment reads nominations and delegations from an item's audit.
func assignment(ctx context.Context, names *names, audit []accessbot.AuditEntry) string {
	var parts []string
	for _, e := range audit {
		var before, after struct {
			ReviewerID string `json:"reviewer_id"`
			Reason     string `json:"reason"`
		}
		_ = json.Unmarshal(e.Before, &before)
		_ = json.Unmarshal(e.After, &after)
		switch e.Action {
		case "review.nominated":
			s := "nominated by " + names.of(ctx, e.ActorID)
			if after.Reason != "" {
				s += ": " + after.Reason
			}
			parts = append(parts, s)
		case "review.delegated":
			parts = append(parts, "delegate of "+names.of(ctx, before.ReviewerID))
		}
	}
	return strings.Join(parts, "; ")
}

// reviewFlows are the deprovisioning flows a campaign's revocations started.
func reviewFlows(ctx context.Context, st store.Queries, tenantID, campaignID string) ([]accessbot.ActionFlow, error) {
	all, err := st.ListActionFlowsByStatus(ctx, tenantID, []accessbot.FlowStatus{accessbot.FlowPending, accessbot.FlowRunning,
		accessbot.FlowWaiting, accessbot.FlowDone, accessbot.FlowFailed, accessbot.FlowCancelled}, 0)
	if err != nil {
		return nil, fmt.Errorf("flows of campaign %s: %w", campaignID, err)
	}
	var out []accessbot.ActionFlow
	for _, f := range all {
		if f.Direction == string(provision.Deprovision) && f.Reason == "revoked in access review "+campaignID {
			out = append(out, f)
		}
	}
	return out, nil
}

// outcome is where a revoked item's removal stands: its deprovisioning
// flow (the one for the item's person, application and entitlement name),
// else the owner's manual revocation.
func outcome(ctx context.Context, st store.Queries, tenantID string, it accessbot.ReviewItem, rev accessbot.Revocation, flows []accessbot.ActionFlow) (string, string) {
	for _, f := range flows {
		if f.UserID != it.UserID || f.AppID != it.AppID || it.UserID == "" {
			continue
		}
		if c, err := st.GetConnection(ctx, tenantID, f.ConnectionID); err != nil || !strings.EqualFold(c.Name, it.EntitlementName) {
			continue
		}
		switch f.Status {
		case accessbot.FlowDone:
			return OutcomeDeprovisioned, f.ID
		case accessbot.FlowFailed, accessbot.FlowCancelled:
			return OutcomeFailed, f.ID
		}
		return OutcomeInProgress, f.ID
	}
	if rev.Status == accessbot.RevocationDone {
		return OutcomeOwnerDone, ""
	}
	return OutcomeOwner, ""
}

// CampaignProgress counts a campaign's items at now: decided and pending by
// reviewer and level, late and escalated reviewers, revocation outcomes.
func CampaignProgress(ctx context.Context, st store.Queries, tenantID string, c *accessbot.Campaign, now time.Time) (*Progress, error) {
	rows, err := CampaignItems(ctx, st, tenantID, c)
	if err != nil {
		return nil, err
	}
	p := &Progress{Campaign: c, Revocations: map[string]int{}, Overdue: c.Status == accessbot.CampaignActive && now.After(c.DueAt)}
	type key struct {
		level    int
		reviewer string
	}
	by := map[key]*ReviewerLevel{}
	late := map[string]bool{}
	for _, r := range rows {
		k := key{r.Item.Level, r.Item.ReviewerID}
		rl := by[k]
		if rl == nil {
			rl = &ReviewerLevel{Level: r.Item.Level, ReviewerID: r.Item.ReviewerID, Reviewer: r.Reviewer}
			by[k] = rl
		}
		switch r.Item.Status {
		case accessbot.ReviewPending:
			rl.Pending++
			p.Pending++
			if p.Overdue && !late[r.Item.ReviewerID] {
				late[r.Item.ReviewerID] = true
				p.OverdueReviewers = append(p.OverdueReviewers, r.Reviewer)
			}
		case accessbot.ReviewKept:
			rl.Decided++
			p.Decided++
			p.Kept++
		case accessbot.ReviewRevoked:
			rl.Decided++
			p.Decided++
			p.Revoked++
			p.Revocations[r.Outcome]++
		}
	}
	escalated := map[string]bool{}
	for _, rl := range by {
		if _, done := escalated[rl.ReviewerID]; !done {
			marked, err := st.ReviewNoticeMarked(ctx, tenantID, c.ID, rl.ReviewerID, "escalate")
			if err != nil {
				return nil, fmt.Errorf("escalation of %s: %w", rl.ReviewerID, err)
			}
			escalated[rl.ReviewerID] = marked
			if marked {
				p.Escalated = append(p.Escalated, rl.Reviewer)
			}
		}
		rl.Escalated = escalated[rl.ReviewerID]
		p.ByReviewer = append(p.ByReviewer, *rl)
	}
	sort.Slice(p.ByReviewer, func(i, j int) bool {
		a, b := p.ByReviewer[i], p.ByReviewer[j]
		if a.Level != b.Level {
			return a.Level < b.Level
		}
		return a.Reviewer < b.Reviewer
	})
	sort.Strings(p.OverdueReviewers)
	sort.Strings(p.Escalated)
	return p, nil
}

// names caches user names; a gone user (or "system") is its id.
type names struct {
	st       store.Queries
	tenantID string
	m        map[string]string
}

func newNames(st store.Queries, tenantID string) *names {
	return &names{st: st, tenantID: tenantID, m: map[string]string{}}
}

func (n *names) of(ctx context.Context, id string) string {
	if id == "" {
		return ""
	}
	if v, ok := n.m[id]; ok {
		return v
	}
	v := id
	if u, err := n.st.GetUser(ctx, n.tenantID, id); err == nil {
		v = u.Name
		if v == "" {
			v = u.Email
		}
	}
	n.m[id] = v
	return v
}
