// Package purposes runs just-in-time, purpose-based access. A purpose (the
// tenant file's purposes: section) bundles connections across applications.
// A person is assigned to it once, through its assignment chain (an
// approved purpose_assign request); an assigned person then starts it for a
// while: a session. Starting a session creates, for every connection of the
// purpose, an approved user_access request and hands it to the provisioning
// engine, so each runs its application's provisioning chain; ending one
// revokes the grants those requests made through the grants service, so
// each runs its deprovisioning chain.
//
// Tick runs in every replica on every scheduler tick. A session past its
// end, or stopped, is ended by exactly one replica: a conditional claim on
// its row (store.ClaimPurposeSession) picks it, and every step after it is
// idempotent (a grant's deprovisioning is started once per grant; the
// announcements go through the delivery outbox), so a replica that crashes
// mid-way leaves a claim that runs out and the next claimant finishes the
// job. A bot that was down at the end catches up on its first tick.
package purposes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

// SystemActor ends sessions at their end.
const SystemActor = "system"

// ReasonExpired is the end reason of a session that reached its end.
const ReasonExpired = "expired"

// Audit actions, with ObjectType AuditObject and ObjectID the session's id
// (assignments: the purpose's id).
const (
	AuditObject     = "purpose_session"
	AuditPurpose    = "purpose"
	ActionAssigned  = "purpose.assigned"
	ActionStarted   = "purpose.started"
	ActionExtended  = "purpose.extended"
	ActionStopped   = "purpose.stopped"
	ActionExpired   = "purpose.expired"
	ActionEnded     = "purpose.ended"
	ActionStartAsks = "purpose.start_requested"
)

// Errors callers branch on; handlers turn them into words.
var (
	ErrNotAssigned   = errors.New("you are not assigned to this purpose")
	ErrAlreadyActive = errors.New("you already have a session of this purpose")
	ErrNeedsApproval = errors.New("this purpose's starts go through an approval chain")
	ErrTooLong       = errors.New("longer than the purpose allows")
	ErrNotActive     = errors.New("this session is no longer active")
	ErrForbidden     = errors.New("only the session's holder or an admin can do this")
	ErrReason        = errors.New("a reason is required")
)

// Provisioner carries out an approved user_access request: the engine.
type Provisioner interface {
	Provision(ctx context.Context, req *accessbot.AccessRequest) error
}

// Revoker starts the deprovisioning of one grant, once: grants.Service.
type Revoker interface {
	Revoke(ctx context.Context, tenantID, grantID, actorID, reason string) (string, error)
}

// Notifier announces sessions in the purpose's channel and tells the holder
// when someone else stopped theirs. It may be called more than once for
// one event (a retried tick) and must post once (the delivery outbox).
type Notifier interface {
	SessionStarted(ctx context.Context, p *accessbot.Purpose, s *accessbot.PurposeSession) error
	SessionEnded(ctx context.Context, p *accessbot.Purpose, s *accessbot.PurposeSession) error
	// SessionExtended announces that s now ends later than from.
	SessionExtended(ctx context.Context, p *accessbot.Purpose, s *accessbot.PurposeSession, from time.Time) error
}

// Config wires a Service.
type Config struct {
	Store       store.Store
	Provisioner Provisioner
	Revoker     Revoker
	Notifier    Notifier // nil: nobody is told
	Clock       func() time.Time
	// Lease bounds how long a replica holds a session it is ending. Default 2m.
	Lease time.Duration
	Log   zerolog.Logger
}

// Service starts, extends and ends sessions.
type Service struct {
	st    store.Store
	prov  Provisioner
	rev   Revoker
	note  Notifier
	clock func() time.Time
	lease time.Duration
	log   zerolog.Logger
}

// New builds the service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Provisioner == nil || cfg.Revoker == nil {
		return nil, errors.New("new purposes service: store, provisioner and revoker are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 2 * time.Minute
	}
	return &Service{st: cfg.Store, prov: cfg.Provisioner, rev: cfg.Revoker, note: cfg.Notifier, clock: cfg.Clock,
		lease: cfg.Lease, log: cfg.Log.With().Str("component", "purposes").Logger()}, nil
}

// SetNotifier sets who is told (the Slack layer, built later).
func (s *Service) SetNotifier(n Notifier) { s.note = n }

func (s *Service) now() time.Time { return s.clock().UTC() }

// SessionPayload is the Payload of a session's user_access requests.
type SessionPayload struct {
	Session string `json:"purpose_session"`
	Purpose string `json:"purpose"`
}

// Start starts purposeID for userID for d (0: the purpose's maximum),
// for reason. Errors: ErrNotAssigned, ErrAlreadyActive, ErrTooLong,
// ErrReason, ErrNeedsApproval (the caller files a requests.PurposeStart).
func (s *Service) Start(ctx context.Context, tenantID, userID, purposeID string, d time.Duration, reason string) (*accessbot.PurposeSession, error) {
	p, err := s.st.GetPurpose(ctx, tenantID, purposeID)
	if err != nil {
		return nil, fmt.Errorf("start purpose: %w", err)
	}
	if err := s.CheckStart(ctx, p, userID, d, reason); err != nil {
		return nil, err
	}
	if p.StartChain != "" {
		return nil, fmt.Errorf("start purpose %s: %w", p.Name, ErrNeedsApproval)
	}
	return s.begin(ctx, p, userID, d, reason, "")
}

// CheckStart says why userID cannot start p for d now, if they cannot.
func (s *Service) CheckStart(ctx context.Context, p *accessbot.Purpose, userID string, d time.Duration, reason string) error {
	if _, err := s.st.GetPurposeAssignment(ctx, p.TenantID, p.ID, userID); errors.Is(err, accessbot.ErrNotFound) {
		return fmt.Errorf("start purpose %s: %w", p.Name, ErrNotAssigned)
	} else if err != nil {
		return fmt.Errorf("start purpose %s: %w", p.Name, err)
	}
	if d > p.MaxSession {
		return fmt.Errorf("start purpose %s for %s (at most %s): %w", p.Name, d, p.MaxSession, ErrTooLong)
	}
	if len([]rune(reason)) < accessbot.MinJustification {
		return fmt.Errorf("start purpose %s: %w", p.Name, ErrReason)
	}
	open, err := s.st.ListPurposeSessions(ctx, p.TenantID, userID, []accessbot.SessionStatus{accessbot.SessionActive, accessbot.SessionEnding})
	if err != nil {
		return fmt.Errorf("start purpose %s: %w", p.Name, err)
	}
	for _, o := range open {
		if o.PurposeID == p.ID {
			return fmt.Errorf("start purpose %s: %w", p.Name, ErrAlreadyActive)
		}
	}
	return nil
}

// begin stores the session with one approved user_access request per
// connection, in one transaction, then hands the requests to the engine
// and announces it. requestID is the approved start request, if any.
func (s *Service) begin(ctx context.Context, p *accessbot.Purpose, userID string, d time.Duration, reason, requestID string) (*accessbot.PurposeSession, error) {
	if d <= 0 {
		d = p.MaxSession
	}
	now := s.now()
	ses := &accessbot.PurposeSession{ID: uuid.Must(uuid.NewV7()).String(), TenantID: p.TenantID, PurposeID: p.ID, UserID: userID,
		Reason: reason, StartedAt: now, EndsAt: now.Add(d)}
	payload, err := json.Marshal(SessionPayload{Session: ses.ID, Purpose: p.Name})
	if err != nil {
		return nil, fmt.Errorf("start purpose %s: %w", p.Name, err)
	}
	var reqs []*accessbot.AccessRequest
	err = s.st.InTx(ctx, func(q store.Queries) error {
		for _, c := range p.Connections {
			r := &accessbot.AccessRequest{ID: uuid.Must(uuid.NewV7()).String(), TenantID: p.TenantID, Kind: accessbot.RequestUserAccess,
				RequesterID: userID, TargetUserID: userID, AppID: c.AppID, ConnectionID: c.ConnectionID, Payload: payload,
				Justification: "purpose " + p.Name + ": " + reason, Status: accessbot.StatusApproved,
				CreatedAt: now, UpdatedAt: now, DecidedAt: &now}
			if err := q.CreateRequest(ctx, r); err != nil {
				return fmt.Errorf("store the request of connection %s: %w", c.ConnectionID, err)
			}
			reqs = append(reqs, r)
			ses.RequestIDs = append(ses.RequestIDs, r.ID)
		}
		if err := q.CreatePurposeSession(ctx, ses); err != nil {
			if errors.Is(err, accessbot.ErrConflict) {
				return ErrAlreadyActive
			}
			return err
		}
		return s.audit(ctx, q, p.TenantID, userID, ActionStarted, AuditObject, ses.ID, map[string]any{"purpose": p.Name,
			"purpose_id": p.ID, "reason": reason, "ends_at": ses.EndsAt, "requests": ses.RequestIDs, "start_request": requestID})
	})
	if err != nil {
		return nil, fmt.Errorf("start purpose %s: %w", p.Name, err)
	}
	s.log.Info().Str("tenant", p.TenantID).Str("purpose", p.Name).Str("session", ses.ID).Str("user", userID).
		Time("until", ses.EndsAt).Msg("purpose session started")
	// After the commit: a failure here is retried by the sweep (ensure).
	if err := s.ensure(ctx, p, ses, reqs); err != nil {
		s.log.Warn().Err(err).Str("session", ses.ID).Msg("purpose session started; provisioning or announcement left to the next tick")
	}
	return ses, nil
}

// ensure hands every request of an active session to the engine (which
// starts one flow per request, however often it is called) and announces
// the start (once, through the outbox).
func (s *Service) ensure(ctx context.Context, p *accessbot.Purpose, ses *accessbot.PurposeSession, reqs []*accessbot.AccessRequest) error {
	var errs []error
	if reqs == nil {
		for _, id := range ses.RequestIDs {
			r, err := s.st.GetRequest(ctx, ses.TenantID, id)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			reqs = append(reqs, r)
		}
	}
	for _, r := range reqs {
		if err := s.prov.Provision(ctx, r); err != nil {
			errs = append(errs, fmt.Errorf("provision connection %s: %w", r.ConnectionID, err))
		}
	}
	if s.note != nil {
		if err := s.note.SessionStarted(ctx, p, ses); err != nil {
			errs = append(errs, fmt.Errorf("announce session %s: %w", ses.ID, err))
		}
	}
	return errors.Join(errs...)
}

func (s *Service) audit(ctx context.Context, q store.Queries, tenantID, actor, action, objType, objID string, detail any) error {
	after, err := json.Marshal(detail)
	if err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	if actor == "" {
		actor = SystemActor
	}
	if err := q.AppendAudit(ctx, &accessbot.AuditEntry{ID: uuid.Must(uuid.NewV7()).String(), TenantID: tenantID, At: s.now(),
		ActorID: actor, Action: action, ObjectType: objType, ObjectID: objID, After: after}); err != nil {
		return fmt.Errorf("audit %s of %s: %w", action, objID, err)
	}
	return nil
}

// MaxExtension is how much an active session may still be extended at
// now: its end may be at most the purpose's maximum from now.
func MaxExtension(p *accessbot.Purpose, ses *accessbot.PurposeSession, now time.Time) time.Duration {
	return max(now.Add(p.MaxSession).Sub(ses.EndsAt), 0)
}

// Extend moves the holder's active session's end by d, within the cap.
func (s *Service) Extend(ctx context.Context, tenantID, sessionID, actorID string, d time.Duration) (*accessbot.PurposeSession, error) {
	ses, p, err := s.load(ctx, tenantID, sessionID)
	if err != nil {
		return nil, err
	}
	if ses.UserID != actorID {
		return nil, fmt.Errorf("extend session %s: %w", ses.ID, ErrForbidden)
	}
	if ses.Status != accessbot.SessionActive {
		return nil, fmt.Errorf("extend session %s: %w", ses.ID, ErrNotActive)
	}
	if d <= 0 || d > MaxExtension(p, ses, s.now()) {
		return nil, fmt.Errorf("extend session %s by %s: %w", ses.ID, d, ErrTooLong)
	}
	// More time is another start of the access: a purpose whose starts are
	// approved has its extensions approved too (requests.PurposeExtend).
	if p.StartChain != "" {
		return nil, fmt.Errorf("extend session %s: %w", ses.ID, ErrNeedsApproval)
	}
	return s.extend(ctx, p, ses, actorID, d, "")
}

// extend moves ses's end by d and audits it; requestID is the approved
// extension request, if any.
func (s *Service) extend(ctx context.Context, p *accessbot.Purpose, ses *accessbot.PurposeSession, actorID string, d time.Duration, requestID string) (*accessbot.PurposeSession, error) {
	from, to := ses.EndsAt, ses.EndsAt.Add(d)
	detail := map[string]any{"purpose": p.Name, "from": from, "to": to}
	if requestID != "" {
		detail["request"] = requestID
	}
	err := s.st.InTx(ctx, func(q store.Queries) error {
		if err := q.ExtendPurposeSession(ctx, ses.TenantID, ses.ID, from, to); err != nil {
			return err
		}
		return s.audit(ctx, q, ses.TenantID, actorID, ActionExtended, AuditObject, ses.ID, detail)
	})
	if errors.Is(err, accessbot.ErrStale) {
		return nil, fmt.Errorf("extend session %s: %w", ses.ID, ErrNotActive)
	}
	if err != nil {
		return nil, fmt.Errorf("extend session %s: %w", ses.ID, err)
	}
	ses.EndsAt = to
	s.log.Info().Str("tenant", ses.TenantID).Str("purpose", p.Name).Str("session", ses.ID).Time("until", to).Str("request", requestID).
		Msg("purpose session extended")
	// The channel watches the access's window: a later end is news too.
	// Best effort: the extension stands whether or not the post goes out.
	if s.note != nil {
		if err := s.note.SessionExtended(ctx, p, ses, from); err != nil {
			s.log.Warn().Err(err).Str("session", ses.ID).Msg("announcing an extension")
		}
	}
	return ses, nil
}

// Stop ends an active session now: its holder, or an admin (who must give
// a reason, which the holder is told). The deprovisioning starts at once;
// what fails is retried by the sweep.
func (s *Service) Stop(ctx context.Context, tenantID, sessionID, actorID, reason string) (*accessbot.PurposeSession, error) {
	ses, p, err := s.load(ctx, tenantID, sessionID)
	if err != nil {
		return nil, err
	}
	if ses.UserID != actorID {
		u, err := s.st.GetUser(ctx, tenantID, actorID)
		if err != nil || u.Role != accessbot.RoleAdmin || u.Status != accessbot.UserActive {
			return nil, fmt.Errorf("stop session %s: %w", ses.ID, ErrForbidden)
		}
		if len([]rune(reason)) < 3 {
			return nil, fmt.Errorf("stop session %s: %w", ses.ID, ErrReason)
		}
	}
	if reason == "" {
		reason = "stopped"
	}
	now := s.now()
	err = s.st.InTx(ctx, func(q store.Queries) error {
		if err := q.StopPurposeSession(ctx, tenantID, ses.ID, actorID, reason, now); err != nil {
			return err
		}
		return s.audit(ctx, q, tenantID, actorID, ActionStopped, AuditObject, ses.ID, map[string]any{"purpose": p.Name, "reason": reason,
			"holder": ses.UserID})
	})
	if errors.Is(err, accessbot.ErrStale) {
		return nil, fmt.Errorf("stop session %s: %w", ses.ID, ErrNotActive)
	}
	if err != nil {
		return nil, fmt.Errorf("stop session %s: %w", ses.ID, err)
	}
	ses.Status, ses.EndedBy, ses.EndReason, ses.EndingAt = accessbot.SessionEnding, actorID, reason, &now
	s.log.Info().Str("tenant", tenantID).Str("purpose", p.Name).Str("session", ses.ID).Str("actor", actorID).Msg("purpose session stopped")
	if won, err := s.st.ClaimPurposeSession(ctx, tenantID, ses.ID, now, s.lease); err == nil && won {
		if err := s.end(ctx, p, ses); err != nil {
			s.log.Warn().Err(err).Str("session", ses.ID).Msg("ending a stopped session; the next tick retries")
		}
	}
	return ses, nil
}

func (s *Service) load(ctx context.Context, tenantID, sessionID string) (*accessbot.PurposeSession, *accessbot.Purpose, error) {
	ses, err := s.st.GetPurposeSession(ctx, tenantID, sessionID)
	if err != nil {
		return nil, nil, fmt.Errorf("load session %s: %w", sessionID, err)
	}
	p, err := s.st.GetPurpose(ctx, tenantID, ses.PurposeID)
	if err != nil {
		return nil, nil, fmt.Errorf("load purpose of session %s: %w", sessionID, err)
	}
	return ses, p, nil
}
