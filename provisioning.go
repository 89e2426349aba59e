package accessbot

import (
	"encoding/json"
	"time"
)

// ActionScript is one ActionChainScript as stored: a step template (see
// flows/provision, which renders and runs it).
type ActionScript struct {
	Type    string            `json:"type"`
	Params  map[string]string `json:"params,omitempty"`
	Timeout time.Duration     `json:"timeout,omitempty"`
}

// ActionChain is the provisioning and the deprovisioning chain of one
// relationship type of an application.
type ActionChain struct {
	Provision   []ActionScript `json:"provision,omitempty"`
	Deprovision []ActionScript `json:"deprovision,omitempty"`
}

// FlowStatus is where an ActionFlow (or one of its steps) stands.
type FlowStatus string

const (
	FlowPending   FlowStatus = "pending"
	FlowRunning   FlowStatus = "running"
	FlowWaiting   FlowStatus = "waiting" // a step waits for a person's answer
	FlowDone      FlowStatus = "done"
	FlowFailed    FlowStatus = "failed"
	FlowCancelled FlowStatus = "cancelled"
)

// Finished reports whether nothing more runs for a flow in status s.
func (s FlowStatus) Finished() bool {
	return s == FlowDone || s == FlowCancelled
}

// ActionFlow carries out (or ends) one relationship: made from an action
// chain, 1:1 with what it acts on (Key, unique per tenant).
type ActionFlow struct {
	ID            string
	TenantID      string
	Key           string
	RequestID     string // the request it carries out, "" for a deprovisioning not caused by one
	EntitlementID string // the grant it ends (deprovision)
	AppID         string
	ConnectionID  string
	UserID        string // whose access it is
	Relationship  string // account, group, role, policy, connection_create, …
	Direction     string // provision or deprovision
	Status        FlowStatus
	Current       int             // index of the step running or next to run
	Fields        json.RawMessage // the template fields, fixed when the flow was made
	Outputs       map[string]string
	ActorID       string // who started it: an approver, an admin, "system"
	Reason        string
	// Version grows with every write; SaveActionFlow writes only over the version read.
	Version    int
	Steps      []ActionFlowStep
	CreatedAt  time.Time
	UpdatedAt  time.Time
	FinishedAt *time.Time
}

// ActionFlowStep is one ActionFlowScript: a step of a flow, its params still templates.
type ActionFlowStep struct {
	Index      int
	Type       string
	Params     map[string]string
	Timeout    time.Duration
	Status     FlowStatus
	Attempts   int
	LastError  string
	Note       string
	Outputs    map[string]string
	AnsweredBy string
	StartedAt  *time.Time
	FinishedAt *time.Time
}

// RevokedAccess is a grant accessbot ended: a done deprovisioning flow of
// one user's access to one connection.
type RevokedAccess struct {
	UserID, ConnectionID, FlowID string
	FinishedAt                   time.Time
}
