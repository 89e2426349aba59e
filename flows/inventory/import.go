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

// RelationRuleRunner, when the RuleRunner also implements it, re-evaluates
// after a relations upload only the identities whose relations changed;
// *findings.Engine is one.
type RelationRuleRunner interface {
	RunRelations(ctx context.Context, q store.Queries, tenantID string, identityIDs []string) (*findings.RunResult, error)
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
	after AfterImport // may be nil
}

// AfterImport runs inside an import's transaction once the rows and rules
// are written (also in a dry run, which then rolls it back): an upload is
// a sync, and playbooks queue their sync events there. at is the import's
// clock reading; findings opened by it have OpenedAt at or after it.
type AfterImport func(ctx context.Context, q store.Queries, tenantID string, res *Result, at time.Time) error

// WithAfterImport sets the hook; it returns im.
func (im *Importer) WithAfterImport(fn AfterImport) *Importer {
	im.after = fn
	return im
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
	res, err := im.ImportSet(ctx, tenantID, app, []File{{Kind: kind, Name: name, R: r}}, opt)
	if len(res) == 0 {
		return nil, err
	}
	return res[0], err
}

// File is one CSV of a set.
type File struct {
	Kind Kind
	Name string
	R    io.Reader
}

// parsed is a File whose header was read before the transaction.
type parsed struct {
	File
	rd *csvrows.Reader
}

// ImportSet imports several files of one application (say identities,
// entitlements and relations, in that order) in one transaction, then runs
// the finding rules once: a connector sync writes its snapshot this way.
// Strict rejects, a guard refusal or a dry run in any file write nothing
// of any. Results are in the order of files; on an error the results so
// far may be returned with it, as Import does for one file.
func (im *Importer) ImportSet(ctx context.Context, tenantID, app string, files []File, opt Options) ([]*Result, error) {
	ps := make([]parsed, len(files))
	for i, f := range files {
		var known, required []string
		switch f.Kind {
		case Identities:
			known, required = identityColumns, identityColumns[:1]
		case Entitlements:
			known, required = entitlementColumns, entitlementColumns[:1]
		case Relations:
			known, required = relationColumns, relationColumns
		case Mappings:
			known, required = mappingColumns, mappingColumns[:2]
		default:
			return nil, fmt.Errorf("import %s: %w: unknown kind %q", f.Name, accessbot.ErrInvalid, f.Kind)
		}
		if f.Kind != Mappings && app == "" {
			return nil, fmt.Errorf("import %s %s: %w: an application name is required", f.Kind, f.Name, accessbot.ErrInvalid)
		}
		cols := csvrows.Columns{Known: known, Required: required, Limits: opt.Limits}
		// Every kind is read row by row into the store's staging tables.
		rd, err := csvrows.NewReader(f.Name, f.R, cols)
		if err != nil {
			return nil, err
		}
		ps[i] = parsed{File: f, rd: rd}
	}
	appOf := func(k Kind) string {
		if k == Mappings {
			return opt.App
		}
		return app
	}
	results := make([]*Result, len(ps))
	for i, p := range ps {
		results[i] = &Result{File: p.Name, Kind: p.Kind, App: appOf(p.Kind), DryRun: opt.DryRun}
	}
	var (
		fileErr  error // a file-level problem found while streaming
		rejected bool
		refused  *Result
		failed   *parsed
	)
	var lastJob *job
	err := im.tx.InTx(ctx, func(q store.Queries) error {
		rejected, refused, failed = false, nil, nil
		for i := range ps {
			p, res := &ps[i], results[i]
			kind, app := p.Kind, appOf(p.Kind)
			*res = Result{File: p.Name, Kind: kind, App: app, DryRun: opt.DryRun}
			j := &job{q: q, tenantID: tenantID, file: p.Name, at: im.now(), res: res}
			lastJob = j
			var err error
			switch kind {
			case Identities:
				err = j.identities(ctx, app, p.rd)
				fileErr = j.fileErr
			case Entitlements:
				err = j.entitlements(ctx, app, p.rd)
				fileErr = j.fileErr
			case Relations:
				err = j.relations(ctx, app, p.rd)
				fileErr = j.fileErr
			case Mappings:
				err = j.mappings(ctx, app, p.rd)
				fileErr = j.fileErr
			}
			if err != nil {
				failed = p
				return err
			}
			if len(res.Rejected) > 0 {
				rejected = true
			}
			if !opt.AllowRemovals && res.Removed > 0 {
				gs, err := importSettings(ctx, q, tenantID)
				if err != nil {
					failed = p
					return err
				}
				if gs.RefusesRemoval(res.Removed, res.Current()) {
					res.Refused = &RemovalError{Kind: kind, App: app, Removed: res.Removed, Current: res.Current(), Settings: gs}
					refused = res
				}
			}
		}
		if (opt.Strict && rejected) || refused != nil {
			return errRollback
		}
		if im.rules != nil {
			last := results[len(results)-1]
			var err error
			if len(ps) == 1 {
				last.Findings, err = im.runRules(ctx, q, tenantID, lastJob)
			} else {
				last.Findings, err = im.rules.Run(ctx, q, tenantID)
			}
			if err != nil {
				return err
			}
		}
		if im.after != nil {
			// Once per set: a sync is one event, whatever it wrote.
			if err := im.after(ctx, q, tenantID, results[len(results)-1], lastJob.at); err != nil {
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
	if fileErr != nil {
		return nil, fileErr
	}
	if err != nil {
		if failed != nil {
			return nil, fmt.Errorf("import %s %s: %w", failed.Kind, failed.Name, err)
		}
		return nil, fmt.Errorf("import %s: %w", app, err)
	}
	written := !opt.DryRun && !(opt.Strict && rejected) && refused == nil
	for _, res := range results {
		sort.SliceStable(res.Rejected, func(i, k int) bool { return res.Rejected[i].Line < res.Rejected[k].Line })
		res.Written = written
		if res.Written {
			im.log.Info().Str("tenant", tenantID).Str("file", res.File).Str("kind", string(res.Kind)).Str("app", res.App).
				Int("created", res.Created).Int("updated", res.Updated).Int("restored", res.Restored).Int("removed", res.Removed).
				Int("rejected", len(res.Rejected)).Msg("inventory imported")
		}
	}
	if opt.Strict && rejected {
		for _, res := range results {
			if len(res.Rejected) > 0 {
				return results, fmt.Errorf("import %s %s: %d %w; --strict: nothing was written", res.Kind, res.File, len(res.Rejected), ErrRejected)
			}
		}
	}
	if refused != nil {
		return results, fmt.Errorf("import %s %s: %w", refused.Kind, refused.File, refused.Refused)
	}
	return results, nil
}

// runRules runs the finding rules after the job's writes: after a
// relations upload that listed what it changed, only for that.
func (im *Importer) runRules(ctx context.Context, q store.Queries, tenantID string, j *job) (*findings.RunResult, error) {
	if rr, ok := im.rules.(RelationRuleRunner); ok && j.changed != nil && !j.changed.all {
		return rr.RunRelations(ctx, q, tenantID, j.changed.ids)
	}
	return im.rules.Run(ctx, q, tenantID)
}

// changedIdentities is what a relations replacement changed.
type changedIdentities struct {
	ids []string
	all bool
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
	// fileErr is a *csvrows.FileError met while streaming: nothing is imported.
	fileErr error
	// changed is what the relations replacement changed (nil: not told).
	changed *changedIdentities
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
