// Package grants ends time-bound access: when a grant (an entitlement with
// an end) reaches its end, its deprovisioning flow starts through a
// provision.Deprovisioner; before that its holder is told, at the tenant's
// expiry-notice offsets, and may ask for more time (an extension request,
// see requests.Extension). Reviews, findings and connection deletions end
// grants through the same path (Revoke, EndConnection).
//
// Tick runs in every replica on every scheduler tick. Of several replicas,
// exactly one starts each expired grant's deprovisioning: a conditional
// claim on the grant row (store.ClaimExpiredEntitlement) picks it, and the
// flow's id is recorded on the row once started. A replica that crashes
// after starting the flow but before recording it leaves a claim that runs
// out; the next claimant calls the Deprovisioner again, which is idempotent
// per entitlement and returns the same flow. A bot that was down at the end
// catches up on its first tick: the sweep takes every grant whose end has
// passed.
package grants

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/provision"
	"github.com/accessbot/accessbot/store"
)

// DefaultNotices are the expiry notices of a tenant that set none: a day
// and an hour before the end.
var DefaultNotices = []time.Duration{24 * time.Hour, time.Hour}

// SystemActor is the actor of an expiry.
const SystemActor = "system"

// Audit actions and object type.
const (
	AuditObject    = "entitlement"
	ActionExpired  = "grant.expired"
	ActionRevoked  = "grant.revoked"
	ActionExtended = "grant.extended"
)

// Notifier tells a grant's holder that it ends soon. It is called on every
// tick while the notice is due, so it must send each (grant, end, before)
// once (the Slack side keys it in the delivery outbox).
type Notifier interface {
	ExpiryNotice(ctx context.Context, g *accessbot.Entitlement, before time.Duration) error
}

// Config wires a Service.
type Config struct {
	Store         store.Store
	Deprovisioner provision.Deprovisioner
	// Notifier sends expiry notices; nil sends none.
	Notifier Notifier
	Clock    func() time.Time
	// Lease bounds how long a replica holds an expired grant while it starts
	// its deprovisioning; after it another replica may. Default 2m.
	Lease time.Duration
	Log   zerolog.Logger
}

// Service ends grants.
type Service struct {
	st    store.Store
	dep   provision.Deprovisioner
	note  Notifier
	clock func() time.Time
	lease time.Duration
	log   zerolog.Logger
}

// New builds the service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Deprovisioner == nil {
		return nil, errors.New("new grants service: store and deprovisioner are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 2 * time.Minute
	}
	return &Service{st: cfg.Store, dep: cfg.Deprovisioner, note: cfg.Notifier, clock: cfg.Clock, lease: cfg.Lease,
		log: cfg.Log.With().Str("component", "grants").Logger()}, nil
}

// Tick ends every expired grant and sends the expiry notices that are due,
// in every tenant. It returns every error joined; what failed is retried on
// a later tick.
func (s *Service) Tick(ctx context.Context, now time.Time) error {
	tenants, err := s.st.ListTenants(ctx)
	if err != nil {
		return fmt.Errorf("grants tick: list tenants: %w", err)
	}
	var errs []error
	for _, t := range tenants {
		if err := s.endExpired(ctx, t.ID, now); err != nil {
			errs = append(errs, err)
		}
		if err := s.sendNotices(ctx, t.ID, now); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// endExpired starts the deprovisioning of each of the tenant's grants whose
// end has passed and that this replica claims.
func (s *Service) endExpired(ctx context.Context, tenantID string, now time.Time) error {
	due, err := s.st.ListExpiringEntitlements(ctx, tenantID, now)
	if err != nil {
		return fmt.Errorf("tenant %s: %w", tenantID, err)
	}
	var errs []error
	for i := range due {
		g := &due[i]
		won, err := s.st.ClaimExpiredEntitlement(ctx, tenantID, g.ID, now, s.lease)
		if err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: %w", tenantID, err))
			continue
		}
		if !won {
			continue // another replica starts it, or an extension moved the end
		}
		if _, err := s.end(ctx, g, SystemActor, "expired", ActionExpired); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Revoke starts the deprovisioning of grant id now (a review's Revoke, a
// finding's Revoke), unless it has started already; it returns the flow.
func (s *Service) Revoke(ctx context.Context, tenantID, id, actorID, reason string) (string, error) {
	var flow string
	err := s.st.InTx(ctx, func(q store.Queries) error {
		var err error
		flow, err = s.revokeTx(ctx, q, tenantID, id, actorID, reason)
		return err
	})
	return flow, err
}

func (s *Service) revokeTx(ctx context.Context, q store.Queries, tenantID, id, actorID, reason string) (string, error) {
	g, err := q.GetEntitlement(ctx, tenantID, id)
	if err != nil {
		return "", fmt.Errorf("revoke grant: %w", err)
	}
	if g.Ending() {
		return g.EndingFlowID, nil
	}
	return s.endTx(ctx, q, g, actorID, reason, ActionRevoked)
}

// EndConnection starts the deprovisioning of every grant of a connection
// that is being deleted, and returns the flows. Call it before the
// connection row goes: deleting it removes its grants.
func (s *Service) EndConnection(ctx context.Context, tenantID, connectionID, actorID, reason string) ([]string, error) {
	gs, err := s.st.ListConnectionEntitlements(ctx, tenantID, connectionID)
	if err != nil {
		return nil, fmt.Errorf("end grants of connection %s: %w", connectionID, err)
	}
	var flows []string
	var errs []error
	for i := range gs {
		g := &gs[i]
		if g.Ending() {
			flows = append(flows, g.EndingFlowID)
			continue
		}
		f, err := s.end(ctx, g, actorID, reason, ActionRevoked)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		flows = append(flows, f)
	}
	return flows, errors.Join(errs...)
}

// end starts g's deprovisioning flow, records it on the grant and audits
// it, in one transaction.
func (s *Service) end(ctx context.Context, g *accessbot.Entitlement, actorID, reason, action string) (string, error) {
	var flow string
	err := s.st.InTx(ctx, func(q store.Queries) error {
		var err error
		flow, err = s.endTx(ctx, q, g, actorID, reason, action)
		return err
	})
	if err != nil {
		return "", err
	}
	s.log.Info().Str("tenant", g.TenantID).Str("grant", g.ID).Str("flow", flow).Str("actor", actorID).Str("reason", reason).Msg("grant deprovisioning started")
	return flow, nil
}

// endTx is end inside the caller's transaction q: the flow, its first job,
// the grant's record of it and the audit entry commit with the caller's
// change, or not at all.
func (s *Service) endTx(ctx context.Context, q store.Queries, g *accessbot.Entitlement, actorID, reason, action string) (string, error) {
	flow, err := s.dep.DeprovisionTx(ctx, q, g.TenantID, g.ID, actorID, reason)
	if err != nil {
		return "", fmt.Errorf("start deprovisioning of grant %s: %w", g.ID, err)
	}
	now := s.clock().UTC()
	// Not found: the flow already finished and removed the grant.
	err = q.MarkEntitlementEnding(ctx, g.TenantID, g.ID, flow, now)
	if errors.Is(err, accessbot.ErrStale) {
		// Another caller recorded its flow first; the Deprovisioner is
		// idempotent per grant, so that is the same deprovisioning.
		cur, gerr := q.GetEntitlement(ctx, g.TenantID, g.ID)
		if gerr != nil {
			return "", fmt.Errorf("record deprovisioning %s of grant %s: %w", flow, g.ID, gerr)
		}
		return cur.EndingFlowID, nil
	}
	if err != nil && !errors.Is(err, accessbot.ErrNotFound) {
		return "", fmt.Errorf("record deprovisioning %s of grant %s: %w", flow, g.ID, err)
	}
	after, _ := json.Marshal(map[string]any{"flow_id": flow, "reason": reason, "expires_at": g.ExpiresAt})
	if err := q.AppendAudit(ctx, &accessbot.AuditEntry{ID: uuid.Must(uuid.NewV7()).String(), TenantID: g.TenantID, At: now,
		ActorID: actorID, Action: action, ObjectType: AuditObject, ObjectID: g.ID, After: after}); err != nil {
		return "", fmt.Errorf("record deprovisioning %s of grant %s: %w", flow, g.ID, err)
	}
	return flow, nil
}

// Notices returns the tenant's expiry-notice offsets, longest first.
func (s *Service) Notices(ctx context.Context, tenantID string) ([]time.Duration, error) {
	set, err := s.st.GetGrantSettings(ctx, tenantID)
	if errors.Is(err, accessbot.ErrNotFound) {
		return DefaultNotices, nil
	}
	if err != nil {
		return nil, err
	}
	out := slices.Clone(set.ExpiryNotices)
	slices.SortFunc(out, func(a, b time.Duration) int { return int(b - a) })
	return out, nil
}

// DueNotice is the notice g's holder should have by now: of the offsets
// whose moment (end - offset) has passed and came after the grant began,
// the shortest. A bot that was down through several moments sends only the
// latest; a grant shorter than an offset skips that notice.
func DueNotice(g *accessbot.Entitlement, offsets []time.Duration, now time.Time) (time.Duration, bool) {
	if g.ExpiresAt == nil || !now.Before(*g.ExpiresAt) || g.Ending() {
		return 0, false
	}
	var best time.Duration
	found := false
	for _, o := range offsets {
		at := g.ExpiresAt.Add(-o)
		if now.Before(at) || at.Before(g.GrantedAt) {
			continue
		}
		if !found || o < best {
			best, found = o, true
		}
	}
	return best, found
}

func (s *Service) sendNotices(ctx context.Context, tenantID string, now time.Time) error {
	if s.note == nil {
		return nil
	}
	offsets, err := s.Notices(ctx, tenantID)
	if err != nil {
		return fmt.Errorf("tenant %s: expiry notices: %w", tenantID, err)
	}
	if len(offsets) == 0 {
		return nil
	}
	soon, err := s.st.ListExpiringEntitlements(ctx, tenantID, now.Add(offsets[0]))
	if err != nil {
		return fmt.Errorf("tenant %s: %w", tenantID, err)
	}
	var errs []error
	for i := range soon {
		g := &soon[i]
		o, ok := DueNotice(g, offsets, now)
		if !ok {
			continue
		}
		if err := s.note.ExpiryNotice(ctx, g, o); err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: expiry notice of grant %s: %w", tenantID, g.ID, err))
		}
	}
	return errors.Join(errs...)
}
