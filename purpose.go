package accessbot

import "time"

// Request kinds of purposes (just-in-time, purpose-based access): the
// assignment of a person to a purpose, through the purpose's assignment
// chain, and one start of it, through its start chain when it has one.
const (
	RequestPurposeAssign RequestKind = "purpose_assign"
	RequestPurposeStart  RequestKind = "purpose_start"
)

// Purpose is a named bundle of entitlements, across applications, that an
// assigned person switches on for a while (a session) and off again. It is
// declared in the tenant file's purposes: section.
type Purpose struct {
	ID          string
	TenantID    string
	Name        string // unique per tenant; what /access start takes
	Description string
	// Connections are the entitlements a session provisions, in order.
	Connections []PurposeConnection
	// MaxSession bounds a session's length: at start, and an extended end
	// is at most MaxSession from the moment of the extension.
	MaxSession time.Duration
	// AssignChain names the approval chain of an assignment request;
	// StartChain, when set, the chain each start goes through.
	AssignChain string
	StartChain  string
	// Channel is the Slack channel id starts and stops are announced in; "" none.
	Channel   string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// PurposeConnection is one entitlement of a purpose: a connection of an application.
type PurposeConnection struct {
	AppID        string `json:"app_id"`
	ConnectionID string `json:"connection_id"`
}

// PurposeAssignment records that a person may start a purpose: the
// approved assignment request (RequestID).
type PurposeAssignment struct {
	TenantID   string
	PurposeID  string
	UserID     string
	RequestID  string
	AssignedAt time.Time
}

// SessionStatus is where a purpose session stands.
type SessionStatus string

const (
	// SessionActive: the access is (being) provisioned, until EndsAt.
	SessionActive SessionStatus = "active"
	// SessionEnding: stopped or past its end; deprovisioning is being
	// started for every entitlement, and waits for any provisioning still
	// running to finish first.
	SessionEnding SessionStatus = "ending"
	// SessionEnded: every entitlement's deprovisioning has started (or it
	// was never granted).
	SessionEnded SessionStatus = "ended"
)

// PurposeSession is one start of a purpose by one person. Each of the
// purpose's connections is provisioned through an approved user_access
// request of its own (RequestIDs, in the purpose's order), so it runs the
// application's provisioning chain and its grant is ended through the
// deprovisioning chain.
type PurposeSession struct {
	ID         string
	TenantID   string
	PurposeID  string
	UserID     string
	Reason     string
	RequestIDs []string
	StartedAt  time.Time
	EndsAt     time.Time
	Status     SessionStatus
	// EndedBy and EndReason say who stopped it and why ("system" and
	// "expired" at its end); EndingAt when it began ending, EndedAt when
	// every deprovisioning had started.
	EndedBy   string
	EndReason string
	EndingAt  *time.Time
	EndedAt   *time.Time
}
