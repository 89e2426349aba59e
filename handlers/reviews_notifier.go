package handlers

import (
	"context"
	"fmt"
	"sync"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/slackapi"
	"github.com/accessbot/accessbot/flows/reviews"
	"github.com/accessbot/accessbot/handlers/views"
)

// ReviewNotifierStore is what the review notifier reads.
type ReviewNotifierStore interface {
	WorkspaceByTenant(ctx context.Context, tenantID string) (*accessbot.Workspace, error)
	GetUser(ctx context.Context, tenantID, id string) (*accessbot.User, error)
	SaveMessageRef(ctx context.Context, m *accessbot.MessageRef) error
	ListMessageRefs(ctx context.Context, tenantID, objectID string) ([]accessbot.MessageRef, error)
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

	mu       sync.Mutex
	slackIDs map[string]string // team|email → Slack user id
}

var (
	_ reviews.Notifier         = (*ReviewNotifier)(nil)
	_ reviews.ProgressNotifier = (*ReviewNotifier)(nil)
)

// NewReviewNotifier builds the notifier.
func NewReviewNotifier(st ReviewNotifierStore, clients ChatClients, log zerolog.Logger) *ReviewNotifier {
	return &ReviewNotifier{st: st, clients: clients, slackIDs: map[string]string{}, log: log.With().Str("component", "review_notifier").Logger()}
}

// send DMs a tenant user.
func (n *ReviewNotifier) send(ctx context.Context, tenantID, userID, text string, blocks []slack.Block) error {
	_, _, err := n.post(ctx, tenantID, userID, text, blocks)
	return err
}

// sendTracked DMs a reviewer about a campaign and remembers the message, so
// Progress can bring it up to date.
func (n *ReviewNotifier) sendTracked(ctx context.Context, c *accessbot.Campaign, userID, text string, blocks []slack.Block) error {
	ch, ts, err := n.post(ctx, c.TenantID, userID, text, blocks)
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
		if err := cl.UpdateMessage(ctx, r.ChannelID, r.TS, slackapi.Message{Text: text, Blocks: blocks}); err != nil {
			errs = append(errs, fmt.Errorf("update review DM %s/%s: %w", r.ChannelID, r.TS, err))
		}
	}
	return joinErrs(errs)
}

// post DMs a tenant user and returns where the message went.
func (n *ReviewNotifier) post(ctx context.Context, tenantID, userID, text string, blocks []slack.Block) (string, string, error) {
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
	key := ws.TeamID + "|" + accessbot.NormalizeEmail(u.Email)
	n.mu.Lock()
	sid, ok := n.slackIDs[key]
	n.mu.Unlock()
	if !ok {
		su, err := cl.GetUserByEmail(ctx, u.Email)
		if err != nil {
			return "", "", fmt.Errorf("find Slack user of %s: %w", userID, err)
		}
		sid = su.ID
		n.mu.Lock()
		n.slackIDs[key] = sid
		n.mu.Unlock()
	}
	ch, err := cl.OpenConversation(ctx, sid)
	if err != nil {
		return "", "", fmt.Errorf("open DM with %s: %w", userID, err)
	}
	ch, ts, err := cl.PostMessage(ctx, ch, slackapi.Message{Text: text, Blocks: blocks})
	if err != nil {
		return "", "", fmt.Errorf("DM %s: %w", userID, err)
	}
	n.log.Debug().Str("tenant", tenantID).Str("user", userID).Msg("review DM sent")
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
	text, blocks := views.ReviewAssignedMessage(dm)
	return n.sendTracked(ctx, &a.Campaign, a.ReviewerID, text, blocks)
}

func (n *ReviewNotifier) Remind(ctx context.Context, c *accessbot.Campaign, reviewerID string, pending int, overdue bool) error {
	text, blocks := views.ReviewReminderMessage(c.ID, c.Name, c.DueAt, pending, overdue)
	return n.sendTracked(ctx, c, reviewerID, text, blocks)
}

func (n *ReviewNotifier) Escalated(ctx context.Context, c *accessbot.Campaign, reviewerID string, pending int, toIDs []string) error {
	text, blocks := views.ReviewEscalationMessage(c.Name, c.DueAt, n.name(ctx, c.TenantID, reviewerID), pending)
	var errs []error
	for _, to := range toIDs {
		if err := n.send(ctx, c.TenantID, to, text, blocks); err != nil {
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
	text, blocks := views.RevocationMessage(c.Name, lines)
	return n.send(ctx, c.TenantID, ownerID, text, blocks)
}

func joinErrs(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%d of the DMs failed, first: %w", len(errs), errs[0])
}
