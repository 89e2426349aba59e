package requests

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

// Audit actions written by this package, all with ObjectType AuditObject and ObjectID the request id.
const (
	AuditObject     = "access_request"
	ActionCreated   = "request.created"
	ActionApproved  = "request.approved" // one approval; After.status/level say whether it advanced or finished
	ActionDenied    = "request.denied"
	ActionCancelled = "request.cancelled"
	// ActionSteppedUp: an approver re-authenticated with the tenant's OIDC
	// provider before approving a high-risk request (who, when, auth_time).
	ActionSteppedUp = "request.stepped_up"
	ActionReminded  = "request.reminded"
	ActionEscalated = "request.escalated"
	ActionExpired   = "request.expired"
	auditTimeFormat = time.RFC3339Nano
)

// auditState is the before/after snapshot of a request in an audit entry.
type auditState struct {
	Status        accessbot.RequestStatus   `json:"status"`
	Level         int                       `json:"level"` // 1-based, as people read it
	Levels        []accessbot.ApprovalLevel `json:"levels,omitempty"`
	Kind          accessbot.RequestKind     `json:"kind,omitempty"`
	RequesterID   string                    `json:"requester_id,omitempty"`
	TargetUserID  string                    `json:"target_user_id,omitempty"`
	AppID         string                    `json:"app_id,omitempty"`
	ConnectionID  string                    `json:"connection_id,omitempty"`
	Payload       json.RawMessage           `json:"payload,omitempty"`
	DurationSecs  int64                     `json:"duration_s,omitempty"`
	Justification string                    `json:"justification,omitempty"`
	Channel       string                    `json:"channel,omitempty"` // where it was made
	RemindedAt    string                    `json:"reminded_at,omitempty"`
	EscalatedAt   string                    `json:"escalated_at,omitempty"`
	Decision      *auditDecision            `json:"decision,omitempty"`
	// Notified lists who a reminder or escalation went to.
	Notified []string `json:"notified,omitempty"`
}

type auditDecision struct {
	Level      int                    `json:"level"` // 1-based
	ApproverID string                 `json:"approver_id"`
	Decision   accessbot.DecisionKind `json:"decision"`
	Reason     string                 `json:"reason,omitempty"`
}

// stateOf snapshots r; full adds the request's immutable facts (used on creation).
func stateOf(r *accessbot.AccessRequest, full bool) auditState {
	st := auditState{Status: r.Status, Level: r.Level + 1, Levels: r.Levels}
	if r.RemindedAt != nil {
		st.RemindedAt = r.RemindedAt.UTC().Format(auditTimeFormat)
	}
	if r.EscalatedAt != nil {
		st.EscalatedAt = r.EscalatedAt.UTC().Format(auditTimeFormat)
	}
	if full {
		st.Kind, st.RequesterID, st.TargetUserID = r.Kind, r.RequesterID, r.TargetUserID
		st.AppID, st.ConnectionID, st.Payload = r.AppID, r.ConnectionID, r.Payload
		st.DurationSecs = int64(r.Duration / time.Second)
		st.Justification = r.Justification
		st.Channel = r.Channel
	}
	return st
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		// Only our own plain structs are marshalled here.
		panic(fmt.Sprintf("marshal audit state: %v", err))
	}
	return b
}

func appendAudit(ctx context.Context, q store.Queries, r *accessbot.AccessRequest, at time.Time, actor, action string, before, after *auditState) error {
	e := &accessbot.AuditEntry{
		ID: newID(), TenantID: r.TenantID, At: at, ActorID: actor, Action: action,
		ObjectType: AuditObject, ObjectID: r.ID,
	}
	if before != nil {
		e.Before = mustJSON(before)
	}
	if after != nil {
		e.After = mustJSON(after)
	}
	if err := q.AppendAudit(ctx, e); err != nil {
		return fmt.Errorf("audit %s of request %s: %w", action, r.ID, err)
	}
	return nil
}
