package handlers

import (
	"context"
	"fmt"
	"time"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/slackapi"
	"github.com/accessbot/accessbot/flows/reviews"
	"github.com/accessbot/accessbot/handlers/views"
)

// ReviewNotifierStore is what the review notifier reads.
type ReviewNotifierStore interface {
	deliveryStore
	WorkspaceByTenant(ctx context.Context, tenantID string) (*accessbot.Workspace, error)
	GetUser(ctx context.Context, tenantID, id string) (*accessbot.User, error)
	SaveMessageRef(ctx context.Context, m *accessbot.MessageRef) error
	ListMessageRefs(ctx context.Context, tenantID, objectID string) ([]accessbot.MessageRef, error)
	SlackIDStore // who to DM, without a lookup by email
}

// purposeReviewDM marks, under the campaign id, a reviewer's DMs that carry
// their pending count (assignment, reminders): Progress rewrites them.
const purposeReviewDM = "review_dm"

// ReviewNotifier tells reviewers, managers and application owners about
// access reviews in Slack DMs.
type ReviewNotifier struct {
	st      ReviewNotifierStore
	clients ChatClients
	log     zerolog.Logger
	out     *outbox

	now func() time.Time
	// dir finds reviewers' DMs from their stored Slack ids: a fan-out of
	// reminders would otherwise call users.lookupByEmail and
	// conversations.open (Tier 3, paced at about one a second) per reviewer.
	dir slackDirectory
}

var (
	_ reviews.Notifier         = (*ReviewNotifier)(nil)
	_ reviews.ProgressNotifier = (*ReviewNotifier)(nil)
)

// ReviewNotifierConfig wires a ReviewNotifier.
type ReviewNotifierConfig struct {
	Store   ReviewNotifierStore
	Clients ChatClients
	// Now is the clock of the delivery outbox; nil means time.Now.
	Now func() time.Time
	// Lease is how long one send may hold its delivery claim before a retry
	// takes it over (jobs.delivery_lease); <= 0 means DefaultDeliveryLease.
	Lease time.Duration
	// SlackIDMaxAge bounds how long a stored Slack id is trusted without a
	// new match of emails; <= 0 means DefaultSlackIDMaxAge.
	SlackIDMaxAge time.Duration
	Log           zerolog.Logger
}

// NewReviewNotifier builds the notifier.
func NewReviewNotifier(cfg ReviewNotifierConfig) *ReviewNotifier {
	n := &ReviewNotifier{st: cfg.Store, clients: cfg.Clients, log: cfg.Log.With().Str("component", "review_notifier").Logger()}
	now, lease := cfg.Now, cfg.Lease
	if now == nil {
		now = time.Now
	}
	n.now = now
	if lease <= 0 {
		lease = DefaultDeliveryLease
	}
	n.out = &outbox{st: cfg.Store, now: func() time.Time { return now().UTC() }, lease: lease, log: n.log}
	n.dir = newSlackDirectory(cfg.Store, now, cfg.SlackIDMaxAge, n.log)
	return n
}

// reviewKey names one review DM in the delivery outbox: the campaign, the
// slot (which assignment, reminder day or escalation) and the recipient.
func reviewKey(campaignID, slot, recipient string) string {
	return "review:" + campaignID + ":" + slot + ":" + recipient
}

// send DMs a tenant user exactly once per key (see once).
func (n *ReviewNotifier) send(ctx context.Context, tenantID, userID, key, text string, blocks []slack.Block) error {
	_, _, err := n.post(ctx, tenantID, userID, key, text, blocks)
	return err
}

// sendTracked DMs a reviewer about a campaign exactly once per key and
// remembers the message, so Progress can bring it up to date.
func (n *ReviewNotifier) sendTracked(ctx context.Context, c *accessbot.Campaign, userID, key, text string, blocks []slack.Block) error {
	ch, ts, err := n.post(ctx, c.TenantID, userID, key, text, blocks)
	if err != nil {
		return err
	}
	if err := n.st.SaveMessageRef(ctx, &accessbot.MessageRef{TenantID: c.TenantID, ObjectID: c.ID, Purpose: purposeReviewDM,
		UserID: userID, ChannelID: ch, TS: ts}); err != nil {
		return fmt.Errorf("remember the review DM to %s: %w", userID, err)
	}
	return nil
}

// Progress rewrites the reviewer's tracked DMs about c with what is left for
// them now, or that they are done, or that the review is closed.
func (n *ReviewNotifier) Progress(ctx context.Context, c *accessbot.Campaign, reviewerID string, pending int) error {
	refs, err := n.st.ListMessageRefs(ctx, c.TenantID, c.ID)
	if err != nil {
		return fmt.Errorf("review DMs of %s: %w", reviewerID, err)
	}
	var mine []accessbot.MessageRef
	for _, r := range refs {
		if r.Purpose == purposeReviewDM && r.UserID == reviewerID {
			mine = append(mine, r)
		}
	}
	if len(mine) == 0 {
		return nil
	}
	ws, err := n.st.WorkspaceByTenant(ctx, c.TenantID)
	if err != nil {
		return fmt.Errorf("find the Slack workspace of tenant %s: %w", c.TenantID, err)
	}
	cl, err := n.clients.For(ctx, ws.TeamID)
	if err != nil {
		return fmt.Errorf("slack client for team %s: %w", ws.TeamID, err)
	}
	text, blocks := views.ReviewProgressMessage(c.ID, c.Name, c.DueAt, pending, c.Status == accessbot.CampaignActive)
	var errs []error
	for _, r := range mine {
		if err := updateMessage(ctx, cl, r.ChannelID, r.TS, slackapi.Message{Text: text, Blocks: blocks}); err != nil {
			errs = append(errs, fmt.Errorf("update review DM %s/%s: %w", r.ChannelID, r.TS, err))
		}
	}
	return joinErrs(errs)
}

// post DMs a tenant user through the outbox, sent once per key however
// often it is retried, and returns where the message went.
func (n *ReviewNotifier) post(ctx context.Context, tenantID, userID, key, text string, blocks []slack.Block) (string, string, error) {
	ws, err := n.st.WorkspaceByTenant(ctx, tenantID)
	if err != nil {
		return "", "", fmt.Errorf("find the Slack workspace of tenant %s: %w", tenantID, err)
	}
	cl, err := n.clients.For(ctx, ws.TeamID)
	if err != nil {
		return "", "", fmt.Errorf("slack client for team %s: %w", ws.TeamID, err)
	}
	u, err := n.st.GetUser(ctx, tenantID, userID)
	if err != nil {
		return "", "", fmt.Errorf("load user %s: %w", userID, err)
	}
	// Read before the claim, so the post's time goes to Slack calls only.
	known, err := n.dir.stored(ctx, ws.TeamID, u)
	if err != nil {
		return "", "", fmt.Errorf("DM %s: %w", userID, err)
	}
	to, after := n.dir.deliveryFrom(cl, ws.TeamID, u, known)
	ch, ts, err := n.out.once(ctx, cl, tenantID, delivery{key: key, to: to, after: after, msg: slackapi.Message{Text: text, Blocks: blocks}})
	if err != nil {
		return "", "", fmt.Errorf("DM %s: %w", userID, err)
	}
	n.log.Debug().Str("tenant", tenantID).Str("user", userID).Str("key", key).Msg("review DM sent")
	return ch, ts, nil
}

func (n *ReviewNotifier) name(ctx context.Context, tenantID, userID string) string {
	u, err := n.st.GetUser(ctx, tenantID, userID)
	if err != nil {
		return "someone"
	}
	if u.Name != "" {
		return u.Name
	}
	return u.Email
}

// Assigned sends the one "you have N items" DM with "Review now".
func (n *ReviewNotifier) Assigned(ctx context.Context, a reviews.Assignment) error {
	dm := views.ReviewDM{CampaignID: a.Campaign.ID, Campaign: a.Campaign.Name, Due: a.Campaign.DueAt, Items: a.Items,
		Pending: a.Pending, ByApp: a.ByApp, Reason: string(a.Reason), Note: a.Note}
	if a.FromUserID != "" {
		dm.From = n.name(ctx, a.Campaign.TenantID, a.FromUserID)
	}
	if a.Slot == "" {
		return fmt.Errorf("review assignment DM to %s: no slot to send it once by", a.ReviewerID)
	}
	text, blocks := views.ReviewAssignedMessage(dm)
	return n.sendTracked(ctx, &a.Campaign, a.ReviewerID, reviewKey(a.Campaign.ID, "assigned:"+a.Slot, a.ReviewerID), text, blocks)
}

func (n *ReviewNotifier) Remind(ctx context.Context, c *accessbot.Campaign, reviewerID, slot string, pending int, overdue bool) error {
	if slot == "" {
		return fmt.Errorf("review reminder to %s: no slot to send it once by", reviewerID)
	}
	text, blocks := views.ReviewReminderMessage(c.ID, c.Name, c.DueAt, pending, overdue)
	return n.sendTracked(ctx, c, reviewerID, reviewKey(c.ID, slot, reviewerID), text, blocks)
}

func (n *ReviewNotifier) Escalated(ctx context.Context, c *accessbot.Campaign, reviewerID string, pending int, toIDs []string) error {
	text, blocks := views.ReviewEscalationMessage(c.Name, c.DueAt, n.name(ctx, c.TenantID, reviewerID), pending)
	var errs []error
	for _, to := range toIDs {
		// One escalation per late reviewer and campaign (the flow's notice).
		if err := n.send(ctx, c.TenantID, to, reviewKey(c.ID, "escalate:"+reviewerID, to), text, blocks); err != nil {
			errs = append(errs, err)
		}
	}
	return joinErrs(errs)
}

func (n *ReviewNotifier) RevocationRequested(ctx context.Context, c *accessbot.Campaign, ownerID string, items []accessbot.ReviewItem) error {
	lines := make([]views.RevokedLine, 0, len(items))
	for _, it := range items {
		lines = append(lines, views.RevokedLine{Subject: it.Subject, App: it.AppName, Entitlement: it.EntitlementName,
			By: n.name(ctx, c.TenantID, it.DecidedBy), Comment: it.Comment})
	}
	if len(items) == 0 {
		return nil
	}
	text, blocks := views.RevocationMessage(c.Name, lines)
	// An item is revoked once: its batch's first item names the batch.
	return n.send(ctx, c.TenantID, ownerID, reviewKey(c.ID, "revoke:"+items[0].ID, ownerID), text, blocks)
}

func joinErrs(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%d of the DMs failed, first: %w", len(errs), errs[0])
}
