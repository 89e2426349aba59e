// Package provision makes approved access real. Each application has, per
// relationship type, one provisioning and one deprovisioning ActionChain: an
// ordered list of Scripts (templates). When a relationship is approved (or
// must end), an ActionFlow is made from the chain, 1:1 with it, and each of
// its steps runs as a durable job through a Runner: a connector.
//
// This file is the contract the engine, the connectors and the callers share.
package provision

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/accessbot/accessbot/store"
)

// Relationship is what a chain provisions or deprovisions.
type Relationship string

// The approvable relationships. A user_access request to a connection of type
// group, role, policy or account is that relationship; connection requests
// are the last three.
const (
	RelAccount          Relationship = "account"
	RelGroup            Relationship = "group"
	RelRole             Relationship = "role"
	RelPolicy           Relationship = "policy"
	RelConnectionCreate Relationship = "connection_create"
	RelConnectionAssign Relationship = "connection_assign"
	RelConnectionDelete Relationship = "connection_delete"
)

// Direction says whether a flow grants or removes.
type Direction string

const (
	Provision   Direction = "provision"
	Deprovision Direction = "deprovision"
)

// Script is one ActionChainScript: a template for one step.
type Script struct {
	Type    string            // e.g. "gitlab_issue_create", "azuread_api_add_user_to_group"
	Params  map[string]string // text/template sources over Fields; missing keys are errors
	Timeout time.Duration     // per-step timeout; 0 means the engine's default
}

// Person is a tenant user as templates see it.
type Person struct {
	ID, Name, Email, SlackID string
}

// Fields is the documented data every script template is rendered over.
type Fields struct {
	Requester   Person
	Target      Person // who gets (or loses) the access
	Application struct{ ID, Name, Connector string }
	Connection  struct{ ID, Name, Type string }
	Request     struct {
		ID, Kind, Reason string
		Duration         time.Duration
	}
	Approvers []Person
	Expiry    *time.Time // end of a time-bound grant, nil when permanent
	Outputs   map[string]string
}

// Step is one ActionFlowScript as a Runner sees it: its params rendered.
type Step struct {
	TenantID string
	FlowID   string
	Index    int // 0-based position in the flow
	Type     string
	Kind     Kind
	Provider string // for KindProviderAPI and KindWebhook
	Op       string // the part after the family: "create_user", "issue_create", an endpoint name
	Params   map[string]string
	// Key is stable across retries of this step (flow id and index): send
	// it as the idempotency key / webhook-id so a repeat is recognised.
	Key     string
	Attempt int
	// Started is when the step first ran, the same on every retry (River's
	// and an admin's): a connector puts it in what it sends (the webhook
	// body's timestamp) so a repeat is byte-for-byte the same event.
	Started time.Time
	Fields  Fields
}

// Result is what a finished (or parked) step reports.
type Result struct {
	// Outputs are merged into the flow's outputs, which later steps see as
	// .Outputs (e.g. "gitlab_issue_iid").
	Outputs map[string]string
	// Wait parks the flow until someone answers (manual, slack_approval,
	// email_approval): the answer comes through Resolver.Resolve.
	Wait bool
	// Note is one short line shown for the step in the requester's thread.
	Note string
}

// Runner carries out the steps of one kind (or of one provider).
type Runner interface {
	Run(ctx context.Context, s Step) (Result, error)
}

// RunnerFunc adapts a function to Runner.
type RunnerFunc func(ctx context.Context, s Step) (Result, error)

func (f RunnerFunc) Run(ctx context.Context, s Step) (Result, error) { return f(ctx, s) }

// Outcome answers a waiting step.
type Outcome string

const (
	OutcomeDone   Outcome = "done"   // Done / Approve
	OutcomeFailed Outcome = "failed" // Can't do it / Deny, with a reason
)

// Resolver answers a waiting step. Implementations re-check on the server
// that actorID may answer it, and answer once: a second answer is
// ErrAlreadyAnswered.
type Resolver interface {
	Resolve(ctx context.Context, tenantID, flowID string, index int, actorID string, o Outcome, reason string) error
}

// Deprovisioner starts the deprovisioning flow that ends one grant: a review
// Revoke, a finding's Revoke, an expiry, a connection deletion. It is
// idempotent per entitlement: a second call returns the first flow's id.
type Deprovisioner interface {
	Deprovision(ctx context.Context, tenantID, entitlementID, actorID, reason string) (flowID string, err error)
	// DeprovisionTx does the same inside the caller's store transaction q
	// (the flow and its first job commit, or vanish, with the caller's
	// decision: a review's Revoke, a connection deletion).
	DeprovisionTx(ctx context.Context, q store.Queries, tenantID, entitlementID, actorID, reason string) (flowID string, err error)
}

var (
	// ErrAlreadyAnswered: a waiting step was answered before.
	ErrAlreadyAnswered = errors.New("this step was already answered")
	// ErrUnknownScript: a script type no runner handles.
	ErrUnknownScript = errors.New("unknown script type")
)

// permanent wraps an error that retrying cannot fix.
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Permanent marks err as not worth retrying: the step fails at once.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanent{err}
}

// IsPermanent reports whether err was marked by Permanent.
func IsPermanent(err error) bool {
	var p permanent
	return errors.As(err, &p)
}

// Kind is a script type's family, which picks its Runner.
type Kind string

const (
	KindNone        Kind = "none"
	KindSleep       Kind = "sleep"
	KindManual      Kind = "manual"
	KindSlack       Kind = "slack"        // slack_notification, slack_approval
	KindEmail       Kind = "email"        // email_notification, email_approval
	KindGitLabIssue Kind = "gitlab_issue" // gitlab_issue_*
	KindProviderAPI Kind = "api"          // {provider}_api_{op}
	KindWebhook     Kind = "webhook"      // {provider}_webhook_{endpoint}
)

// APIOps are the {provider}_api_ operations of the seed's table.
var APIOps = []string{
	"create_user", "disable_user", "delete_user",
	"create_group", "delete_group", "create_role", "delete_role",
	"add_user_to_group", "remove_user_from_group",
	"add_user_to_role", "remove_user_from_role",
	"allocate_license",
	"create_entity", "delete_entity", "add_user_to_entity", "remove_user_from_entity",
}

var gitlabOps = []string{"create", "add_comment", "add_label", "remove_label", "close", "assign_user", "unassign_user"}

// ParseType splits a script type into its family, provider and operation,
// or says what is wrong with it.
func ParseType(t string) (k Kind, provider, op string, err error) {
	switch t {
	case "none", "sleep", "manual":
		return Kind(t), "", "", nil
	case "slack_notification", "slack_approval":
		return KindSlack, "", strings.TrimPrefix(t, "slack_"), nil
	case "email_notification", "email_approval":
		return KindEmail, "", strings.TrimPrefix(t, "email_"), nil
	}
	if rest, ok := strings.CutPrefix(t, "gitlab_issue_"); ok {
		for _, o := range gitlabOps {
			if rest == o {
				return KindGitLabIssue, "", "issue_" + o, nil
			}
		}
		return "", "", "", fmt.Errorf("%q: gitlab_issue_ takes one of %s: %w", t, strings.Join(gitlabOps, ", "), ErrUnknownScript)
	}
	if p, rest, ok := strings.Cut(t, "_api_"); ok && validName(p) {
		for _, o := range APIOps {
			if rest == o {
				return KindProviderAPI, p, o, nil
			}
		}
		if validName(rest) { // {provider}_api_{endpoint}: a provider's extra endpoint
			return KindProviderAPI, p, rest, nil
		}
	}
	if p, rest, ok := strings.Cut(t, "_webhook_"); ok && validName(p) && validName(rest) {
		return KindWebhook, p, rest, nil
	}
	return "", "", "", fmt.Errorf("%q: %w", t, ErrUnknownScript)
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}
