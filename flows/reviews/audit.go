package reviews

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

// Audit object types and actions written by this package.
const (
	AuditCampaign     = "review_campaign"
	AuditItem         = "review_item"
	ActionLaunched    = "review.launched"
	ActionKept        = "review.kept"
	ActionRevoked     = "review.revoked"
	ActionNominated   = "review.nominated"
	ActionDelegated   = "review.delegated"
	ActionReminded    = "review.reminded"
	ActionEscalated   = "review.escalated"
	ActionCompleted   = "review.completed"
	ActionDefined     = "review.defined" // an admin saved a recurring campaign from Slack
	AuditDefinition   = "campaign"       // object type of definitions, as apply writes them
	actorSystem       = accessbot.ActorSystem
	auditTimeFormat   = time.RFC3339
	maxAuditListItems = 50
)

func audit(ctx context.Context, q store.Queries, tenantID string, at time.Time, actor, action, objType, objID string, before, after any) error {
	e := &accessbot.AuditEntry{ID: newID(), TenantID: tenantID, At: at, ActorID: actor, Action: action, ObjectType: objType, ObjectID: objID}
	var err error
	if before != nil {
		if e.Before, err = json.Marshal(before); err != nil {
			return fmt.Errorf("audit %s: %w", action, err)
		}
	}
	if after != nil {
		if e.After, err = json.Marshal(after); err != nil {
			return fmt.Errorf("audit %s: %w", action, err)
		}
	}
	if err := q.AppendAudit(ctx, e); err != nil {
		return fmt.Errorf("audit %s of %s: %w", action, objID, err)
	}
	return nil
}

// itemState is an item as audit entries show it.
type itemState struct {
	Status     accessbot.ReviewStatus `json:"status"`
	Level      int                    `json:"level"` // 1-based
	ReviewerID string                 `json:"reviewer_id"`
	Comment    string                 `json:"comment,omitempty"`
	Reason     string                 `json:"reason,omitempty"`
	Campaign   string                 `json:"campaign_id,omitempty"`
	Subject    string                 `json:"subject,omitempty"`
	Entitle    string                 `json:"entitlement,omitempty"`
	App        string                 `json:"app,omitempty"`
}

func stateOf(it *accessbot.ReviewItem) itemState {
	return itemState{Status: it.Status, Level: it.Level + 1, ReviewerID: it.ReviewerID, Comment: it.Comment,
		Campaign: it.CampaignID, Subject: it.Subject, Entitle: it.EntitlementName, App: it.AppName}
}
