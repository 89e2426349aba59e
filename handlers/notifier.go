package handlers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/slackapi"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/handlers/views"
	"github.com/accessbot/accessbot/store"
)

// ChatAPI is the part of a workspace's Web API the notifier uses;
// *slackapi.Client has it.
type ChatAPI interface {
	PostMessage(ctx context.Context, channelID string, m slackapi.Message) (channel, ts string, err error)
	UpdateMessage(ctx context.Context, channelID, ts string, m slackapi.Message) error
	OpenConversation(ctx context.Context, userIDs ...string) (string, error)
	GetUserByEmail(ctx context.Context, email string) (*slack.User, error)
	// FindDelivery returns the ts of the message tagged with delivery key
	// (slackapi.Message.DeliveryKey) in the channel, or the thread, posted
	// since then; "" if there is none.
	FindDelivery(ctx context.Context, channelID, threadTS, key string, since time.Time) (string, error)
}

var _ ChatAPI = (*slackapi.Client)(nil)

// ChatClients hands out a workspace's ChatAPI.
type ChatClients interface {
	For(ctx context.Context, teamID string) (ChatAPI, error)
}

// ChatClientsFunc adapts a function to ChatClients.
type ChatClientsFunc func(ctx context.Context, teamID string) (ChatAPI, error)

func (f ChatClientsFunc) For(ctx context.Context, teamID string) (ChatAPI, error) {
	return f(ctx, teamID)
}

// SlackChatClients adapts *slackapi.Clients.
func SlackChatClients(c *slackapi.Clients) ChatClients {
	return ChatClientsFunc(func(ctx context.Context, teamID string) (ChatAPI, error) {
		cl, err := c.For(ctx, teamID)
		if err != nil {
			return nil, err
		}
		return cl, nil
	})
}

// NotifierStore is what the notifier reads and writes.
type NotifierStore interface {
	cardStore
	// GetRequest re-reads a request right before its messages are written (see sync).
	GetRequest(ctx context.Context, tenantID, id string) (*accessbot.AccessRequest, error)
	WorkspaceByTenant(ctx context.Context, tenantID string) (*accessbot.Workspace, error)
	ListUsers(ctx context.Context, tenantID string) ([]accessbot.User, error) // admins, for Fulfilment
	GetEntitlement(ctx context.Context, tenantID, id string) (*accessbot.Entitlement, error)
	SaveMessageRef(ctx context.Context, m *accessbot.MessageRef) error
	ListMessageRefs(ctx context.Context, tenantID, objectID string) ([]accessbot.MessageRef, error)
	// The delivery outbox, so a retried job posts nothing twice.
	ClaimDelivery(ctx context.Context, tenantID, key string, now time.Time, lease time.Duration) (*store.Delivery, bool, error)
	CompleteDelivery(ctx context.Context, tenantID, key, channelID, ts string, now time.Time) error
	ReleaseDelivery(ctx context.Context, tenantID, key string, retryAt time.Time) error
	ReleaseUnsentDelivery(ctx context.Context, tenantID, key string, attempt int, retryAt time.Time) error
	SlackIDStore // who to DM, without a lookup by email
}

// NotifierConfig wires a Notifier.
type NotifierConfig struct {
	Store   NotifierStore
	Clients ChatClients
	// Now is the clock of the delivery outbox and of stored Slack ids; nil means time.Now.
	Now func() time.Time
	// SlackIDMaxAge bounds how long a stored Slack id is trusted without a
	// new match of emails; <= 0 means DefaultSlackIDMaxAge.
	SlackIDMaxAge time.Duration
	// Lease is how long one send may hold its delivery claim before a retry
	// takes it over (jobs.delivery_lease); <= 0 means DefaultDeliveryLease.
	Lease time.Duration
	Log   zerolog.Logger
}

// Message purposes remembered with store.SaveMessageRef.
const (
	purposeRequester = "requester"
	purposeTarget    = "target"    // the person a request made by someone else is for
	purposeApproval  = "approval:" // + 1-based level
)

func approvalPurpose(level int) string { return purposeApproval + strconv.Itoa(level+1) }

// Notifier tells people about access requests in Slack DMs: approvers get a
// message with Approve / Deny / Details, every copy of a level's messages is
// updated when it is decided, and the requester follows along in the thread
// of their confirmation message.
type Notifier struct {
	st      NotifierStore
	clients ChatClients
	cards   cardLoader
	clock   func() time.Time
	log     zerolog.Logger

	dir   slackDirectory
	lease time.Duration
	out   *outbox
	shown shownMemo
}

var _ requests.Notifier = (*Notifier)(nil)

// WithPlaybooks offers the request playbooks ("Run playbook" menu) on the
// approval and requester messages. It returns n.
func (n *Notifier) WithPlaybooks(m *PlaybookMenus) *Notifier {
	n.cards.playbooks = m
	return n
}

// NewNotifier builds a notifier; it sends inline, in the caller (a River job).
func NewNotifier(cfg NotifierConfig) *Notifier {
	n := &Notifier{st: cfg.Store, clients: cfg.Clients, cards: cardLoader{st: cfg.Store},
		clock: cfg.Now, lease: cfg.Lease, log: cfg.Log.With().Str("component", "request_notifier").Logger()}
	if n.lease <= 0 {
		n.lease = DefaultDeliveryLease
	}
	if n.clock == nil {
		n.clock = time.Now
	}
	n.out = &outbox{st: cfg.Store, now: n.now, lease: n.lease, log: n.log}
	n.dir = newSlackDirectory(cfg.Store, n.now, cfg.SlackIDMaxAge, n.log)
	return n
}

func (n *Notifier) now() time.Time { return n.clock().UTC() }

// tenantClient returns the Slack client of the tenant's workspace.
func (n *Notifier) tenantClient(ctx context.Context, tenantID string) (ChatAPI, string, error) {
	ws, err := n.st.WorkspaceByTenant(ctx, tenantID)
	if err != nil {
		return nil, "", fmt.Errorf("find the Slack workspace of tenant %s: %w", tenantID, err)
	}
	cl, err := n.clients.For(ctx, ws.TeamID)
	if err != nil {
		return nil, "", fmt.Errorf("slack client for team %s: %w", ws.TeamID, err)
	}
	return cl, ws.TeamID, nil
}

// clientAndCard is what every notification starts with: the Slack client
// (and team) of the tenant's workspace and the request's card.
func (n *Notifier) clientAndCard(ctx context.Context, req *accessbot.AccessRequest) (ChatAPI, string, views.RequestCard, error) {
	cl, team, err := n.tenantClient(ctx, req.TenantID)
	if err != nil {
		return nil, "", views.RequestCard{}, err
	}
	card, err := n.cards.card(ctx, req, true)
	if err != nil {
		return nil, "", views.RequestCard{}, err
	}
	return cl, team, card, nil
}

// dmOnce DMs m to a tenant user once per delivery key (a retried job does
// not post it again) and returns the DM channel and the message ts.
func (n *Notifier) dmOnce(ctx context.Context, cl ChatAPI, teamID, tenantID, key, userID string, m slackapi.Message) (string, string, error) {
	to, after := n.dmDelivery(cl, teamID, tenantID, userID)
	return n.out.once(ctx, cl, tenantID, delivery{key: key, msg: m, to: to, after: after})
}

// dmDelivery is the DM with a tenant user as a delivery's to and after.
func (n *Notifier) dmDelivery(cl ChatAPI, teamID, tenantID, userID string) (func(context.Context) (string, error), func(context.Context, error) error) {
	return n.dir.delivery(cl, teamID, func(ctx context.Context) (*accessbot.User, error) {
		u, err := n.st.GetUser(ctx, tenantID, userID)
		if err != nil {
			return nil, fmt.Errorf("load user %s: %w", userID, err)
		}
		return u, nil
	})
}

// fixed is a delivery's channel when it is known up front.
func fixed(ch string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) { return ch, nil }
}

func (n *Notifier) refs(ctx context.Context, req *accessbot.AccessRequest, purpose string) ([]accessbot.MessageRef, error) {
	all, err := n.st.ListMessageRefs(ctx, req.TenantID, req.ID)
	if err != nil {
		return nil, fmt.Errorf("list messages of request %s: %w", req.ID, err)
	}
	var out []accessbot.MessageRef
	for _, r := range all {
		if r.Purpose == purpose {
			out = append(out, r)
		}
	}
	return out, nil
}

// RequestCreated sends the requester their confirmation DM, whose thread
// carries every later step. A retry after the DM was sent does nothing.
func (n *Notifier) RequestCreated(ctx context.Context, req *accessbot.AccessRequest) error {
	if sent, err := n.refs(ctx, req, purposeRequester); err != nil || len(sent) > 0 {
		return errors.Join(err, n.tellTarget(ctx, req))
	}
	cl, team, card, err := n.clientAndCard(ctx, req)
	if err != nil {
		return err
	}
	text, blocks := views.RequesterMessage(card)
	ch, ts, err := n.dmOnce(ctx, cl, team, req.TenantID, deliveryKey(req.ID, purposeRequester, req.RequesterID), req.RequesterID,
		slackapi.Message{Text: text, Blocks: blocks})
	if err != nil {
		return fmt.Errorf("post confirmation of request %s: %w", req.ID, err)
	}
	if err := n.save(ctx, req, purposeRequester, req.RequesterID, ch, ts); err != nil {
		return err
	}
	return n.tellTarget(ctx, req)
}

// tellTarget DMs the person a request made by someone else is for, once,
// with a Cancel button.
func (n *Notifier) tellTarget(ctx context.Context, req *accessbot.AccessRequest) error {
	if req.TargetUserID == "" || req.TargetUserID == req.RequesterID {
		return nil
	}
	if sent, err := n.refs(ctx, req, purposeTarget); err != nil || len(sent) > 0 {
		return err
	}
	cl, team, card, err := n.clientAndCard(ctx, req)
	if err != nil {
		return err
	}
	text, blocks := views.TargetMessage(card)
	ch, ts, err := n.dmOnce(ctx, cl, team, req.TenantID, deliveryKey(req.ID, purposeTarget, req.TargetUserID), req.TargetUserID,
		slackapi.Message{Text: text, Blocks: blocks})
	if err != nil {
		return fmt.Errorf("tell the person request %s is for: %w", req.ID, err)
	}
	return n.save(ctx, req, purposeTarget, req.TargetUserID, ch, ts)
}

// targetView renders the message to the person a request is for.
func targetView(_ *accessbot.AccessRequest, card views.RequestCard) (string, []slack.Block) {
	return views.TargetMessage(card)
}

func (n *Notifier) save(ctx context.Context, req *accessbot.AccessRequest, purpose, userID, ch, ts string) error {
	if err := n.st.SaveMessageRef(ctx, &accessbot.MessageRef{TenantID: req.TenantID, ObjectID: req.ID, Purpose: purpose,
		UserID: userID, ChannelID: ch, TS: ts}); err != nil {
		return fmt.Errorf("remember %s message of request %s: %w", purpose, req.ID, err)
	}
	return nil
}

// askLevel reads what asking req's level's approvers (ApprovalNeeded,
// Remind) works from: the tenant's Slack client and team, the request as
// stored now rendered for the level, and the level's messages sent so far.
// v is the zero view when the level closed since the job read the request
// (decided or ended): that change's own job updates the level's copies,
// and asking now would post dead buttons.
func (n *Notifier) askLevel(ctx context.Context, req *accessbot.AccessRequest, level int) (cl ChatAPI, team string, v view, sent []accessbot.MessageRef, err error) {
	if cl, team, err = n.tenantClient(ctx, req.TenantID); err != nil {
		return nil, "", view{}, nil, err
	}
	if v, err = n.current(ctx, req, approvalView(level)); err != nil {
		return nil, "", view{}, nil, err
	}
	if requests.LevelClosed(v.req, level) {
		return nil, "", view{}, nil, nil
	}
	sent, err = n.refs(ctx, req, approvalPurpose(level))
	return cl, team, v, sent, err
}

// ApprovalNeeded DMs each approver the request with Approve / Deny / Details
// and tells the requester who has it now. A retry skips the approvers whose
// message for this level was already sent. On escalation (approverIDs are
// the admins added) every earlier copy of the level's message is updated to
// say it escalated, and when. Everything is rendered from the request as
// stored right before the posts, and checked again after them (sync), so a
// decision landing meanwhile is what every copy ends up showing.
func (n *Notifier) ApprovalNeeded(ctx context.Context, req *accessbot.AccessRequest, level int, approverIDs []string) error {
	cl, team, v, sent, err := n.askLevel(ctx, req, level)
	if err != nil || v.req == nil {
		return err
	}
	var errs []error
	var names []string
	escalated := v.req.EscalatedAt != nil && level == v.req.Level
	var lvl accessbot.ApprovalLevel
	if level < len(v.req.Levels) {
		lvl = v.req.Levels[level]
	}
	// channelLost: accessbot cannot post in the approvers' channel (removed
	// from it, or it was archived since apply checked it): a level asked
	// there only is asked by DM instead, rather than asking nobody.
	channelLost := false
	if lvl.Channel != "" && !escalated {
		// The approvers' channel gets one card; any approver of the level
		// may decide on it. Its ref has no user, so sync updates it with the DMs.
		if !slices.ContainsFunc(sent, func(r accessbot.MessageRef) bool { return r.UserID == "" && r.ChannelID == lvl.Channel }) {
			ch, ts, err := n.out.once(ctx, cl, req.TenantID, delivery{key: deliveryKey(req.ID, approvalPurpose(level), "channel:"+lvl.Channel),
				to: fixed(lvl.Channel), msg: v.msg})
			if err != nil {
				errs = append(errs, fmt.Errorf("post approval card of %s in channel %s: %w", req.ID, lvl.Channel, err))
				if channelGone[slackapi.SlackErrorCode(err)] {
					channelLost = true
					n.log.Warn().Str("tenant", req.TenantID).Str("request", req.ID).Str("channel", lvl.Channel).
						Str("error", slackapi.SlackErrorCode(err)).Msg("approvers' channel unusable: invite accessbot there; the approvers are asked by DM")
				}
			} else {
				errs = append(errs, n.save(ctx, req, approvalPurpose(level), "", ch, ts))
			}
		}
		names = append(names, "the approvers' channel")
	}
	for _, id := range approverIDs {
		if lvl.ChannelOnly && !escalated && !channelLost {
			continue // asked in the channel only
		}
		names = append(names, n.cards.name(ctx, req.TenantID, id))
		if slices.ContainsFunc(sent, func(r accessbot.MessageRef) bool { return r.UserID == id }) {
			continue
		}
		ch, ts, err := n.dmOnce(ctx, cl, team, req.TenantID, deliveryKey(req.ID, approvalPurpose(level), id), id, v.msg)
		if err != nil {
			errs = append(errs, fmt.Errorf("DM approver %s: %w", id, err))
			continue
		}
		errs = append(errs, n.save(ctx, req, approvalPurpose(level), id, ch, ts))
	}
	what := "waiting:L" + strconv.Itoa(level)
	if escalated {
		what = "escalated:L" + strconv.Itoa(level)
		// The approvers asked before keep their buttons (they still may
		// decide) and learn that the admins were asked too.
		for _, r := range sent {
			if r.UserID != "" && slices.Contains(approverIDs, r.UserID) {
				continue
			}
			if err := n.update(ctx, cl, req, approvalPurpose(level), r, v); err != nil {
				errs = append(errs, fmt.Errorf("mark escalated: %w", err))
			}
		}
	}
	errs = append(errs, n.sync(ctx, cl, req, approvalPurpose(level), approvalView(level), v.key))
	errs = append(errs, n.tellRequester(ctx, cl, req, v.card, what, views.WaitingText(v.card, names, escalated)))
	return errors.Join(errs...)
}

// channelGone are Slack's answers to a post in a channel accessbot cannot
// post in, which no retry soon fixes.
var channelGone = map[string]bool{"channel_not_found": true, "not_in_channel": true, "is_archived": true}

// ConfirmationWait is how long after a request's creation a job that
// replies in the requester's confirmation thread waits for that
// confirmation without spending attempts. The request_created job may run
// after the later jobs: River runs jobs concurrently across replicas, and
// one held by a killed replica waits for the rescue (jobs.rescue_after,
// 6 minutes by default). A confirmation still missing after this is a
// failure like any other.
const ConfirmationWait = time.Hour

// confirmationPending is a jobs.Busy error: the job is snoozed, not failed.
type confirmationPending struct{ id string }

func (e confirmationPending) Error() string {
	return fmt.Sprintf("request %s has no confirmation message to reply to yet", e.id)
}

func (confirmationPending) BusyFor() time.Duration { return 5 * time.Second }

// tellRequester replies in the confirmation thread, once per what (a
// retried job does not say it again), and refreshes the confirmation itself
// (an update, harmless to repeat).
func (n *Notifier) tellRequester(ctx context.Context, cl ChatAPI, req *accessbot.AccessRequest, card views.RequestCard, what, say string) error {
	refs, err := n.refs(ctx, req, purposeRequester)
	if err != nil {
		return err
	}
	if len(refs) == 0 {
		if n.now().Sub(req.CreatedAt) < ConfirmationWait {
			return confirmationPending{id: req.ID}
		}
		return fmt.Errorf("request %s has no confirmation message to reply to", req.ID)
	}
	var errs []error
	for _, r := range refs {
		_, _, err := n.out.once(ctx, cl, req.TenantID, delivery{key: deliveryKey(req.ID, what, r.UserID+"@"+r.ChannelID),
			to: fixed(r.ChannelID), thread: r.TS, msg: slackapi.Message{Text: say}})
		if err != nil {
			errs = append(errs, fmt.Errorf("reply to requester of %s: %w", req.ID, err))
		}
	}
	errs = append(errs, n.sync(ctx, cl, req, purposeRequester, requesterView, ""))
	errs = append(errs, n.sync(ctx, cl, req, purposeTarget, targetView, ""))
	return errors.Join(errs...)
}

// LevelDecided updates every copy of the level's message to say who
// decided and when, and tells the requester.
func (n *Notifier) LevelDecided(ctx context.Context, req *accessbot.AccessRequest, level int, decisions []accessbot.Decision) error {
	cl, _, card, err := n.clientAndCard(ctx, req)
	if err != nil {
		return err
	}
	closed := requests.LevelClosed(req, level)
	errs := []error{n.sync(ctx, cl, req, approvalPurpose(level), approvalView(level), "")}
	// The decision that ended the request is told by RequestFinished, in
	// one reply; telling it here too made two near-duplicates.
	ended := (req.Status == accessbot.StatusApproved || req.Status == accessbot.StatusDenied) && level == req.Level
	if len(decisions) > 0 && !ended {
		last := decisions[len(decisions)-1]
		line := views.DecisionLine{Level: level, By: n.cards.name(ctx, req.TenantID, last.ApproverID), Decision: last.Decision, Reason: last.Reason, At: last.DecidedAt}
		errs = append(errs, n.tellRequester(ctx, cl, req, card, "decided:"+last.ID, views.StepText(card, line, closed)))
	}
	return errors.Join(errs...)
}

// RequestFinished tells the requester how it ended; a cancelled or expired
// request also closes the current level's messages.
func (n *Notifier) RequestFinished(ctx context.Context, req *accessbot.AccessRequest) error {
	cl, _, card, err := n.clientAndCard(ctx, req)
	if err != nil {
		return err
	}
	var errs []error
	if req.Status == accessbot.StatusCancelled || req.Status == accessbot.StatusExpired {
		errs = append(errs, n.sync(ctx, cl, req, approvalPurpose(req.Level), approvalView(req.Level), ""))
	}
	errs = append(errs, n.tellRequester(ctx, cl, req, card, "finished:"+string(req.Status), views.FinishedText(card)))
	return errors.Join(errs...)
}

// Remind nudges approvers in the thread of their approval message (or a new
// one when there is none), unless the level closed since the job read it.
func (n *Notifier) Remind(ctx context.Context, req *accessbot.AccessRequest, level int, approverIDs []string) error {
	cl, team, v, refs, err := n.askLevel(ctx, req, level)
	if err != nil || v.req == nil {
		return err
	}
	var errs []error
	if level < len(v.req.Levels) && v.req.Levels[level].ChannelOnly && slices.ContainsFunc(refs, func(r accessbot.MessageRef) bool { return r.UserID == "" }) {
		// Asked in the approvers' channel only: remind there, in the card's thread.
		for _, r := range refs {
			if r.UserID != "" {
				continue
			}
			_, _, err := n.out.once(ctx, cl, req.TenantID, delivery{key: deliveryKey(req.ID, "remind:L"+strconv.Itoa(level), "channel:"+r.ChannelID),
				to: fixed(r.ChannelID), thread: r.TS, msg: slackapi.Message{Text: views.ReminderText(v.card)}})
			if err != nil {
				errs = append(errs, fmt.Errorf("remind in channel %s: %w", r.ChannelID, err))
			}
		}
		return errors.Join(errs...)
	}
	posted := false
	for _, id := range approverIDs {
		ch, thread := "", ""
		for _, r := range refs {
			if r.UserID == id {
				ch, thread = r.ChannelID, r.TS
			}
		}
		key := deliveryKey(req.ID, "remind:L"+strconv.Itoa(level), id)
		if thread == "" {
			to, after := fixed(ch), noFinish
			if ch == "" { // no approval message to them yet: their DM
				to, after = n.dmDelivery(cl, team, req.TenantID, id)
			}
			c, ts, err := n.out.once(ctx, cl, req.TenantID, delivery{key: key, to: to, after: after,
				msg: slackapi.Message{Text: views.ReminderText(v.card) + " " + v.msg.Text, Blocks: v.msg.Blocks}})
			if err != nil {
				errs = append(errs, fmt.Errorf("remind %s: %w", id, err))
				continue
			}
			// Saved after once, so a retry saves it even if this save failed.
			errs = append(errs, n.save(ctx, req, approvalPurpose(level), id, c, ts))
			posted = true
			continue
		}
		_, _, err := n.out.once(ctx, cl, req.TenantID, delivery{key: key, to: fixed(ch), thread: thread,
			msg: slackapi.Message{Text: views.ReminderText(v.card)}})
		if err != nil {
			errs = append(errs, fmt.Errorf("remind %s: %w", id, err))
		}
	}
	if posted {
		// A decision landing while the new copy was posted shows on it too.
		errs = append(errs, n.sync(ctx, cl, req, approvalPurpose(level), approvalView(level), v.key))
	}
	return errors.Join(errs...)
}

func decisionsAt(all []views.DecisionLine, level int) []views.DecisionLine {
	var out []views.DecisionLine
	for _, d := range all {
		if d.Level == level {
			out = append(out, d)
		}
	}
	return out
}
