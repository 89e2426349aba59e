package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot"
	"github.com/accessbot/accessbot/flows/findings"
	"github.com/accessbot/accessbot/flows/grants"
	"github.com/accessbot/accessbot/handlers/views"
)

// sayError is an answer for the person who clicked, in plain words.
type sayError string

func (e sayError) Error() string { return string(e) }

// Revoker ends an employee's access to an application through its
// deprovisioning chain; *grants.Service is one.
type Revoker interface {
	RevokeIdentity(ctx context.Context, tenantID, appID, identityID, userID, actorID, reason string) (flows []string, unmapped int, err error)
}

var _ Revoker = (*grants.Service)(nil)

// RevokeItemAction is the **Revoke** button on a "terminated employee still
// has access" finding (digest item and critical alert), for tenant admins
// only (re-checked on the server), behind a confirmation dialog. It starts
// the deprovisioning of every grant of the employee in the account's
// application and resolves the finding.
func RevokeItemAction(r Revoker) ItemAction {
	return ItemAction{
		ItemAction: views.ItemAction{ID: "revoke", Label: "Revoke", Style: slack.StyleDanger,
			Rules:   []string{findings.RuleTerminatedActive},
			Confirm: "This removes all of this person's access to the application through its deprovisioning chain. It cannot be undone from Slack."},
		AdminOnly: true,
		Run: func(ctx context.Context, h *Digest, actor *bot.Actor, f *accessbot.Finding) (*accessbot.Finding, error) {
			return revokeFinding(ctx, r, h, actor, f)
		},
	}
}

func revokeFinding(ctx context.Context, r Revoker, h *Digest, actor *bot.Actor, f *accessbot.Finding) (*accessbot.Finding, error) {
	st := h.cfg.Store
	tid := actor.Tenant.ID
	if f.Rule != findings.RuleTerminatedActive || f.Subject.Kind != accessbot.SubjectIdentity {
		return nil, sayError("Revoke works on “terminated employee still has access” findings only.")
	}
	if f.Status == accessbot.FindingResolved {
		return f, fmt.Errorf("finding %s is resolved: %w", f.ID, accessbot.ErrStale)
	}
	ident, err := st.GetIdentity(ctx, tid, f.Subject.ID)
	if errors.Is(err, accessbot.ErrNotFound) {
		return nil, sayError("The account this finding is about is no longer in the inventory.")
	}
	if err != nil {
		return nil, err
	}
	var det struct {
		Employee string `json:"employee"`
	}
	_ = json.Unmarshal(f.Details, &det)
	emp, err := st.GetUserByEmail(ctx, tid, det.Employee)
	if errors.Is(err, accessbot.ErrNotFound) || det.Employee == "" {
		return nil, sayError("I cannot tell which employee this account belongs to, so there is nothing I can revoke. Remove the account in the application by hand.")
	}
	if err != nil {
		return nil, err
	}
	flows, unmapped, err := r.RevokeIdentity(ctx, tid, ident.AppID, ident.ID, emp.ID, actor.User.ID, "terminated employee still has access (finding "+f.ID+")")
	if err != nil {
		return nil, fmt.Errorf("revoke access of %s: %w", emp.ID, err)
	}
	if len(flows) == 0 {
		return nil, sayError(fmt.Sprintf("None of %s's access in this application matches a connection accessbot knows, so there is no chain to run. Remove the account in the application by hand.", emp.Name))
	}
	after, _ := json.Marshal(map[string]any{"flows": flows, "unmapped": unmapped, "user_id": emp.ID})
	if err := st.AppendAudit(ctx, &accessbot.AuditEntry{TenantID: tid, ActorID: actor.User.ID, Action: "finding.revoked",
		ObjectType: "finding", ObjectID: f.ID, After: after}); err != nil {
		return nil, err
	}
	nf, err := setStatus(accessbot.FindingResolved, accessbot.FindingOpen, accessbot.FindingAcknowledged)(ctx, h, actor, f)
	if errors.Is(err, accessbot.ErrStale) {
		// Someone resolved it meanwhile; the removal started all the same.
		return st.GetFinding(ctx, tid, f.ID)
	}
	return nf, err
}
