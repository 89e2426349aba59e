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

// FieldPurpose keys a purpose request's problem with the purpose itself.
const FieldPurpose = "purpose"

// PurposeAssign asks that the requester be assigned to a purpose, through
// the purpose's assignment chain. Once approved, the provisioner records the
// assignment (flows/purposes); nothing is provisioned until a start.
type PurposeAssign struct {
	TenantID      string
	RequesterID   string
	PurposeID     string
	Justification string
}

// PurposeStart asks to start a purpose whose starts go through a chain of
// their own; once approved, the session starts (flows/purposes).
type PurposeStart struct {
	TenantID    string
	RequesterID string
	PurposeID   string
	Duration    time.Duration
	Reason      string
}

// PurposeExtend asks for more time on an active session of a purpose
// whose starts go through a chain: an extension is a start of more time,
// so it goes through the same chain (a purpose_start request whose
// payload names the session). Once approved, the session's end moves
// (flows/purposes), within the purpose's maximum from then.
type PurposeExtend struct {
	TenantID    string
	RequesterID string
	SessionID   string
	Duration    time.Duration
	Reason      string
}

// PurposePayload is a purpose request's Payload.
type PurposePayload struct {
	PurposeID string `json:"purpose_id"`
	Purpose   string `json:"purpose"`
	// Session and From are set on an extension: the session, and its end
	// when the extension was asked for.
	Session string     `json:"session,omitempty"`
	From    *time.Time `json:"from,omitempty"`
}

// Extends reports whether the request is an extension of a session.
func (p PurposePayload) Extends() bool { return p.Session != "" }

// PurposeOf returns the payload of a purpose request, or false for any other request.
func PurposeOf(req *accessbot.AccessRequest) (PurposePayload, bool) {
	var p PurposePayload
	if req == nil || (req.Kind != accessbot.RequestPurposeAssign && req.Kind != accessbot.RequestPurposeStart) {
		return p, false
	}
	if json.Unmarshal(req.Payload, &p) != nil || p.PurposeID == "" {
		return p, false
	}
	return p, true
}

// chainNamed returns the chain called name.
func chainNamed(chains []accessbot.ApprovalChain, name string) (*accessbot.ApprovalChain, error) {
	for i := range chains {
		if chains[i].Name == name {
			if len(chains[i].Levels) == 0 {
				return nil, fmt.Errorf("%w: approval chain %q has no levels", ErrNoChain, name)
			}
			return &chains[i], nil
		}
	}
	return nil, fmt.Errorf("%w: approval chain %q does not exist", ErrNoChain, name)
}

// purposeDraft loads the purpose into d, standing in for the application
// (a purpose has no owners: an "owners" approver resolves to nobody, and
// admins stand in as for any level without approvers).
func purposeDraft(ctx context.Context, q store.Queries, tenantID, purposeID string, d *Draft, fe *FieldErrors) (*accessbot.Purpose, error) {
	p, err := q.GetPurpose(ctx, tenantID, purposeID)
	if errors.Is(err, accessbot.ErrNotFound) {
		fe.add(FieldPurpose, "That purpose no longer exists.")
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load purpose %s: %w", purposeID, err)
	}
	d.App = &accessbot.Application{TenantID: tenantID, Name: "purpose " + p.Name}
	d.Target = d.Requester
	d.Request.TargetUserID = d.Requester.ID
	b, err := json.Marshal(PurposePayload{PurposeID: p.ID, Purpose: p.Name})
	if err != nil {
		return nil, fmt.Errorf("purpose payload: %w", err)
	}
	d.Request.Payload = b
	return p, nil
}

func assigned(ctx context.Context, q store.Queries, tenantID, purposeID, userID string) (bool, error) {
	_, err := q.GetPurposeAssignment(ctx, tenantID, purposeID, userID)
	if errors.Is(err, accessbot.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

func (in PurposeAssign) scope() (string, string) { return in.TenantID, in.RequesterID }

func (in PurposeAssign) validate(ctx context.Context, q store.Queries, d *Draft, fe *FieldErrors) error {
	d.Request.Kind = accessbot.RequestPurposeAssign
	p, err := purposeDraft(ctx, q, in.TenantID, in.PurposeID, d, fe)
	if err != nil || p == nil {
		return err
	}
	d.chain = p.AssignChain
	ok, err := assigned(ctx, q, in.TenantID, p.ID, in.RequesterID)
	if err != nil {
		return err
	}
	if ok {
		fe.add(FieldPurpose, "You are already assigned to "+p.Name+": start it with `/access start "+p.Name+"`.")
	}
	j, good := checkText(in.Justification, MinJustification, MaxJustification)
	if !good {
		fe.add(FieldJustification, fmt.Sprintf("Say why you need this purpose, in %d to %d characters.", MinJustification, MaxJustification))
	}
	// A purpose that starts without approval grants its high-risk access on
	// the assignment's approval alone: that approval needs step-up.
	if p.StartChain == "" && purposeTier(d.policy, p) == accessbot.RiskHigh {
		d.Risk = accessbot.RiskHigh
		if good {
			checkHighRiskWords(d.policy.Risk, j, fe)
		}
	}
	d.Request.Justification = j
	d.Request.OpenKey = openKey(d.Request.Kind, in.RequesterID, "", "", "purpose:"+p.ID)
	return nil
}

func (in PurposeStart) scope() (string, string) { return in.TenantID, in.RequesterID }

func (in PurposeStart) validate(ctx context.Context, q store.Queries, d *Draft, fe *FieldErrors) error {
	d.Request.Kind = accessbot.RequestPurposeStart
	p, err := purposeDraft(ctx, q, in.TenantID, in.PurposeID, d, fe)
	if err != nil || p == nil {
		return err
	}
	if p.StartChain == "" {
		fe.add(FieldPurpose, p.Name+" starts without approval.")
		return nil
	}
	d.chain = p.StartChain
	ok, err := assigned(ctx, q, in.TenantID, p.ID, in.RequesterID)
	if err != nil {
		return err
	}
	if !ok {
		fe.add(FieldPurpose, "You are not assigned to "+p.Name+": ask for it first.")
	}
	switch {
	case in.Duration < time.Minute:
		fe.add(FieldDuration, "Choose how long you need it.")
	case in.Duration > p.MaxSession:
		fe.add(FieldDuration, fmt.Sprintf("%s runs for at most %s.", p.Name, humanDuration(p.MaxSession)))
	}
	d.Request.Duration = in.Duration
	r, good := checkText(in.Reason, MinJustification, MaxJustification)
	if !good {
		fe.add(FieldJustification, fmt.Sprintf("Say why you start it, in %d to %d characters.", MinJustification, MaxJustification))
	}
	// A session of high-risk access is high-risk: the words, the shorter
	// maximum, and step-up for each approval of its start.
	if purposeTier(d.policy, p) == accessbot.RiskHigh {
		d.Risk = accessbot.RiskHigh
		if _, maxDur := highRiskLimits(d.policy.Risk); in.Duration > maxDur {
			fe.add(FieldDuration, fmt.Sprintf("%s includes high-risk access: at most %s.", p.Name, humanDuration(maxDur)))
		}
		if good {
			checkHighRiskWords(d.policy.Risk, r, fe)
		}
	}
	d.Request.Justification = r
	d.Request.OpenKey = openKey(d.Request.Kind, in.RequesterID, "", "", "purpose-start:"+p.ID)
	return nil
}

// purposeTier is the highest risk tier of p's entitlements under policy pol.
func purposeTier(pol *accessbot.RequestPolicy, p *accessbot.Purpose) accessbot.RiskTier {
	if pol == nil {
		return ""
	}
	var tier accessbot.RiskTier
	for _, c := range p.Connections {
		switch pol.Risk.TierOf(c.AppID, c.ConnectionID) {
		case accessbot.RiskHigh:
			return accessbot.RiskHigh
		case accessbot.RiskMedium:
			tier = accessbot.RiskMedium
		case accessbot.RiskLow:
			if tier == "" {
				tier = accessbot.RiskLow
			}
		}
	}
	return tier
}

func (in PurposeExtend) scope() (string, string) { return in.TenantID, in.RequesterID }

func (in PurposeExtend) validate(ctx context.Context, q store.Queries, d *Draft, fe *FieldErrors) error {
	d.Request.Kind = accessbot.RequestPurposeStart
	ses, err := q.GetPurposeSession(ctx, in.TenantID, in.SessionID)
	if errors.Is(err, accessbot.ErrNotFound) {
		fe.add(FieldPurpose, "That session no longer exists.")
		return nil
	}
	if err != nil {
		return fmt.Errorf("load session %s: %w", in.SessionID, err)
	}
	p, err := purposeDraft(ctx, q, in.TenantID, ses.PurposeID, d, fe)
	if err != nil || p == nil {
		return err
	}
	if p.StartChain == "" {
		fe.add(FieldPurpose, p.Name+" is extended without approval.")
		return nil
	}
	d.chain = p.StartChain
	switch {
	case ses.UserID != in.RequesterID:
		fe.add(FieldPurpose, "Only the session's holder can extend it.")
	case ses.Status != accessbot.SessionActive:
		fe.add(FieldPurpose, "This session is no longer active.")
	}
	// The cap as flows/purposes.MaxExtension counts it, at the ask; the
	// approval applies it again at its own time.
	maxEnd := p.MaxSession
	// More time on high-risk access is high-risk as its start is: the
	// words, step-up, and an end at most the high-risk maximum from now.
	high := purposeTier(d.policy, p) == accessbot.RiskHigh
	if high {
		d.Risk = accessbot.RiskHigh
		_, maxDur := highRiskLimits(d.policy.Risk)
		maxEnd = min(maxEnd, maxDur)
	}
	room := max(d.now.Add(maxEnd).Sub(ses.EndsAt), 0)
	switch {
	case in.Duration < time.Minute:
		fe.add(FieldDuration, "Choose how much more time you need.")
	case in.Duration > room && high:
		fe.add(FieldDuration, fmt.Sprintf("%s includes high-risk access: it runs for at most %s from now.", p.Name, humanDuration(maxEnd)))
	case in.Duration > room:
		fe.add(FieldDuration, fmt.Sprintf("%s runs for at most %s from now.", p.Name, humanDuration(maxEnd)))
	}
	d.Request.Duration = in.Duration
	r, good := checkText(in.Reason, MinJustification, MaxJustification)
	if !good {
		fe.add(FieldJustification, fmt.Sprintf("Say why you need more time, in %d to %d characters.", MinJustification, MaxJustification))
	} else if high {
		checkHighRiskWords(d.policy.Risk, r, fe)
	}
	d.Request.Justification = r
	from := ses.EndsAt.UTC()
	b, err := json.Marshal(PurposePayload{PurposeID: p.ID, Purpose: p.Name, Session: ses.ID, From: &from})
	if err != nil {
		return fmt.Errorf("purpose payload: %w", err)
	}
	d.Request.Payload = b
	d.Request.OpenKey = openKey(d.Request.Kind, in.RequesterID, "", "", "purpose-extend:"+ses.ID)
	return nil
}
