package requests

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/accessbot/accessbot"
)

// Errors callers branch on. Each is wrapped with what was being done.
var (
	// ErrNotApprover: the actor is not an approver of the request's current level.
	ErrNotApprover = errors.New("not an approver of the current level")
	// ErrSelfApproval: a requester never decides their own request.
	ErrSelfApproval = errors.New("a requester cannot approve their own request")
	// ErrTargetApproval: nor does the person a request is for (it wraps
	// ErrSelfApproval).
	ErrTargetApproval = fmt.Errorf("%w: nor can the person it is for", ErrSelfApproval)
	// ErrStepUpRequired: approving at this level needs the approver to
	// re-authenticate first (a high-risk request); nothing was recorded.
	ErrStepUpRequired = errors.New("this approval counts only after you re-authenticate")
	// ErrForbidden: the actor may not do this (not the requester, not an admin, not active).
	ErrForbidden = errors.New("forbidden")
	// ErrNoChain: no approval chain applies (none for the application, connection, or tenant default).
	ErrNoChain = errors.New("no approval chain applies")
	// ErrNoApprovers: a level resolved to nobody, even after falling back to the tenant admins.
	ErrNoApprovers = errors.New("no one can approve")
	// ErrNotExplainable: a purpose request follows the chain its purpose
	// names, which Explain does not resolve.
	ErrNotExplainable = errors.New("a purpose request follows the approval chain its purpose names")
)

// FieldErrors carries per-field validation messages in plain words, keyed
// by input field name (see the field constants). The Slack layer maps the
// keys to block ids for `response_action: errors`. It unwraps to
// accessbot.ErrInvalid.
type FieldErrors struct {
	Fields map[string]string
}

// Field names used as FieldErrors keys.
const (
	FieldApp           = "app"
	FieldConnection    = "connection"
	FieldTarget        = "target"
	FieldDuration      = "duration"
	FieldJustification = "justification"
	FieldName          = "name"
	FieldType          = "type"
	FieldDescription   = "description"
	FieldGrants        = "grants"
	FieldRevokes       = "revokes"
	FieldReason        = "reason"
	FieldDecision      = "decision"
	// FieldPayloadPrefix prefixes a connection-schema field: "fields.<schema field name>".
	FieldPayloadPrefix = "fields."
)

func (e *FieldErrors) Error() string {
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+": "+e.Fields[k])
	}
	return "invalid request: " + strings.Join(parts, "; ")
}

func (e *FieldErrors) Unwrap() error { return accessbot.ErrInvalid }

// add records the first message for a field; later ones are dropped so the
// user sees one clear message per field.
func (e *FieldErrors) add(field, msg string) {
	if e.Fields == nil {
		e.Fields = map[string]string{}
	}
	if _, ok := e.Fields[field]; !ok {
		e.Fields[field] = msg
	}
}

// err returns e as an error, or nil when no field failed.
func (e *FieldErrors) err() error {
	if e == nil || len(e.Fields) == 0 {
		return nil
	}
	return e
}

// AlreadyDecidedError answers an action on a request that is no longer
// pending or has moved past the level the actor saw, so the UI can say
// "already approved by X at T".
type AlreadyDecidedError struct {
	RequestID string
	// Status is the request's status now (pending when only the level moved on,
	// or when the actor had already decided this level).
	Status accessbot.RequestStatus
	// Level is the 0-based level the actor tried to decide.
	Level int
	// Decision is what ByUserID decided; "" for cancelled or expired requests.
	Decision accessbot.DecisionKind
	// ByUserID is who closed it: the deciding approver, the requester for a
	// cancellation, SystemActor for an expiry.
	ByUserID string
	At       time.Time
}

func (e *AlreadyDecidedError) Error() string {
	what := string(e.Status)
	if e.Decision != "" {
		what = string(e.Decision) + "d"
	}
	return fmt.Sprintf("request %s level %d already %s by %s at %s", e.RequestID, e.Level+1, what, e.ByUserID, e.At.UTC().Format(time.RFC3339))
}

// Unwrap lets callers treat it like any lost conditional update.
func (e *AlreadyDecidedError) Unwrap() error { return accessbot.ErrStale }

// DuplicateRequestError refuses a request while an open one asks for the same thing.
type DuplicateRequestError struct {
	ExistingID string
}

func (e *DuplicateRequestError) Error() string {
	return "an open request for the same thing already exists: " + e.ExistingID
}

func (e *DuplicateRequestError) Unwrap() error { return accessbot.ErrConflict }
