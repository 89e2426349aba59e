// Package tenantfile reads a tenant file (tenant data as code) and applies it
// to the store: the tenant, its Slack workspace binding, users, applications
// with owners, connections and resources, and approval chains. A file is
// parsed and validated whole before the store is touched, and applied in one
// transaction.
package tenantfile

import (
	"time"

	"github.com/accessbot/accessbot"
)

// File is a parsed, validated tenant file. References between its parts
// (managers, owners, approvers) are by email and name, and every one of them
// resolves inside the file.
type File struct {
	Name         string // file name, for messages
	Tenant       Tenant
	Slack        *Workspace // nil: the binding is left as it is
	Users        []User
	Applications []Application
	Chains       []Chain
	Prune        Prune
	Schedules    []Schedule      // nil: no schedules: key, the store's are left alone (schedules.go)
	Alerts       *Alerts         // nil: no alerts: key, left alone
	Rules        []Rule          // nil: no rules: key, the store's are left alone (rules.go)
	Campaigns    []Campaign      // nil: no campaigns: key, the store's are left alone (campaigns.go)
	Reviews      *Reviews        // nil: no reviews: key, left alone (reviews.go)
	Grants       *Grants         // nil: no grants: key, left alone (grants.go)
	Imports      *Imports        // nil: no imports: key, left alone (imports.go)
	Outbound     *Outbound       // nil: no outbound: key, left alone (connectors.go)
	Connectors   []ConnectorDecl // nil: no connectors: key, the store's are left alone (connectors.go)
	Playbooks    []PlaybookDecl  // nil: no playbooks: key, the store's are left alone (playbooks.go)
	Routes       []Route         // the channels: section (routes.go)
	OnBehalf     *OnBehalf       // nil: no on_behalf: key, left alone (onbehalf.go)
	RiskPolicy   *RiskPolicy     // nil: no risk: key, left alone (risk.go)
	StepUp       *StepUp         // nil: no step_up: key, left alone (risk.go)
	Purposes     []PurposeDecl   // nil: no purposes: key, the store's are left alone (purposes.go)

	usersAt   loc
	routesSet bool // channels: is present (else the store's routes are left alone)
	routesAt  loc
}

type Tenant struct {
	Slug string
	Name string
	at   loc
}

type Workspace struct {
	TeamID   string
	TeamName string
	at       loc
}

type User struct {
	Email         string // normalized (lower case)
	Name          string
	Manager       string // email, "" for none
	Department    string
	Status        accessbot.UserStatus
	TerminatedAt  *time.Time
	Role          accessbot.Role
	Delegate      string // email, "" for none
	DelegateUntil *time.Time

	at, managerAt, delegateAt loc
}

type Application struct {
	Name             string
	Description      string
	Connector        string
	PrimaryOwner     string // email
	SecondaryOwner   string // email, "" for none
	MaxDuration      time.Duration
	ConnectionSchema []accessbot.SchemaField
	Labels           []string           // normalized; apply to all the application's inventory entitlements
	Risk             accessbot.RiskTier // "" for none; see risk.go
	// Provisioning holds the action chains by relationship type; see provisioning.go.
	Provisioning map[string]accessbot.ActionChain
	Connections  []Connection
	Resources    []Resource
	// Sync is when the application's directory connector is read; nil: never on a schedule (appsync.go).
	Sync *AppSync

	at, primaryAt, secondaryAt, riskAt loc
}

type Connection struct {
	Name        string
	Type        string
	Description string
	Attributes  map[string]string
	Labels      []string // normalized; apply to the inventory entitlement of this name
	Risk        accessbot.RiskTier
	at, riskAt  loc
}

type Resource struct {
	Name string
	Type string
	at   loc
}

// Chain is an approval chain. Application and Connection are names; both
// empty makes it the tenant default.
type Chain struct {
	Name        string
	Application string
	Connection  string
	Levels      []Level
	// ChannelsOnly: the chain applies only where a channel route names it,
	// never as the tenant default.
	ChannelsOnly bool

	at, appAt, connAt, channelsOnlyAt loc
}

type Level struct {
	Rule      accessbot.ApprovalRule
	Approvers []Approver
	// Quorum is k of rule quorum (quorum: 2 alone implies it).
	Quorum int
	// Channel is the approvers' channel (a Slack channel id) the level's
	// card is posted in, beside the approvers' DMs unless DMs is false.
	Channel string
	DMs     bool

	at, quorumAt, channelAt loc
}

// Approver is a kind and, for ApproverUser, the user's email.
type Approver struct {
	Kind  accessbot.ApproverKind
	Email string
	at    loc
}

// Prune says which kinds of objects missing from the file are deleted. All
// default to false: what the file does not mention is left alone.
type Prune struct {
	Applications   bool // applications of the tenant that are not in the file
	Connections    bool // connections of listed applications that are not listed
	Resources      bool // resources of listed applications that are not listed
	ApprovalChains bool // approval chains of the tenant that are not in the file
}
