// Package inventory is the "manual upload" of application entitlement data:
// CSV files of an application's identities, entitlements and relations, and
// of identity→employee mappings. Each upload replaces the application's
// snapshot in one transaction (rows missing from the file are marked
// removed), then runs the finding rules in the same transaction.
//
// Bad rows are reported as file:line: field "value": reason (the employee
// import's style, userimport.RowError) and skipped, unless the import is
// strict. A skipped row never removes or changes what it names: every
// stored row of the identity or entitlement it names is kept as it was
// (accessbot.SnapshotKeep), so no finding is resolved because of it.
//
// An upload that would remove more than the tenant's guard allows
// (accessbot.ImportSettings) is refused unless Options.AllowRemovals.
package inventory

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/csvrows"
	"github.com/accessbot/accessbot/flows/findings"
	"github.com/accessbot/accessbot/flows/userimport"
	"github.com/accessbot/accessbot/store"
)

// Kind is what a file holds.
type Kind string

const (
	Identities   Kind = "identities"
	Entitlements Kind = "entitlements"
	Relations    Kind = "relations"
	Mappings     Kind = "mappings"
)

// Columns per kind; the first ones listed in required must be present.
var (
	identityColumns    = []string{"identity_id", "email", "display_name", "status", "last_seen_at"}
	entitlementColumns = []string{"entitlement_id", "name", "type", "labels"}
	relationColumns    = []string{"identity_id", "entitlement_id"}
	mappingColumns     = []string{"identity_id", "employee_email", "app"}
)

// Transactor runs a function in one store transaction; store.Store is one.
type Transactor interface {
	InTx(ctx context.Context, fn func(q store.Queries) error) error
}

// RuleRunner runs the finding rules inside the import's transaction;
// *findings.Engine is one.
type RuleRunner interface {
	Run(ctx context.Context, q store.Queries, tenantID string) (*findings.RunResult, error)
}

// ErrRejected is returned by a strict import that found bad rows: nothing
// was written.
var ErrRejected = userimport.ErrRejected

type Options struct {
	Strict bool // write nothing when any row is bad
	DryRun bool // do everything, then roll back
	// AllowRemovals lets an import remove more rows than the tenant's
	// accidental-removal guard allows (accessbot.ImportSettings).
	AllowRemovals bool
	// App limits a mappings upload to one application's identities: only
	// their mappings are replaced. Ignored by the other kinds.
	App string
	// Limits bound the file and each cell (zero: the defaults).
	Limits csvrows.Limits
}

// Result is what an import did (or would do).
type Result struct {
	File string
	Kind Kind
	App  string // application name; "" for mappings of every application
	accessbot.SnapshotResult
	Rejected []*userimport.RowError
	Findings *findings.RunResult // nil when no rules ran
	DryRun   bool
	Written  bool
	// Refused is the guard's refusal; nil when it let the import through.
	Refused *RemovalError
}

// Summary is the closing line. Counts of what did not happen (a dry run, a
// strict import with rejects) read "would remove 4", not "removed 4".
func (r *Result) Summary() string {
	what := string(r.Kind)
	if r.App != "" {
		what = r.App + " " + what
	}
	var s string
	if r.Written {
		s = fmt.Sprintf("%s: %s: created %d, updated %d, restored %d, removed %d, unchanged %d, rejected %d",
			r.File, what, r.Created, r.Updated, r.Restored, r.Removed, r.Unchanged, len(r.Rejected))
	} else {
		s = fmt.Sprintf("%s: %s: would create %d, would update %d, would restore %d, would remove %d, unchanged %d, rejected %d",
			r.File, what, r.Created, r.Updated, r.Restored, r.Removed, r.Unchanged, len(r.Rejected))
	}
	if r.Kept > 0 {
		s += fmt.Sprintf(" (%d stored row(s) kept as they were: rejected rows name them)", r.Kept)
	}
	switch {
	case r.Refused != nil:
		s += " (refused: too many removals: nothing was written)"
	case r.DryRun:
		s += " (dry run: nothing was written)"
	case !r.Written:
		s += " (--strict: nothing was written)"
	}
	return s
}

// Summaries are the closing lines: Summary, then the rule run's, if any.
func (r *Result) Summaries() []string {
	out := []string{r.Summary()}
	if r.Findings != nil {
		if r.Written {
			out = append(out, r.Findings.Summary())
		} else {
			out = append(out, r.Findings.WouldSummary())
		}
	}
	return out
}

// Importer imports inventory CSV files.
type Importer struct {
	tx    Transactor
	rules RuleRunner // may be nil
	now   func() time.Time
	log   zerolog.Logger
}

// NewImporter returns an importer; rules, when not nil, run after each import.
func NewImporter(tx Transactor, rules RuleRunner, now func() time.Time, log zerolog.Logger) *Importer {
	return &Importer{tx: tx, rules: rules, now: now, log: log}
}

var errRollback = errors.New("roll back")

// Import reads file name (contents r) of kind into the tenant; app names
// the application (required except for mappings). A file-level problem
// returns a *userimport.FileError and imports nothing.
func (im *Importer) Import(ctx context.Context, tenantID string, kind Kind, app, name string, r io.Reader, opt Options) (*Result, error) {
	var known, required []string
	switch kind {
	case Identities:
		known, required = identityColumns, identityColumns[:1]
	case Entitlements:
		known, required = entitlementColumns, entitlementColumns[:1]
	case Relations:
		known, required = relationColumns, relationColumns
	case Mappings:
		known, required = mappingColumns, mappingColumns[:2]
		app = opt.App
	default:
		return nil, fmt.Errorf("import %s: %w: unknown kind %q", name, accessbot.ErrInvalid, kind)
	}
	if kind != Mappings && app == "" {
		return nil, fmt.Errorf("import %s %s: %w: an application name is required", kind, name, accessbot.ErrInvalid)
	}
	t, err := csvrows.ReadAll(name, r, csvrows.Columns{Known: known, Required: required, Limits: opt.Limits})
	if err != nil {
		return nil, err
	}
	res := &Result{File: name, Kind: kind, App: app, DryRun: opt.DryRun}
	err = im.tx.InTx(ctx, func(q store.Queries) error {
		*res = Result{File: name, Kind: kind, App: app, DryRun: opt.DryRun, Rejected: append([]*userimport.RowError(nil), t.Rejected...)}
		j := &job{q: q, tenantID: tenantID, file: name, at: im.now(), res: res}
		var err error
		switch kind {
		case Identities:
			err = j.identities(ctx, app, t)
		case Entitlements:
			err = j.entitlements(ctx, app, t)
		case Relations:
			err = j.relations(ctx, app, t)
		case Mappings:
			err = j.mappings(ctx, app, t)
		}
		if err != nil {
			return err
		}
		if opt.Strict && len(res.Rejected) > 0 {
			return errRollback
		}
		if !opt.AllowRemovals && res.Removed > 0 {
			gs, err := importSettings(ctx, q, tenantID)
			if err != nil {
				return err
			}
			if gs.RefusesRemoval(res.Removed, res.Current()) {
				res.Refused = &RemovalError{Kind: kind, App: app, Removed: res.Removed, Current: res.Current(), Settings: gs}
				return errRollback
			}
		}
		if im.rules != nil {
			if res.Findings, err = im.rules.Run(ctx, q, tenantID); err != nil {
				return err
			}
		}
		if opt.DryRun {
			return errRollback
		}
		return nil
	})
	if errors.Is(err, errRollback) {
		err = nil
	}
	if err != nil {
		return nil, fmt.Errorf("import %s %s: %w", kind, name, err)
	}
	sort.SliceStable(res.Rejected, func(i, k int) bool { return res.Rejected[i].Line < res.Rejected[k].Line })
	res.Written = !opt.DryRun && !(opt.Strict && len(res.Rejected) > 0) && res.Refused == nil
	if res.Written {
		im.log.Info().Str("tenant", tenantID).Str("file", name).Str("kind", string(kind)).Str("app", app).
			Int("created", res.Created).Int("updated", res.Updated).Int("restored", res.Restored).Int("removed", res.Removed).
			Int("rejected", len(res.Rejected)).Msg("inventory imported")
	}
	if opt.Strict && len(res.Rejected) > 0 {
		return res, fmt.Errorf("import %s %s: %d %w; --strict: nothing was written", kind, name, len(res.Rejected), ErrRejected)
	}
	if res.Refused != nil {
		return res, fmt.Errorf("import %s %s: %w", kind, name, res.Refused)
	}
	return res, nil
}

// job is one import inside its transaction.
type job struct {
	q        store.Queries
	tenantID string
	file     string
	at       time.Time
	res      *Result
	// keep is what rejected rows name: the store keeps those rows as they
	// are instead of removing them.
	keep accessbot.SnapshotKeep
}

func (j *job) reject(rec csvrows.Row, field, msg string) {
	e := &userimport.RowError{File: j.file, Line: rec.Line, Field: field, Value: rec.Cell.Get(field), Msg: msg}
	if field == "" {
		e.Value = ""
	}
	j.res.Rejected = append(j.res.Rejected, e)
}

// keepNamed records what a rejected row names, by the given id columns:
// each non-empty one is kept; a row that names nothing keeps everything,
// since any stored row may be the one it meant.
func (j *job) keepNamed(rec csvrows.Row, identCol, entCol string) {
	ident, ent := rec.Cell.Get(identCol), rec.Cell.Get(entCol)
	if identCol != "" && ident != "" {
		j.keep.Identities = append(j.keep.Identities, ident)
	}
	if entCol != "" && ent != "" {
		j.keep.Entitlements = append(j.keep.Entitlements, ent)
	}
	if (identCol == "" || ident == "") && (entCol == "" || ent == "") {
		j.keep.All = true
	}
}

// rowID is the row's id column, or "" after rejecting the row when that is
// empty or repeats an earlier row's. Either way the row names what it
// names: keepNamed is the caller's.
func (j *job) rowID(rec csvrows.Row, col string, dups dupCheck) string {
	id := rec.Cell.Get(col)
	if id == "" {
		j.reject(rec, "", col+" is empty")
		return ""
	}
	if first, dup := dups.seen(id, rec.Line); dup {
		j.reject(rec, col, fmt.Sprintf("already on line %d (both rows skipped)", first))
		return ""
	}
	return id
}

// done records the store's snapshot result.
func (j *job) done(sr accessbot.SnapshotResult, err error) error {
	j.res.SnapshotResult = sr
	return err
}

func (j *job) app(ctx context.Context, name string) (*accessbot.Application, error) {
	a, err := j.q.GetApplicationByName(ctx, j.tenantID, name)
	if errors.Is(err, accessbot.ErrNotFound) {
		return nil, fmt.Errorf("application %q: %w: the tenant has no such application (declare it in the tenant file)", name, accessbot.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("application %q: %w", name, err)
	}
	return a, nil
}

// dupCheck reports the first line a key was seen on.
type dupCheck map[string]int

func (d dupCheck) seen(key string, line int) (int, bool) {
	if first, ok := d[key]; ok {
		return first, true
	}
	d[key] = line
	return 0, false
}

// withoutKept drops the good rows whose id a rejected row also names (a
// repeated id: which row is right cannot be told), so the stored row stays
// as it was.
func withoutKept[T any](good []T, kept []string, id func(T) string) []T {
	if len(kept) == 0 {
		return good
	}
	k := make(map[string]bool, len(kept))
	for _, e := range kept {
		k[e] = true
	}
	out := good[:0]
	for _, g := range good {
		if !k[id(g)] {
			out = append(out, g)
		}
	}
	return out
}

func (j *job) identities(ctx context.Context, appName string, t *csvrows.Table) error {
	app, err := j.app(ctx, appName)
	if err != nil {
		return err
	}
	for _, rec := range t.Malformed {
		j.keepNamed(rec, "identity_id", "")
	}
	var good []accessbot.Identity
	dups := dupCheck{}
	for _, rec := range t.Rows {
		c := rec.Cell
		id := j.rowID(rec, "identity_id", dups)
		if id == "" {
			j.keepNamed(rec, "identity_id", "")
			continue
		}
		in := accessbot.Identity{ExternalID: id, Email: c.Get("email"), DisplayName: c.Get("display_name"), Status: accessbot.IdentityActive}
		var field, msg string
		if in.Email != "" {
			if err := userimport.CheckEmail(in.Email); err != nil {
				field, msg = "email", err.Error()
			}
		}
		switch s := strings.ToLower(c.Get("status")); s {
		case "", string(accessbot.IdentityActive):
		case string(accessbot.IdentityDisabled):
			in.Status = accessbot.IdentityDisabled
		default:
			if field == "" {
				field, msg = "status", "want active or disabled"
			}
		}
		if s := c.Get("last_seen_at"); s != "" && field == "" {
			ts, err := time.Parse(time.RFC3339, s)
			if err != nil {
				field, msg = "last_seen_at", "not an RFC 3339 time such as 2025-01-31T17:00:00Z"
			} else {
				in.LastSeenAt = &ts
			}
		}
		if field != "" {
			j.reject(rec, field, msg)
			j.keepNamed(rec, "identity_id", "")
			continue
		}
		good = append(good, in)
	}
	good = withoutKept(good, j.keep.Identities, func(i accessbot.Identity) string { return i.ExternalID })
	return j.done(j.q.ReplaceIdentities(ctx, j.tenantID, app.ID, good, j.keep, j.at))
}

func splitLabels(s string) []string {
	var out []string
	for _, l := range strings.Split(s, ";") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, strings.ToLower(l))
		}
	}
	return out
}

func (j *job) entitlements(ctx context.Context, appName string, t *csvrows.Table) error {
	app, err := j.app(ctx, appName)
	if err != nil {
		return err
	}
	for _, rec := range t.Malformed {
		j.keepNamed(rec, "", "entitlement_id")
	}
	var good []accessbot.AppEntitlement
	dups := dupCheck{}
	for _, rec := range t.Rows {
		c := rec.Cell
		id := j.rowID(rec, "entitlement_id", dups)
		if id == "" {
			j.keepNamed(rec, "", "entitlement_id")
			continue
		}
		name := c.Get("name")
		if name == "" {
			name = id
		}
		good = append(good, accessbot.AppEntitlement{ExternalID: id, Name: name, Type: c.Get("type"), Labels: splitLabels(c.Get("labels"))})
	}
	good = withoutKept(good, j.keep.Entitlements, func(e accessbot.AppEntitlement) string { return e.ExternalID })
	return j.done(j.q.ReplaceAppEntitlements(ctx, j.tenantID, app.ID, good, j.keep, j.at))
}

// relations replaces the application's relations. A rejected row keeps
// every stored relation of the identity and of the entitlement it names
// (either may be the typo), and every relation when it names neither.
func (j *job) relations(ctx context.Context, appName string, t *csvrows.Table) error {
	app, err := j.app(ctx, appName)
	if err != nil {
		return err
	}
	idents, err := j.q.ListIdentities(ctx, j.tenantID, app.ID, false)
	if err != nil {
		return err
	}
	ents, err := j.q.ListAppEntitlements(ctx, j.tenantID, app.ID, false)
	if err != nil {
		return err
	}
	hasIdent := make(map[string]bool, len(idents))
	for _, i := range idents {
		hasIdent[i.ExternalID] = true
	}
	hasEnt := make(map[string]bool, len(ents))
	for _, e := range ents {
		hasEnt[e.ExternalID] = true
	}
	for _, rec := range t.Malformed {
		j.keepNamed(rec, "identity_id", "entitlement_id")
	}
	keys := make([]accessbot.RelationKey, 0, len(t.Rows))
	dups := dupCheck{}
	for _, rec := range t.Rows {
		k := accessbot.RelationKey{IdentityExternalID: rec.Cell.Get("identity_id"), EntitlementExternalID: rec.Cell.Get("entitlement_id")}
		switch {
		case k.IdentityExternalID == "":
			j.reject(rec, "", "identity_id is empty")
		case k.EntitlementExternalID == "":
			j.reject(rec, "", "entitlement_id is empty")
		case !hasIdent[k.IdentityExternalID]:
			j.reject(rec, "identity_id", fmt.Sprintf("application %s has no such identity (upload it with import identities first)", app.Name))
		case !hasEnt[k.EntitlementExternalID]:
			j.reject(rec, "entitlement_id", fmt.Sprintf("application %s has no such entitlement (upload it with import entitlements first)", app.Name))
		default:
			// A repeated pair says the same thing twice: the first stands.
			if first, dup := dups.seen(k.IdentityExternalID+"\x00"+k.EntitlementExternalID, rec.Line); dup {
				j.reject(rec, "", fmt.Sprintf("relation %s → %s already on line %d", k.IdentityExternalID, k.EntitlementExternalID, first))
				continue
			}
			keys = append(keys, k)
			continue
		}
		j.keepNamed(rec, "identity_id", "entitlement_id")
	}
	return j.done(j.q.ReplaceRelations(ctx, j.tenantID, app.ID, keys, j.keep, j.at))
}
