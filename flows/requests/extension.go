package requests

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

// FieldEntitlement keys an Extension's problem with the grant itself.
const FieldEntitlement = "entitlement"

// Extension asks for more time on a time-bound grant the requester holds
// (the Extend button of an expiry notice). It is a user_access request for
// the grant's connection, through the same approval chain, whose Payload
// names the grant (ExtensionPayload). Once approved, the provisioner moves
// the grant's end by Duration instead of provisioning again (see
// ExtensionOf). The new end may be at most the application's MaxDuration
// from now (MaxExtension).
type Extension struct {
	TenantID      string
	RequesterID   string // the grant's holder
	EntitlementID string
	Duration      time.Duration
	Justification string
}

// ExtensionPayload is an extension request's Payload: the grant and the
// end it was asked to move, so a retried approval moves it once.
type ExtensionPayload struct {
	Extends string    `json:"extends"`
	From    time.Time `json:"from"`
}

// ExtensionOf returns the payload of an extension request, or false for
// any other request.
func ExtensionOf(req *accessbot.AccessRequest) (ExtensionPayload, bool) {
	var p ExtensionPayload
	if req == nil || req.Kind != accessbot.RequestUserAccess || len(req.Payload) == 0 {
		return p, false
	}
	if json.Unmarshal(req.Payload, &p) != nil || p.Extends == "" {
		return p, false
	}
	return p, true
}

// MaxExtension is how much a time-bound grant g may still be extended at
// now under limit (ExtensionLimit): up to limit from now, less what is
// left of it. capped is false when there is no limit (then any extension
// fits).
func MaxExtension(limit time.Duration, g *accessbot.Entitlement, now time.Time) (max time.Duration, capped bool) {
	if limit <= 0 {
		return 0, false
	}
	if g.ExpiresAt == nil {
		return 0, true
	}
	return now.Add(limit).Sub(*g.ExpiresAt), true
}

// ExtensionLimit is how long from now access to connection connID of app
// may run once extended: the application's MaxDuration, or for high-risk
// access under policy p the high-risk maximum when that is shorter (high
// is then true); 0 for no limit.
func ExtensionLimit(p *accessbot.RequestPolicy, app *accessbot.Application, connID string) (limit time.Duration, high bool) {
	limit = app.MaxDuration
	if p != nil && p.Risk.TierOf(app.ID, connID) == accessbot.RiskHigh {
		if _, hi := highRiskLimits(p.Risk); limit <= 0 || hi < limit {
			return hi, true
		}
	}
	return limit, false
}

// ErrNotExtendable: the grant is permanent, already ending, or at its cap.
var ErrNotExtendable = errors.New("this access cannot be extended")

func (in Extension) scope() (string, string) { return in.TenantID, in.RequesterID }

func (in Extension) validate(ctx context.Context, q store.Queries, d *Draft, fe *FieldErrors) error {
	d.Request.Kind = accessbot.RequestUserAccess
	g, err := q.GetEntitlement(ctx, in.TenantID, in.EntitlementID)
	if errors.Is(err, accessbot.ErrNotFound) {
		fe.add(FieldEntitlement, "That access no longer exists.")
		return nil
	}
	if err != nil {
		return fmt.Errorf("load grant %s: %w", in.EntitlementID, err)
	}
	if g.UserID != in.RequesterID {
		return fmt.Errorf("extend grant %s: only its holder can: %w", g.ID, ErrForbidden)
	}
	switch {
	case g.Ending():
		fe.add(FieldEntitlement, "This access is already being removed.")
		return nil
	case g.ExpiresAt == nil:
		fe.add(FieldEntitlement, "This access is permanent: there is nothing to extend.")
		return nil
	}
	c, err := q.GetConnection(ctx, in.TenantID, g.ConnectionID)
	if err != nil {
		return fmt.Errorf("load connection %s of grant %s: %w", g.ConnectionID, g.ID, err)
	}
	if err := loadApp(ctx, q, in.TenantID, c.AppID, d, fe); err != nil || d.App == nil {
		return err
	}
	d.Connection, d.Target = c, d.Requester
	d.Request.ConnectionID, d.Request.TargetUserID = c.ID, g.UserID
	// The grant's request may have been routed by the channel it was made
	// in: the extension goes through the same chain.
	if g.RequestID != "" {
		orig, err := q.GetRequest(ctx, in.TenantID, g.RequestID)
		switch {
		case err == nil:
			d.channel = orig.Channel
		case !errors.Is(err, accessbot.ErrNotFound):
			return fmt.Errorf("load request %s of grant %s: %w", g.RequestID, g.ID, err)
		}
	}
	// More time on high-risk access is high-risk access: the same limits,
	// and step-up for every approval.
	d.Risk = d.policy.Risk.TierOf(d.App.ID, c.ID)
	limit, high := ExtensionLimit(d.policy, d.App, c.ID)
	limitName := d.App.Name + " allows"
	if high {
		limitName = "This is high-risk access:"
	}
	max, capped := MaxExtension(limit, g, d.now)
	switch {
	case in.Duration <= 0:
		fe.add(FieldDuration, "Choose how much longer you need it.")
	case capped && max < time.Minute:
		fe.add(FieldDuration, fmt.Sprintf("%s access for at most %s from now, and yours already runs that long.", limitName, humanDuration(limit)))
	case capped && in.Duration > max:
		fe.add(FieldDuration, fmt.Sprintf("%s access for at most %s from now: you can extend by up to %s.", limitName, humanDuration(limit), humanDuration(max.Truncate(time.Minute))))
	}
	d.Request.Duration = in.Duration
	j, ok := checkText(in.Justification, MinJustification, MaxJustification)
	if !ok {
		fe.add(FieldJustification, fmt.Sprintf("Say why you need it longer, in %d to %d characters.", MinJustification, MaxJustification))
	} else if d.Risk == accessbot.RiskHigh {
		checkHighRiskWords(d.policy.Risk, j, fe)
	}
	d.Request.Justification = j
	p, err := json.Marshal(ExtensionPayload{Extends: g.ID, From: g.ExpiresAt.UTC()})
	if err != nil {
		return fmt.Errorf("extension payload: %w", err)
	}
	d.Request.Payload = p
	d.Request.OpenKey = openKey(d.Request.Kind, g.UserID, d.App.ID, c.ID, "extend:"+g.ID)
	return nil
}
