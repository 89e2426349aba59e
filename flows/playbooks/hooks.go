package playbooks

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/inventory"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/store"
)

// RequestObject is the "object" of request events.
type RequestObject struct {
	ID            string                  `json:"id"`
	Kind          accessbot.RequestKind   `json:"kind"`
	Status        accessbot.RequestStatus `json:"status"`
	RequesterID   string                  `json:"requester_id"`
	TargetUserID  string                  `json:"target_user_id,omitempty"`
	AppID         string                  `json:"app_id"`
	ConnectionID  string                  `json:"connection_id,omitempty"`
	DurationSecs  int64                   `json:"duration_s,omitempty"`
	Justification string                  `json:"justification"`
	Level         int                     `json:"level"` // 1-based
	CreatedAt     time.Time               `json:"created_at"`
	DecidedAt     *time.Time              `json:"decided_at,omitempty"`
}

// RequestEvent is the event of r under eventType (request.created, …).
func RequestEvent(eventType string, r *accessbot.AccessRequest) Event {
	return Event{Type: eventType, Key: r.ID, ObjectType: requests.AuditObject, ObjectID: r.ID, AppID: r.AppID, At: r.UpdatedAt,
		Object: RequestObject{ID: r.ID, Kind: r.Kind, Status: r.Status, RequesterID: r.RequesterID, TargetUserID: r.TargetUserID,
			AppID: r.AppID, ConnectionID: r.ConnectionID, DurationSecs: int64(r.Duration / time.Second), Justification: r.Justification,
			Level: r.Level + 1, CreatedAt: r.CreatedAt, DecidedAt: r.DecidedAt}}
}

// Requests wraps the request notifier so request.created, .approved and
// .denied reach the playbooks. Its calls come from durable jobs, which may
// run again: the events are keyed by request, so they are queued once.
func (s *Service) Requests(inner requests.Notifier) requests.Notifier {
	if inner == nil {
		inner = requests.NopNotifier{}
	}
	return &requestNotifier{Notifier: inner, s: s}
}

type requestNotifier struct {
	requests.Notifier
	s *Service
}

func (n *requestNotifier) RequestCreated(ctx context.Context, r *accessbot.AccessRequest) error {
	if _, err := n.s.Emit(ctx, r.TenantID, RequestEvent(RequestCreated, r)); err != nil {
		return err
	}
	return n.Notifier.RequestCreated(ctx, r)
}

func (n *requestNotifier) RequestFinished(ctx context.Context, r *accessbot.AccessRequest) error {
	typ := ""
	switch r.Status {
	case accessbot.StatusApproved:
		typ = RequestApproved
	case accessbot.StatusDenied:
		typ = RequestDenied
	}
	if typ != "" {
		if _, err := n.s.Emit(ctx, r.TenantID, RequestEvent(typ, r)); err != nil {
			return err
		}
	}
	return n.Notifier.RequestFinished(ctx, r)
}

// Provisioned is the provisioning engine's OnProvisioned hook
// (provision.Config): request.provisioned, queued in the transaction that
// marks the request's flow done and records its grant.
func (s *Service) Provisioned(ctx context.Context, q store.Queries, r *accessbot.AccessRequest) error {
	_, err := s.EmitTx(ctx, q, r.TenantID, RequestEvent(RequestProvisioned, r))
	return err
}

// ReviewObject is the "object" of review events.
type ReviewObject struct {
	ID            string                 `json:"id"`
	CampaignID    string                 `json:"campaign_id"`
	Level         int                    `json:"level"` // 1-based
	AppID         string                 `json:"app_id"`
	AppName       string                 `json:"app_name"`
	IdentityID    string                 `json:"identity_id"`
	EntitlementID string                 `json:"entitlement_id"`
	Entitlement   string                 `json:"entitlement"`
	Subject       string                 `json:"subject"`
	UserID        string                 `json:"user_id,omitempty"`
	ReviewerID    string                 `json:"reviewer_id"`
	Privileged    bool                   `json:"privileged"`
	Status        accessbot.ReviewStatus `json:"status"`
	Comment       string                 `json:"comment,omitempty"`
	DecidedBy     string                 `json:"decided_by,omitempty"`
	DecidedAt     *time.Time             `json:"decided_at,omitempty"`
}

// ReviewEvent is the event of item it under eventType.
func ReviewEvent(eventType string, it *accessbot.ReviewItem) Event {
	return Event{Type: eventType, Key: it.ID, ObjectType: "review_item", ObjectID: it.ID, AppID: it.AppID, ActorID: it.DecidedBy,
		Object: ReviewObject{ID: it.ID, CampaignID: it.CampaignID, Level: it.Level + 1, AppID: it.AppID, AppName: it.AppName,
			IdentityID: it.IdentityID, EntitlementID: it.EntitlementID, Entitlement: it.EntitlementName, Subject: it.Subject,
			UserID: it.UserID, ReviewerID: it.ReviewerID, Privileged: it.Privileged, Status: it.Status, Comment: it.Comment,
			DecidedBy: it.DecidedBy, DecidedAt: it.DecidedAt}}
}

// ReviewDecided is the reviews.Service OnDecided hook: review.decided,
// queued in the decision's own transaction.
func (s *Service) ReviewDecided(ctx context.Context, q store.Queries, it accessbot.ReviewItem) error {
	ev := ReviewEvent(ReviewDecided, &it)
	if it.DecidedAt != nil {
		ev.At = *it.DecidedAt
	}
	_, err := s.EmitTx(ctx, q, it.TenantID, ev)
	return err
}

// FindingObject is the "object" of finding events.
type FindingObject struct {
	ID        string                  `json:"id"`
	Rule      string                  `json:"rule"`
	Severity  accessbot.Severity      `json:"severity"`
	Subject   accessbot.Subject       `json:"subject"`
	Details   any                     `json:"details,omitempty"`
	Status    accessbot.FindingStatus `json:"status"`
	FirstSeen time.Time               `json:"first_seen"`
	OpenedAt  time.Time               `json:"opened_at"`
}

// FindingEvent is the event of finding f under eventType.
func FindingEvent(eventType string, f *accessbot.Finding) Event {
	obj := FindingObject{ID: f.ID, Rule: f.Rule, Severity: f.Severity, Subject: f.Subject, Status: f.Status,
		FirstSeen: f.FirstSeen, OpenedAt: f.OpenedAt}
	if len(f.Details) > 0 {
		obj.Details = f.Details
	}
	return Event{Type: eventType, Key: f.ID + ":" + f.OpenedAt.UTC().Format(time.RFC3339Nano), ObjectType: "finding", ObjectID: f.ID,
		Object: obj, At: f.OpenedAt}
}

// SyncObject is the "object" of sync.completed: what an application's
// data sync (today, an inventory upload) changed.
type SyncObject struct {
	AppID    string `json:"app_id"`
	AppName  string `json:"app_name"`
	Kind     string `json:"kind"` // identities, entitlements, relations
	Created  int    `json:"created"`
	Updated  int    `json:"updated"`
	Restored int    `json:"restored"`
	Removed  int    `json:"removed"`
}

// AfterImport is the inventory.Importer hook: an upload is a sync, so the
// playbooks with the recurrence set run (sync.completed), and each finding
// the upload opened or reopened reaches the finding playbooks
// (finding.opened), all in the upload's transaction.
func (s *Service) AfterImport(ctx context.Context, q store.Queries, tenantID string, res *inventory.Result, at time.Time) error {
	if res.App != "" && res.Kind != inventory.Mappings {
		app, err := q.GetApplicationByName(ctx, tenantID, res.App)
		if err != nil {
			return fmt.Errorf("playbooks after import: %w", err)
		}
		obj := SyncObject{AppID: app.ID, AppName: app.Name, Kind: string(res.Kind), Created: res.Created, Updated: res.Updated,
			Restored: res.Restored, Removed: res.Removed}
		if _, err := s.EmitTx(ctx, q, tenantID, Event{Type: SyncCompleted, ObjectType: "application", ObjectID: app.ID, AppID: app.ID,
			Object: obj, At: at}); err != nil {
			return err
		}
	}
	if res.Findings == nil {
		return nil
	}
	return s.FindingsOpened(ctx, q, tenantID, res.Findings.Total(), at)
}

// FindingsOpened is the hook of whatever records findings (an upload, a
// connector sync, POST /api/v1/findings, `accessbot findings import` and
// `run`): each finding res opened or reopened at at reaches the finding
// playbooks (finding.opened), the integration-specific ones of its
// application first, in the caller's transaction q.
func (s *Service) FindingsOpened(ctx context.Context, q store.Queries, tenantID string, res accessbot.SyncResult, at time.Time) error {
	if res.Opened+res.Reopened == 0 {
		return nil
	}
	// The store keeps microseconds: a finding opened at exactly at is
	// stored truncated, and must still count as opened by this run.
	at = at.UTC().Truncate(time.Microsecond)
	open, err := q.ListFindings(ctx, tenantID, accessbot.FindingFilter{Statuses: []accessbot.FindingStatus{accessbot.FindingOpen}, Since: at})
	if err != nil {
		return fmt.Errorf("playbooks on findings opened: %w", err)
	}
	for i := range open {
		if open[i].OpenedAt.Before(at) {
			continue // open before this run
		}
		ev := FindingEvent(FindingOpened, &open[i])
		if ev.AppID, err = FindingAppID(ctx, q, &open[i]); err != nil {
			return err
		}
		if _, err := s.EmitTx(ctx, q, tenantID, ev); err != nil && !errors.Is(err, accessbot.ErrConflict) {
			return err
		}
	}
	return nil
}
