package findings

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

// ExternalFinding is one item of a findings file or POST body.
type ExternalFinding struct {
	Rule     string             `json:"rule"`
	Severity accessbot.Severity `json:"severity"`
	Subject  accessbot.Subject  `json:"subject"`
	Details  json.RawMessage    `json:"details,omitempty"`
}

// ItemError names one bad item: "findings.json: item 3: severity: ...".
type ItemError struct {
	Source string
	Index  int // -1: the document as a whole
	Field  string
	Msg    string
}

func (e *ItemError) Error() string {
	s := e.Source + ": "
	if e.Index >= 0 {
		s += fmt.Sprintf("item %d: ", e.Index)
	}
	if e.Field != "" {
		s += e.Field + ": "
	}
	return s + e.Msg
}

func (e *ItemError) Unwrap() error { return accessbot.ErrInvalid }

// ItemErrors is every problem of one document; nothing is recorded while
// it has any.
type ItemErrors []*ItemError

func (es ItemErrors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

func (es ItemErrors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// ParseExternal decodes and checks a JSON array of findings. source names
// the document in messages. Items are numbered from 0.
func ParseExternal(source string, data []byte) ([]ExternalFinding, error) {
	var raw []json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, ItemErrors{{Source: source, Index: -1, Msg: "want a JSON array of findings: " + jsonMsg(err)}}
	}
	var errs ItemErrors
	out := make([]ExternalFinding, 0, len(raw))
	seen := map[string]int{}
	for i, r := range raw {
		bad := func(field, format string, args ...any) {
			errs = append(errs, &ItemError{Source: source, Index: i, Field: field, Msg: fmt.Sprintf(format, args...)})
		}
		var f ExternalFinding
		dec := json.NewDecoder(bytes.NewReader(r))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			bad("", "%s", jsonMsg(err))
			continue
		}
		f.Rule = strings.TrimSpace(f.Rule)
		switch err := CheckRuleName(f.Rule); {
		case err != nil:
			bad("rule", "%s", err)
		case IsBuiltin(f.Rule):
			bad("rule", "%q is a built-in rule; external findings need their own rule name", f.Rule)
		}
		if !f.Severity.Valid() {
			bad("severity", "%q is not one of critical, high, medium, low", f.Severity)
		}
		if !f.Subject.Kind.Valid() {
			bad("subject.kind", "%q is not one of employee, identity, application", f.Subject.Kind)
		}
		if strings.TrimSpace(f.Subject.ID) == "" {
			bad("subject.id", "required")
		}
		if len(f.Details) > 0 && !bytes.HasPrefix(bytes.TrimSpace(f.Details), []byte("{")) && string(bytes.TrimSpace(f.Details)) != "null" {
			bad("details", "want a JSON object")
		}
		key := f.Rule + "\x00" + string(f.Subject.Kind) + "\x00" + f.Subject.ID
		if first, dup := seen[key]; dup {
			bad("subject", "same rule and subject as item %d", first)
		}
		seen[key] = i
		out = append(out, f)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return out, nil
}

func jsonMsg(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("JSON syntax at byte %d: %v", se.Offset, err)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("%s: want %s, found a JSON %s", te.Field, te.Type, te.Value)
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

// RecordExternal records checked findings in one transaction, grouped by
// rule. External findings are opened, reopened or refreshed; they are only
// resolved by people. Their rules are a namespace of their own: an item
// naming one of the tenant's rules (declared under rules:) is refused,
// with source and its index in ItemErrors, and nothing is recorded, since
// the engine's next run of that rule would resolve it.
func RecordExternal(ctx context.Context, tx Transactor, tenantID, source string, fs []ExternalFinding, at time.Time) (accessbot.SyncResult, error) {
	return RecordExternalThen(ctx, tx, tenantID, source, fs, at, nil)
}

// AfterRecord runs in the transaction that recorded findings, with what it
// opened, reopened and saw at at: the playbooks queue finding.opened there.
type AfterRecord func(ctx context.Context, q store.Queries, tenantID string, res accessbot.SyncResult, at time.Time) error

// RecordExternalThen is RecordExternal with after (nil: none) run in its
// transaction, so what it queues commits or rolls back with the findings.
func RecordExternalThen(ctx context.Context, tx Transactor, tenantID, source string, fs []ExternalFinding, at time.Time, after AfterRecord) (accessbot.SyncResult, error) {
	byRule := map[string][]accessbot.FindingMatch{}
	for _, f := range fs {
		d := f.Details
		if string(bytes.TrimSpace(d)) == "null" {
			d = nil
		}
		byRule[f.Rule] = append(byRule[f.Rule], accessbot.FindingMatch{Severity: f.Severity, Subject: f.Subject, Details: d})
	}
	rules := make([]string, 0, len(byRule))
	for r := range byRule {
		rules = append(rules, r)
	}
	sort.Strings(rules)
	var total accessbot.SyncResult
	err := tx.InTx(ctx, func(q store.Queries) error {
		total = accessbot.SyncResult{}
		if err := checkNamespace(ctx, q, tenantID, source, fs); err != nil {
			return err
		}
		for _, r := range rules {
			sr, err := q.ReportFindings(ctx, tenantID, r, byRule[r], at)
			if err != nil {
				return err
			}
			total.Opened += sr.Opened
			total.Reopened += sr.Reopened
			total.Seen += sr.Seen
		}
		if after != nil {
			return after(ctx, q, tenantID, total, at)
		}
		return nil
	})
	if err != nil {
		return total, fmt.Errorf("record external findings: %w", err)
	}
	return total, nil
}

// checkNamespace refuses items whose rule is a tenant rule's name (built-in
// names are refused by ParseExternal already).
func checkNamespace(ctx context.Context, q store.Queries, tenantID, source string, fs []ExternalFinding) error {
	rules, err := q.ListTenantRules(ctx, tenantID)
	if err != nil {
		return err
	}
	tenantRule := make(map[string]bool, len(rules))
	for _, r := range rules {
		tenantRule[r.Name] = true
	}
	var errs ItemErrors
	for i, f := range fs {
		if tenantRule[f.Rule] {
			errs = append(errs, &ItemError{Source: source, Index: i, Field: "rule",
				Msg: fmt.Sprintf("%q is one of the tenant's rules (rules: in the tenant file); external findings need their own rule name", f.Rule)})
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// Tokens of the findings endpoint look like abf_<tenant id>_<secret>: the
// tenant id finds the stored hash, which is compared in constant time.
const tokenPrefix = "abf_"

// TokenStore is what tokens need of the store.
type TokenStore interface {
	PutFindingsToken(ctx context.Context, tenantID string, hash []byte, at time.Time) error
	FindingsTokenHash(ctx context.Context, tenantID string) ([]byte, error)
}

func hashToken(tok string) []byte {
	h := sha256.Sum256([]byte(tok))
	return h[:]
}

// NewToken creates (or rotates) the tenant's token and returns it; only
// its SHA-256 hash is stored, so it cannot be shown again.
func NewToken(ctx context.Context, st TokenStore, tenantID string, at time.Time) (string, error) {
	if tenantID == "" || strings.Contains(tenantID, "_") {
		return "", fmt.Errorf("new findings token: %w: tenant id %q", accessbot.ErrInvalid, tenantID)
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("new findings token: %w", err)
	}
	tok := tokenPrefix + tenantID + "_" + base64.RawURLEncoding.EncodeToString(b)
	if err := st.PutFindingsToken(ctx, tenantID, hashToken(tok), at); err != nil {
		return "", fmt.Errorf("new findings token: %w", err)
	}
	return tok, nil
}

// ErrBadToken is any token that does not authenticate, whatever the reason.
var ErrBadToken = errors.New("invalid findings token")

// Authenticate returns the tenant a token belongs to.
func Authenticate(ctx context.Context, st TokenStore, tok string) (string, error) {
	rest, ok := strings.CutPrefix(tok, tokenPrefix)
	if !ok {
		return "", ErrBadToken
	}
	// Tenant ids hold no "_"; the secret (base64url) may.
	tenantID, _, ok := strings.Cut(rest, "_")
	if !ok || tenantID == "" {
		return "", ErrBadToken
	}
	want, err := st.FindingsTokenHash(ctx, tenantID)
	if errors.Is(err, accessbot.ErrNotFound) {
		return "", ErrBadToken
	}
	if err != nil {
		return "", fmt.Errorf("check findings token: %w", err)
	}
	if subtle.ConstantTimeCompare(hashToken(tok), want) != 1 {
		return "", ErrBadToken
	}
	return tenantID, nil
}

// readAll reads at most limit bytes, failing beyond.
func readAll(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, errTooLarge
	}
	return b, nil
}

var errTooLarge = errors.New("body too large")
