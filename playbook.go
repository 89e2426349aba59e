package accessbot

import (
	"encoding/json"
	"time"
)

// PlaybookType is what a playbook acts on: the events it receives and the
// Slack objects offering it in their "Run playbook" menu.
type PlaybookType string

const (
	PlaybookFinding PlaybookType = "finding"
	PlaybookRequest PlaybookType = "request"
	PlaybookReview  PlaybookType = "review"
)

// PlaybookTypes lists the valid types in the order forms show them.
var PlaybookTypes = []PlaybookType{PlaybookFinding, PlaybookRequest, PlaybookReview}

// Valid reports whether t is a known type.
func (t PlaybookType) Valid() bool {
	return t == PlaybookFinding || t == PlaybookRequest || t == PlaybookReview
}

// Where a playbook was declared: the tenant file owns its own and leaves
// Slack-made ones alone.
const (
	SourceFile  = "file"
	SourceSlack = "slack"
)

// Playbook is an external server accessbot sends events to: the seed's
// global playbook (AppID "") or an integration-specific one (AppID set),
// which runs before the global ones for its application's events.
type Playbook struct {
	ID          string
	TenantID    string
	Name        string // unique per tenant, case-insensitively
	Description string
	Type        PlaybookType
	// OnSync is the seed's recurrence: run every time an application's data
	// syncs (an inventory upload until identity connectors land).
	OnSync bool
	URL    string
	AppID  string // "" for a global playbook
	Active bool
	// TokenSecret names the Secret holding the optional bearer token ("" for none).
	TokenSecret string
	// SigningSecret names the Secret holding the whsec_ Standard Webhooks key.
	SigningSecret string
	Source        string // SourceFile or SourceSlack
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// PlaybookRunStatus is where one delivery stands.
type PlaybookRunStatus string

const (
	RunPending   PlaybookRunStatus = "pending" // queued or between retries
	RunDelivered PlaybookRunStatus = "delivered"
	RunFailed    PlaybookRunStatus = "failed" // for good: no retry left or none can help
)

// PlaybookRun is one invocation of a playbook and its audit trail: what
// triggered it, the event sent (the same bytes and id on every attempt) and
// how the last attempt went.
type PlaybookRun struct {
	ID         string
	TenantID   string
	PlaybookID string
	EventID    string // webhook-id: unique per tenant, so an event is queued once
	EventType  string // e.g. "request.approved", "sync.completed", "finding.manual"
	ObjectType string
	ObjectID   string
	Trigger    string // "manual", "event" or "sync"
	ActorID    string // the user who ran it, or ActorSystem
	Event      json.RawMessage
	EventAt    time.Time
	Status     PlaybookRunStatus
	Attempts   int
	// ResponseStatus is the last answer's HTTP status, 0 when none came.
	ResponseStatus int
	Duration       time.Duration // of the last attempt
	ResponseBody   string        // start of the last answer, secrets removed
	Error          string
	// ReplyTo is where the person who ran it sees the outcome (opaque to the
	// store; the Slack layer encodes a channel and message there).
	ReplyTo    string
	CreatedAt  time.Time
	FinishedAt *time.Time
}
