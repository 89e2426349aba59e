// Package reviews runs access-review campaigns: launching them (ad hoc from
// an admin, or from the tenant file's definitions, once per cron slot),
// deciding items level by level, nomination and delegation, reminders
// before the due date, daily reminders once overdue and one escalation per
// reviewer after the grace period. It knows nothing of Slack: the Slack
// layer calls the Service and implements Notifier.
//
// Every state change is audited in the same transaction (ObjectType
// AuditCampaign or AuditItem). Decisions are conditional updates on the
// item's status and reviewer, so of racing clicks exactly one wins and
// only the item's current reviewer can decide it. The DMs a launch, a
// decision or a nomination owes are jobs committed with it (WithQueue);
// so are the updates of the reviewer's pending count in their DMs
// (ProgressNotifier); reminders and escalations are retried by their
// scheduler slot.
package reviews

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

// Errors callers branch on, each wrapped with what was being done.
var (
	// ErrForbidden: the actor may not do this (not an admin, not active).
	ErrForbidden = errors.New("forbidden")
	// ErrNotReviewer: the actor is not the item's current reviewer.
	ErrNotReviewer = errors.New("not the reviewer of this item")
	// ErrNoReviewer: an item resolved to nobody, not even a tenant admin.
	ErrNoReviewer = errors.New("no one can review")
)

// FieldErrors maps an input field (FieldName, FieldApps, FieldLevels,
// FieldDue, FieldRepeat, FieldReason, FieldNominee) to a plain-words message. It unwraps to
// accessbot.ErrInvalid.
type FieldErrors map[string]string

const (
	FieldName    = "name"
	FieldApps    = "apps"
	FieldLevels  = "levels"
	FieldDue     = "due"
	FieldRepeat  = "repeat"
	FieldReason  = "reason"
	FieldNominee = "nominee"
)

func (e FieldErrors) Error() string {
	s := "invalid review input:"
	for _, k := range []string{FieldName, FieldApps, FieldLevels, FieldDue, FieldRepeat, FieldReason, FieldNominee} {
		if m, ok := e[k]; ok {
			s += " " + k + ": " + m + ";"
		}
	}
	return s
}

func (e FieldErrors) Unwrap() error { return accessbot.ErrInvalid }

// AssignReason says why a reviewer is being told about items.
type AssignReason string

const (
	AssignLaunch    AssignReason = "launch"     // the campaign launched
	AssignNextLevel AssignReason = "next_level" // the level before kept them
	AssignNominated AssignReason = "nominated"  // another reviewer nominated you
)

// Assignment is what one reviewer is told in one message.
type Assignment struct {
	Campaign   accessbot.Campaign
	ReviewerID string
	Reason     AssignReason
	Items      int            // new items for this reviewer
	ByApp      map[string]int // application name → items
	Pending    int            // all of the reviewer's pending items in the campaign
	FromUserID string         // the nominator, for AssignNominated
	Note       string         // the nomination reason
	// Slot names this assignment among the reviewer's in the campaign (why,
	// and the first item it is about), so a retried send is recognised as
	// the same DM and a later assignment is not.
	Slot string
}

// Notifier tells people about reviews. The Slack layer implements it.
type Notifier interface {
	// Assigned sends the reviewer ONE message with counts, the due date and "Review now".
	Assigned(ctx context.Context, a Assignment) error
	// Remind nudges a reviewer with pending items; overdue after the due
	// date. slot is the reminder's notice key ("remind:<day>",
	// "overdue:<day>"): one DM per reviewer and slot.
	Remind(ctx context.Context, c *accessbot.Campaign, reviewerID, slot string, pending int, overdue bool) error
	// Escalated tells toIDs (the reviewer's manager, else the admins) that reviewerID is late.
	Escalated(ctx context.Context, c *accessbot.Campaign, reviewerID string, pending int, toIDs []string) error
	// RevocationRequested asks an application owner to remove what one batch
	// of decisions revoked: one message per batch (items[0] names it, as an
	// item is revoked once), however often it is retried.
	RevocationRequested(ctx context.Context, c *accessbot.Campaign, ownerID string, items []accessbot.ReviewItem) error
}

// ProgressNotifier is an optional Notifier capability: bring the messages
// a reviewer was sent about a campaign up to date after their items
// changed (pending is what is left for them; c.Status says whether the
// campaign is still open), so no message keeps an old count.
type ProgressNotifier interface {
	Progress(ctx context.Context, c *accessbot.Campaign, reviewerID string, pending int) error
}

// NopNotifier tells no one.
type NopNotifier struct{}

var _ Notifier = NopNotifier{}

func (NopNotifier) Assigned(context.Context, Assignment) error { return nil }
func (NopNotifier) Remind(context.Context, *accessbot.Campaign, string, string, int, bool) error {
	return nil
}
func (NopNotifier) Escalated(context.Context, *accessbot.Campaign, string, int, []string) error {
	return nil
}
func (NopNotifier) RevocationRequested(context.Context, *accessbot.Campaign, string, []accessbot.ReviewItem) error {
	return nil
}

// Policy holds the reminder timing. Reminders go out on the tenant's
// JobReminders schedule (cron and IANA zone; without one, daily on
// DefaultReminderCron in DefaultReminderZone): on days whose local date is
// RemindDays before the due date's, and every day once overdue. Escalation
// happens once per reviewer when Grace has passed after the due date. A
// tenant's review settings (accessbot.ReviewSettings, from the tenant file)
// replace the policy the service was built with; see PolicyFor.
type Policy struct {
	RemindDays []int
	Grace      time.Duration
}

// DefaultPolicy reminds 7, 3 and 1 days before and escalates 2 days after.
func DefaultPolicy() Policy { return Policy{RemindDays: []int{7, 3, 1}, Grace: 48 * time.Hour} }

// Service runs campaigns.
type Service struct {
	st     store.Store
	notify Notifier
	clock  func() time.Time
	policy Policy
	owner  string // this replica, in launch slot claims
	revoke Revoker
	log    zerolog.Logger
	// decided, when set, runs in the transaction of each recorded decision
	// (playbooks queue their review.decided events there).
	decided func(ctx context.Context, q store.Queries, it accessbot.ReviewItem) error
	// queue, when set, takes the DMs a change owes as jobs (WithQueue).
	queue Queue
}

// OnDecided sets fn to run inside the transaction of every recorded
// decision, with the decided item; its error undoes the batch.
func (s *Service) OnDecided(fn func(ctx context.Context, q store.Queries, it accessbot.ReviewItem) error) {
	s.decided = fn
}

// Revoker starts, inside the decision's transaction q, the deprovisioning
// chain that ends one employee's access to an application's inventory
// entitlement; *grants.Service is one. It wraps grants.ErrNoGrant when no
// connection (or no employee) matches.
type Revoker interface {
	RevokeAccessTx(ctx context.Context, q store.Queries, tenantID, appID, userID, invEntitlementID, actorID, reason string) (flowID string, err error)
}

// WithRevoker has a Revoke run the deprovisioning chain of the revoked
// access, started in the transaction that records the decision. What no
// chain matches goes to the application owner by hand, as without one.
func (s *Service) WithRevoker(r Revoker) *Service {
	s.revoke = r
	return s
}

// New builds the service; a nil notifier is NopNotifier, a nil clock time.Now.
func New(st store.Store, n Notifier, clock func() time.Time, p Policy, log zerolog.Logger) *Service {
	if n == nil {
		n = NopNotifier{}
	}
	if clock == nil {
		clock = time.Now
	}
	return &Service{st: st, notify: n, clock: clock, policy: p, owner: newID(), log: log.With().Str("component", "reviews").Logger()}
}

func (s *Service) now() time.Time { return s.clock().UTC() }

func newID() string { return uuid.Must(uuid.NewV7()).String() }

func (s *Service) logNotify(tenantID, what string, err error) {
	if err != nil {
		s.log.Error().Err(err).Str("tenant", tenantID).Str("notify", what).Msg("review notification failed")
	}
}

// activeUser loads a user and reports whether they can act.
func activeUser(ctx context.Context, q store.Queries, tenantID, id string) (*accessbot.User, error) {
	if id == "" {
		return nil, nil
	}
	u, err := q.GetUser(ctx, tenantID, id)
	if errors.Is(err, accessbot.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load user %s: %w", id, err)
	}
	if u.Status == accessbot.UserTerminated {
		return nil, nil
	}
	return u, nil
}
