package accessbot

import "time"

// Access reviews: a campaign asks reviewers to keep or revoke each app
// entitlement an identity holds in the applications of its scope. Items are
// created per level: level 0 at launch, level n+1 for what level n kept.

// ReviewerRule says who reviews an item at one level.
type ReviewerRule string

const (
	// ReviewerAppOwner: the application's primary owner (else its secondary owner).
	ReviewerAppOwner ReviewerRule = "app_owner"
	// ReviewerManager: the manager of the employee the identity maps to.
	ReviewerManager ReviewerRule = "manager"
)

// Valid reports whether r is a known rule.
func (r ReviewerRule) Valid() bool { return r == ReviewerAppOwner || r == ReviewerManager }

// ReviewScope is what a campaign reviews.
type ReviewScope struct {
	AppIDs []string `json:"app_ids"`
	// PrivilegedOnly keeps only entitlements labelled LabelPrivileged.
	PrivilegedOnly bool `json:"privileged_only,omitempty"`
}

// CampaignDefinition is a campaign as declared (tenant file): it launches
// once (Cron empty) or on every slot of Cron in TimeZone. Each launch makes
// one Campaign, due DueAfter after it launched (or at DueAt for a one-off).
type CampaignDefinition struct {
	TenantID string
	Name     string // unique per tenant
	Scope    ReviewScope
	Levels   []ReviewerRule
	Cron     string // "" for a one-off
	TimeZone string // IANA; required with Cron
	// DueAt is a one-off's due date; DueAfter a recurring one's length.
	DueAt     *time.Time
	DueAfter  time.Duration
	CreatedAt time.Time
	UpdatedAt time.Time
	// Source is who manages the definition: the tenant file ("" reads as
	// CampaignSourceFile) or Slack; apply deletes only file-sourced ones.
	Source CampaignSource
}

// CampaignSource records where a campaign definition came from.
type CampaignSource string

const (
	CampaignSourceFile  CampaignSource = "file"
	CampaignSourceSlack CampaignSource = "slack"
)

// FromSlack reports whether the definition was started from Slack.
func (d *CampaignDefinition) FromSlack() bool { return d.Source == CampaignSourceSlack }

type CampaignStatus string

const (
	CampaignActive    CampaignStatus = "active"
	CampaignCompleted CampaignStatus = "completed" // every item of every level decided
)

// Campaign is one launched access review.
type Campaign struct {
	ID       string
	TenantID string
	Name     string
	Scope    ReviewScope
	Levels   []ReviewerRule
	DueAt    time.Time
	Status   CampaignStatus
	// CreatedBy is the admin who launched it, or ActorSystem for a definition's launch.
	CreatedBy string
	// Definition and Slot name the definition launch it came from, unique
	// together, so a slot launches once; both empty for an ad-hoc campaign.
	Definition  string
	Slot        *time.Time
	LaunchedAt  time.Time
	CompletedAt *time.Time
}

type ReviewStatus string

const (
	ReviewPending ReviewStatus = "pending"
	ReviewKept    ReviewStatus = "kept"
	ReviewRevoked ReviewStatus = "revoked"
)

type ReviewDecision string

const (
	DecisionKeep   ReviewDecision = "keep"
	DecisionRevoke ReviewDecision = "revoke"
)

// ReviewItem is one app entitlement held by one identity, at one level of
// a campaign. The display fields are a snapshot taken at launch, so the
// item still reads right after the inventory changes.
type ReviewItem struct {
	ID            string
	TenantID      string
	CampaignID    string
	Level         int    // 0-based
	ParentID      string // the item of the level before, "" at level 0
	AppID         string
	IdentityID    string
	EntitlementID string
	UserID        string // the employee the identity maps to, "" when none
	ReviewerID    string
	// Subject, AppName and EntitlementName are for people: the identity
	// (employee name or the account's own), the application, the entitlement.
	Subject         string
	AppName         string
	EntitlementName string
	Privileged      bool
	Status          ReviewStatus
	Comment         string
	DecidedBy       string
	DecidedAt       *time.Time
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// ReviewItemFilter selects items; zero fields select everything.
type ReviewItemFilter struct {
	CampaignID string
	ReviewerID string
	Status     ReviewStatus
	Level      *int
	Limit      int
}

type RevocationStatus string

const (
	// RevocationPending waits for the application owner (no provisioning engine yet).
	RevocationPending RevocationStatus = "pending"
	RevocationDone    RevocationStatus = "done"
)

// Revocation is what a Revoke decision asks of the application owner.
type Revocation struct {
	ID            string
	TenantID      string
	ItemID        string // unique: one revocation per item
	CampaignID    string
	AppID         string
	IdentityID    string
	EntitlementID string
	OwnerID       string // who must act; "" when the application has no owner
	Status        RevocationStatus
	CreatedAt     time.Time
}

// ReviewSettings are a tenant's reminder timing (the tenant file's
// reviews: section): reminders go out on days whose local date is one of
// RemindDays before a campaign's due date, and a late reviewer is
// escalated once Grace has passed after it. A tenant without settings
// gets the reviews package's defaults.
type ReviewSettings struct {
	TenantID   string
	RemindDays []int // days before the due date; 0 is the due day itself
	Grace      time.Duration
	UpdatedAt  time.Time
}
