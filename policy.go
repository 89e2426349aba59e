package accessbot

import "time"

// RequestPolicy is a tenant's request policies (the tenant file's
// channels:, on_behalf: and risk: sections, issue 16): which chain and
// applications a channel routes to, who may request for whom, and what a
// high-risk request needs. The zero value is today's behaviour: no routes,
// managers for their direct reports only, no risk tiers.
type RequestPolicy struct {
	TenantID string `json:"-"`
	// Channels route requests made in a Slack channel.
	Channels []ChannelRoute `json:"channels,omitempty"`
	// ChannelChains are the ids of chains used only where a channel route
	// names them: never the tenant default.
	ChannelChains []string `json:"channel_chains,omitempty"`
	OnBehalf      OnBehalf `json:"on_behalf"`
	Risk          Risk     `json:"risk"`
	// StepUp is the tenant's OIDC provider for step-up; nil: none.
	StepUp    *StepUpProvider `json:"step_up,omitempty"`
	UpdatedAt time.Time       `json:"-"`
}

// ChannelRoute is what `/access request` typed in a channel does: its
// applications are offered (the first preselected), and a request for an
// application without a chain of its own goes to ChainID.
type ChannelRoute struct {
	ChannelID string   `json:"channel"`
	ChainID   string   `json:"chain,omitempty"`
	AppIDs    []string `json:"apps,omitempty"`
}

// Route returns the route of channel id, nil for none.
func (p *RequestPolicy) Route(channelID string) *ChannelRoute {
	if p == nil || channelID == "" {
		return nil
	}
	for i := range p.Channels {
		if p.Channels[i].ChannelID == channelID {
			return &p.Channels[i]
		}
	}
	return nil
}

// Reach says whose requests a manager may make.
type Reach string

const (
	// ReachDirectReports: a manager for their direct reports (the default).
	ReachDirectReports Reach = "direct_reports"
	// ReachReportingLine: a manager for everyone below them.
	ReachReportingLine Reach = "reporting_line"
	// ReachNone: managers only for themselves.
	ReachNone Reach = "none"
)

// OnBehalf says who may request access for someone else.
type OnBehalf struct {
	// Managers is how far down a manager may request ("" is direct_reports).
	Managers Reach `json:"managers,omitempty"`
	// Admins may request for anyone of the tenant.
	Admins bool `json:"admins,omitempty"`
	// Groups are named sets of people who may request named applications
	// for anyone.
	Groups []OnBehalfGroup `json:"groups,omitempty"`
}

// OnBehalfGroup lets its members request its applications for anyone.
type OnBehalfGroup struct {
	Name      string   `json:"name"`
	MemberIDs []string `json:"members"`
	AppIDs    []string `json:"apps"`
}

// ManagerReach is Managers with its default.
func (o OnBehalf) ManagerReach() Reach {
	if o.Managers == "" {
		return ReachDirectReports
	}
	return o.Managers
}

// RiskTier is how risky access is; only RiskHigh changes anything.
type RiskTier string

const (
	RiskLow    RiskTier = "low"
	RiskMedium RiskTier = "medium"
	RiskHigh   RiskTier = "high"
)

// Risk holds the tiers of applications and entitlements (connections) and
// what a high-risk request needs.
type Risk struct {
	Apps        map[string]RiskTier `json:"apps,omitempty"`
	Connections map[string]RiskTier `json:"connections,omitempty"`
	// HighMinWords is how many words a high-risk justification needs.
	HighMinWords int `json:"high_min_words,omitempty"`
	// HighMaxDuration caps a high-risk grant (permanent access is refused).
	HighMaxDuration time.Duration `json:"high_max_duration,omitempty"`
}

// Defaults for high-risk requests.
const (
	DefaultHighMinWords    = 12
	DefaultHighMaxDuration = 8 * time.Hour
)

// TierOf is the higher of the application's and the connection's tiers.
func (r Risk) TierOf(appID, connectionID string) RiskTier {
	if r.Apps[appID] == RiskHigh || (connectionID != "" && r.Connections[connectionID] == RiskHigh) {
		return RiskHigh
	}
	if r.Apps[appID] == RiskMedium || (connectionID != "" && r.Connections[connectionID] == RiskMedium) {
		return RiskMedium
	}
	if r.Apps[appID] != "" || r.Connections[connectionID] != "" {
		return RiskLow
	}
	return ""
}

// StepUpProvider is the tenant's OpenID Connect provider, where an approver
// of a high-risk request re-authenticates. The client secret is a sealed
// tenant secret named StepUpSecretName.
type StepUpProvider struct {
	Issuer    string `json:"issuer"`
	ClientID  string `json:"client_id"`
	HasSecret bool   `json:"has_secret,omitempty"`
}

// StepUpSecretName names the sealed client secret of the tenant's step-up provider.
const StepUpSecretName = "step_up.client_secret"

// StepUp is one approver's step-up for one decision: a single-use,
// short-lived link, then one round trip through the OIDC provider.
type StepUp struct {
	TenantID    string
	ID          string // sha256 of the link's token, hex
	RequestID   string
	Level       int
	ApproverID  string
	ExpiresAt   time.Time
	State       string // the OIDC state, set when the link is opened
	Nonce       string
	StartedAt   *time.Time
	CompletedAt *time.Time
	CreatedAt   time.Time
}
