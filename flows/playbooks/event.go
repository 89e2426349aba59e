// Package playbooks sends events to the tenant's playbook servers: signed
// (Standard Webhooks), durable (one River job per delivery, retried with the
// same event id), through the outbound client (dial-time address checks),
// and audited (a run row per invocation and an audit entry when it ends).
//
// Emit is the one entry point for events: flows call it (or EmitTx inside
// their own transaction) with what happened; it picks the active playbooks
// of the event's type, integration-specific ones first, and queues one
// delivery each. An event with a Key is queued once however often it is
// emitted, so callers that run at least once (durable jobs) may call it again.
package playbooks

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/accessbot/accessbot"
)

// Event types. The prefix names the playbook type that receives it; sync
// events go to every playbook with the recurrence set, whatever its type.
const (
	RequestCreated     = "request.created"
	RequestApproved    = "request.approved"
	RequestDenied      = "request.denied"
	RequestProvisioned = "request.provisioned"
	FindingOpened      = "finding.opened"
	ReviewDecided      = "review.decided"
	SyncCompleted      = "sync.completed"
	// Manual runs send "<type>.manual", e.g. "finding.manual".
	manualSuffix = ".manual"
)

// Triggers, as runs and events record them.
const (
	TriggerEvent  = "event"
	TriggerManual = "manual"
	TriggerSync   = "sync"
)

// Event is something that happened, as a flow reports it.
type Event struct {
	Type string
	// Key identifies this occurrence (a request id and its new status, a
	// sync id): the same Key is queued once per playbook. "" means every
	// emit is a new occurrence.
	Key        string
	ObjectType string // e.g. "access_request", "finding", "review_item", "application"
	ObjectID   string
	// AppID is the application the event is about, "" when none: its
	// integration-specific playbooks run (first) beside the global ones.
	AppID   string
	Object  any    // sent as "object"
	ActorID string // who caused it; "" means accessbot itself
	At      time.Time
}

// playbookType is the type of playbook an event type goes to ("" for sync).
func playbookType(eventType string) accessbot.PlaybookType {
	prefix, _, _ := strings.Cut(eventType, ".")
	if t := accessbot.PlaybookType(prefix); t.Valid() {
		return t
	}
	return ""
}

// ManualType is the event type of a manual run of a playbook of type t.
func ManualType(t accessbot.PlaybookType) string { return string(t) + manualSuffix }

// Body is the "data" of every delivery: the stable schema receivers read
// (docs/playbooks.md). The request around it is the Standard Webhooks
// envelope {"type", "timestamp", "data"}.
type Body struct {
	EventID    string          `json:"event_id"` // also the webhook-id header
	Type       string          `json:"type"`
	Time       time.Time       `json:"time"` // when it happened (UTC)
	Tenant     TenantRef       `json:"tenant"`
	Playbook   PlaybookRef     `json:"playbook"`
	Trigger    TriggerRef      `json:"trigger"`
	ObjectType string          `json:"object_type"`
	ObjectID   string          `json:"object_id"`
	Object     json.RawMessage `json:"object"`
}

// TenantRef names the tenant.
type TenantRef struct {
	ID   string `json:"id"`
	Slug string `json:"slug"`
}

// PlaybookRef names the playbook being invoked.
type PlaybookRef struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Type  string `json:"type"`
	Scope string `json:"scope"`            // "global" or "application"
	AppID string `json:"app_id,omitempty"` // with scope "application"
}

// TriggerRef says why it ran: an event, a person (manual) or a sync.
type TriggerRef struct {
	Kind    string `json:"kind"`
	ActorID string `json:"actor_id"` // a user id, or "system"
}

func scopeOf(p *accessbot.Playbook) string {
	if p.AppID != "" {
		return "application"
	}
	return "global"
}

func buildBody(eventID string, ev Event, tenant *accessbot.Tenant, p *accessbot.Playbook, trigger, actor string) (json.RawMessage, error) {
	obj, err := json.Marshal(ev.Object)
	if err != nil {
		return nil, fmt.Errorf("encode %s object: %w", ev.Type, err)
	}
	b := Body{
		EventID: eventID, Type: ev.Type, Time: ev.At.UTC().Truncate(time.Microsecond),
		Tenant:     TenantRef{ID: tenant.ID, Slug: tenant.Slug},
		Playbook:   PlaybookRef{ID: p.ID, Name: p.Name, Type: string(p.Type), Scope: scopeOf(p), AppID: p.AppID},
		Trigger:    TriggerRef{Kind: trigger, ActorID: actor},
		ObjectType: ev.ObjectType, ObjectID: ev.ObjectID, Object: obj,
	}
	out, err := json.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("encode %s event: %w", ev.Type, err)
	}
	return out, nil
}
