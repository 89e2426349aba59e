package tenantfile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot/store"
)

// Transactor runs a function in one store transaction; store.Store is one.
type Transactor interface {
	InTx(ctx context.Context, fn func(q store.Queries) error) error
}

// Applier applies tenant files.
type Applier struct {
	tx     Transactor
	now    func() time.Time
	log    zerolog.Logger
	keys   SecretKeys
	getenv func(string) (string, bool)
	// channels checks approvers' channels; nil notes them as not checked.
	channels ChannelChecker
}

// WithSecrets lets apply store connector secrets: it reads each from the
// environment variable the file names (getenv, os.LookupEnv in production)
// and seals it with keys.
func (a *Applier) WithSecrets(keys SecretKeys, getenv func(string) (string, bool)) *Applier {
	a.keys, a.getenv = keys, getenv
	return a
}

func NewApplier(tx Transactor, now func() time.Time, log zerolog.Logger) *Applier {
	return &Applier{tx: tx, now: now, log: log}
}

// Result is what an apply changed (or, in a dry run, would change).
type Result struct {
	File     string
	Tenant   string // slug
	TenantID string
	DryRun   bool
	Changes  []*Change
	// Notes are things left alone on purpose, such as users not in the file.
	Notes []string
}

// Write prints the diff, one line per change, then the notes and a summary.
func (r *Result) Write(w io.Writer) error {
	for _, c := range r.Changes {
		if _, err := fmt.Fprintln(w, c.String()); err != nil {
			return err
		}
	}
	for _, n := range r.Notes {
		if _, err := fmt.Fprintln(w, "# "+n); err != nil {
			return err
		}
	}
	var err error
	switch {
	case len(r.Changes) == 0:
		_, err = fmt.Fprintf(w, "tenant %s: no changes\n", r.Tenant)
	case r.DryRun:
		_, err = fmt.Fprintf(w, "tenant %s: %d change(s) to apply (dry run: nothing was written)\n", r.Tenant, len(r.Changes))
	default:
		_, err = fmt.Fprintf(w, "tenant %s: %d change(s) applied\n", r.Tenant, len(r.Changes))
	}
	return err
}

var errDryRun = errors.New("dry run: roll back")

// Apply brings the store in line with f in one transaction: any error
// applies nothing. A dry run does all the same work, store constraints
// included, then rolls it back.
func (a *Applier) Apply(ctx context.Context, f *File, dryRun bool) (*Result, error) {
	var res *Result
	chanNotes, err := a.checkChannels(ctx, f)
	if err != nil {
		return nil, err
	}
	err = a.tx.InTx(ctx, func(q store.Queries) error {
		p, err := plan(ctx, q, f, a.now(), a.keys, a.getenv)
		if err != nil {
			return err
		}
		res = &Result{File: f.Name, Tenant: p.tenant.Slug, TenantID: p.tenant.ID, DryRun: dryRun, Changes: p.changes, Notes: append(p.notes, channelNotes(chanNotes, p.changes)...)}
		if err := a.execute(ctx, q, p); err != nil {
			return err
		}
		if dryRun {
			return errDryRun
		}
		return nil
	})
	if dryRun && errors.Is(err, errDryRun) {
		err = nil
	}
	if err != nil {
		return nil, err
	}
	log := a.log.With().Str("tenant", res.TenantID).Str("slug", res.Tenant).Str("file", f.Name).Logger()
	if !dryRun {
		log.Info().Int("changes", len(res.Changes)).Msg("tenant file applied")
	}
	return res, nil
}

func (a *Applier) execute(ctx context.Context, q store.Queries, p *planner) error {
	type item struct {
		step
		c *Change
	}
	var runs []item
	for _, c := range p.changes {
		for _, s := range c.steps {
			runs = append(runs, item{s, c})
		}
	}
	sort.SliceStable(runs, func(i, j int) bool {
		if runs[i].phase != runs[j].phase {
			return runs[i].phase < runs[j].phase
		}
		return runs[i].order < runs[j].order
	})
	for _, r := range runs {
		if err := r.run(ctx, q); err != nil {
			return p.execError(r.c, err)
		}
	}
	at := a.now()
	for _, c := range p.changes {
		e := c.auditEntry(p.tenant.ID)
		e.At = at
		if err := q.AppendAudit(ctx, e); err != nil {
			return p.execError(c, fmt.Errorf("audit: %w", err))
		}
	}
	return nil
}

// execError names the change and where the file declares it.
func (p *planner) execError(c *Change, err error) error {
	where := p.f.Name
	if c.at.line > 0 {
		where = fmt.Sprintf("%s:%d: %s", p.f.Name, c.at.line, c.at.path)
	}
	return fmt.Errorf("%s: %s: %w", where, c.String(), err)
}
