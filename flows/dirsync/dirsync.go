// Package dirsync fills an application's inventory from its connector
// (Entra ID, SCIM) instead of a manual upload. A Source reads the directory
// (everything, or the changes since its cursor); the sync writes the
// resulting snapshot as the upload CSVs and hands them to the very code the
// uploads use (inventory.Importer.ImportSet): same snapshot semantics,
// removal guard and finding rules, in one transaction. Relations go through
// a temporary file, so memory holds the identities and entitlements but
// not the memberships.
//
// After the snapshot is written, employees whose account reports a leave
// date that has passed are terminated (as the HR import does), each
// membership that appeared since the last sync without an accessbot grant
// behind it is reported as a drift finding, and each membership accessbot
// revoked that the directory still shows is a finding too.
package dirsync

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/findings"
	"github.com/accessbot/accessbot/flows/inventory"
	"github.com/accessbot/accessbot/store"
)

// Identity is an account as a Source reports it.
type Identity struct {
	ExternalID  string
	Email       string
	DisplayName string
	Disabled    bool
	LeaveAt     *time.Time // the directory's leave (termination) date, if any
}

// Entitlement is a group or role as a Source reports it.
type Entitlement struct {
	ExternalID string
	Name       string
	Type       string // "group", "role"
}

// Pair is a relation by the directory's own ids.
type Pair struct{ Identity, Entitlement string }

// Current is the application's stored inventory, by external id: what a
// delta read applies its changes to.
type Current struct {
	Identities   map[string]accessbot.Identity
	Entitlements map[string]accessbot.AppEntitlement
}

// Read is what one Source read found.
type Read struct {
	// Full is a complete read: every relation went to Relations.Write.
	// Otherwise Added and Removed are the membership changes since the
	// cursor, and Replaced entitlements' members are given whole.
	Full bool
	// Identities and Entitlements are the whole sets after this read
	// (a delta Source merges its changes into Current).
	Identities   []Identity
	Entitlements []Entitlement
	Added        []Pair
	Removed      []Pair
	Replaced     map[string][]string // entitlement → every member identity
	// Cursor is the resume state saved once the snapshot is written.
	Cursor string
}

// RelationWriter takes a full read's relations one at a time.
type RelationWriter interface {
	Write(identity, entitlement string) error
}

// Source reads one application's directory. cursor "" asks for a full
// read; a Source may also answer a delta request with a full read (an
// expired delta token), setting Read.Full.
type Source interface {
	Read(ctx context.Context, cursor string, cur *Current, rel RelationWriter) (*Read, error)
}

// Store is what a sync needs of the store; store.Store is one.
type Store interface {
	inventory.Transactor
	store.Queries
}

// Options tune one sync.
type Options struct {
	Full          bool // ignore the cursor: read everything
	DryRun        bool
	AllowRemovals bool // past the tenant's accidental-removal guard
	TempDir       string
}

// Result is what a sync did.
type Result struct {
	App         string
	Full        bool
	Imports     []*inventory.Result
	Terminated  []string // employee emails
	Drift       int      // drift findings opened or seen
	Unrevoked   int      // identities still holding access accessbot revoked
	Written     bool
	Identities  int
	Groups      int
	Relations   int
	ElapsedTime time.Duration
}

// Summary is one line for the CLI and the status.
func (r *Result) Summary() string {
	var parts []string
	kind := "delta"
	if r.Full {
		kind = "full"
	}
	parts = append(parts, fmt.Sprintf("%s sync of %s: %d identities, %d entitlements, %d relations", kind, r.App, r.Identities, r.Groups, r.Relations))
	for _, im := range r.Imports {
		verb := "created %d, updated %d, restored %d, removed %d"
		if !r.Written {
			verb = "would create %d, would update %d, would restore %d, would remove %d"
		}
		parts = append(parts, fmt.Sprintf("%s "+verb, im.Kind, im.Created, im.Updated, im.Restored, im.Removed))
	}
	if len(r.Terminated) > 0 {
		parts = append(parts, fmt.Sprintf("%d employee(s) terminated from leave dates", len(r.Terminated)))
	}
	if r.Drift > 0 {
		parts = append(parts, fmt.Sprintf("%d drift finding(s)", r.Drift))
	}
	if r.Unrevoked > 0 {
		parts = append(parts, fmt.Sprintf("%d revocation(s) not applied", r.Unrevoked))
	}
	return strings.Join(parts, "; ")
}

// Syncer runs syncs.
type Syncer struct {
	st    Store
	rules inventory.RuleRunner
	after inventory.AfterImport
	now   func() time.Time
	log   zerolog.Logger
	drift *Reconciler
	found findings.AfterRecord // may be nil
}

// New returns a Syncer; rules run after each snapshot (nil: none).
func New(st Store, rules inventory.RuleRunner, now func() time.Time, log zerolog.Logger) *Syncer {
	return &Syncer{st: st, rules: rules, now: now, log: log, drift: &Reconciler{now: now}}
}

// WithAfterImport sets the importer's hook, run once per written snapshot
// in its transaction after the drift and revocation findings are recorded
// (playbooks queue sync.completed there, and finding.opened for every
// finding the sync opened, drift included); it returns s.
func (s *Syncer) WithAfterImport(fn inventory.AfterImport) *Syncer {
	s.after = fn
	return s
}

// WithFindingsOpened sets the hook told of the drift findings a written
// snapshot opened (the playbooks' finding.opened; the rules' findings go
// through WithAfterImport); it returns s.
func (s *Syncer) WithFindingsOpened(fn findings.AfterRecord) *Syncer {
	s.found = fn
	return s
}

// Sync reads app (an application of tenantID whose connector src serves)
// and writes its snapshot. The sync's outcome is recorded for status,
// failure included; the cursor moves only when the snapshot was written.
func (s *Syncer) Sync(ctx context.Context, tenantID string, app *accessbot.Application, src Source, opt Options) (*Result, error) {
	start := s.now()
	state, err := s.st.GetConnectorSync(ctx, tenantID, app.ID)
	if errors.Is(err, accessbot.ErrNotFound) {
		state, err = &accessbot.ConnectorSync{TenantID: tenantID, AppID: app.ID, Connector: app.Connector}, nil
	}
	if err != nil {
		return nil, err
	}
	res, err := s.sync(ctx, tenantID, app, src, state, opt)
	if opt.DryRun {
		return res, err
	}
	at := s.now()
	state.Connector, state.LastRunAt = app.Connector, &at
	if err != nil {
		state.LastError = err.Error()
	} else {
		state.LastError = ""
		if res.Written {
			state.LastOKAt = &at
			state.Summary = res.Summary()
		}
	}
	if perr := s.st.PutConnectorSync(ctx, state); perr != nil && err == nil {
		err = perr
	}
	if res != nil {
		res.ElapsedTime = s.now().Sub(start)
	}
	return res, err
}

// Failed records a sync that could not start (its connector could not be
// built) as the application's last error, for status.
func (s *Syncer) Failed(ctx context.Context, tenantID string, app *accessbot.Application, cause error) {
	state, err := s.st.GetConnectorSync(ctx, tenantID, app.ID)
	if errors.Is(err, accessbot.ErrNotFound) {
		state, err = &accessbot.ConnectorSync{TenantID: tenantID, AppID: app.ID}, nil
	}
	if err != nil {
		s.log.Error().Err(err).Str("app", app.Name).Msg("record a failed sync")
		return
	}
	at := s.now()
	state.Connector, state.LastRunAt, state.LastError = app.Connector, &at, cause.Error()
	if err := s.st.PutConnectorSync(ctx, state); err != nil {
		s.log.Error().Err(err).Str("app", app.Name).Msg("record a failed sync")
	}
}

func (s *Syncer) sync(ctx context.Context, tenantID string, app *accessbot.Application, src Source, state *accessbot.ConnectorSync, opt Options) (*Result, error) {
	cur, err := s.current(ctx, tenantID, app.ID)
	if err != nil {
		return nil, err
	}
	spool, err := newSpool(opt.TempDir)
	if err != nil {
		return nil, err
	}
	defer spool.remove()
	cursor := state.Cursor
	if opt.Full {
		cursor = ""
	}
	readAt := s.now()
	rd, err := src.Read(ctx, cursor, cur, spool)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", app.Name, err)
	}
	res := &Result{App: app.Name, Full: rd.Full, Identities: len(rd.Identities), Groups: len(rd.Entitlements)}
	if !rd.Full {
		if err := s.deltaRelations(ctx, tenantID, app.ID, cur, rd, spool); err != nil {
			return nil, err
		}
	}
	if err := spool.flush(); err != nil {
		return nil, err
	}
	res.Relations = spool.n
	before, err := s.drift.relationSet(ctx, s.st, tenantID, app.ID)
	if err != nil {
		return nil, err
	}
	rel, err := spool.reader()
	if err != nil {
		return nil, err
	}
	defer rel.Close()
	files := []inventory.File{
		{Kind: inventory.Identities, Name: app.Connector + ":identities", R: identitiesCSV(rd.Identities)},
		{Kind: inventory.Entitlements, Name: app.Connector + ":entitlements", R: entitlementsCSV(rd.Entitlements)},
		{Kind: inventory.Relations, Name: app.Connector + ":relations", R: bufio.NewReaderSize(rel, 64<<10)},
	}
	// Drift and revocations are reconciled in the snapshot's transaction,
	// before the caller's hook: a finding they open is there for it (the
	// playbooks' finding.opened), and nothing is recorded if the snapshot
	// is not.
	var drift, unrevoked int
	reconcile := func(ctx context.Context, q store.Queries, tenantID string, ir *inventory.Result, at time.Time) error {
		var err error
		// The first sync is the baseline: what is there was there before
		// accessbot, not drift.
		if state.LastOKAt != nil {
			if drift, err = s.drift.report(ctx, q, tenantID, app, before, at); err != nil {
				return err
			}
		}
		if unrevoked, err = s.drift.unrevoked(ctx, q, tenantID, app, readAt, at); err != nil {
			return err
		}
		if s.found != nil && drift+unrevoked > 0 {
			// The rules' findings reach the playbooks through s.after; these
			// are the reconcile's (an event already emitted is a conflict).
			if err := s.found(ctx, q, tenantID, accessbot.SyncResult{Opened: drift + unrevoked}, at); err != nil {
				return fmt.Errorf("drift findings opened: %w", err)
			}
		}
		if s.after != nil {
			return s.after(ctx, q, tenantID, ir, at)
		}
		return nil
	}
	im := inventory.NewImporter(s.st, s.rules, s.now, s.log).WithAfterImport(reconcile)
	imps, err := im.ImportSet(ctx, tenantID, app.Name, files, inventory.Options{DryRun: opt.DryRun, AllowRemovals: opt.AllowRemovals})
	res.Imports = imps
	if err != nil {
		return res, err
	}
	res.Written = len(imps) > 0 && imps[0].Written
	res.Drift, res.Unrevoked = drift, unrevoked // a dry run's are what it would record
	if !res.Written {
		return res, nil
	}
	at := s.now()
	state.Cursor = rd.Cursor
	if rd.Full {
		state.LastFullAt = &at
	}
	if res.Terminated, err = s.terminate(ctx, tenantID, rd.Identities, at); err != nil {
		return res, err
	}
	return res, nil
}

func (s *Syncer) current(ctx context.Context, tenantID, appID string) (*Current, error) {
	ids, err := s.st.ListIdentities(ctx, tenantID, appID, false)
	if err != nil {
		return nil, fmt.Errorf("list identities: %w", err)
	}
	ents, err := s.st.ListAppEntitlements(ctx, tenantID, appID, false)
	if err != nil {
		return nil, fmt.Errorf("list entitlements: %w", err)
	}
	cur := &Current{Identities: make(map[string]accessbot.Identity, len(ids)), Entitlements: make(map[string]accessbot.AppEntitlement, len(ents))}
	for _, i := range ids {
		cur.Identities[i.ExternalID] = i
	}
	for _, e := range ents {
		cur.Entitlements[e.ExternalID] = e
	}
	return cur, nil
}

// deltaRelations writes the stored relations with the read's changes
// applied: removed pairs, pairs of identities or entitlements that are
// gone and replaced entitlements' old members are dropped; added pairs
// and replaced members are written once each.
func (s *Syncer) deltaRelations(ctx context.Context, tenantID, appID string, cur *Current, rd *Read, out *spool) error {
	idSet := make(map[string]bool, len(rd.Identities))
	for _, i := range rd.Identities {
		idSet[i.ExternalID] = true
	}
	entSet := make(map[string]bool, len(rd.Entitlements))
	for _, e := range rd.Entitlements {
		entSet[e.ExternalID] = true
	}
	removed := make(map[Pair]bool, len(rd.Removed))
	for _, p := range rd.Removed {
		removed[p] = true
	}
	added := make(map[Pair]bool, len(rd.Added))
	for _, p := range rd.Added {
		added[p] = true
	}
	for e, ms := range rd.Replaced {
		for _, m := range ms {
			added[Pair{m, e}] = true
		}
	}
	extID := make(map[string]string, len(cur.Identities))
	for ext, i := range cur.Identities {
		extID[i.ID] = ext
	}
	extEnt := make(map[string]string, len(cur.Entitlements))
	for ext, e := range cur.Entitlements {
		extEnt[e.ID] = ext
	}
	rels, err := s.st.ListRelations(ctx, tenantID, appID, false)
	if err != nil {
		return fmt.Errorf("list relations: %w", err)
	}
	for _, r := range rels {
		p := Pair{extID[r.IdentityID], extEnt[r.EntitlementID]}
		if _, replaced := rd.Replaced[p.Entitlement]; replaced || removed[p] || added[p] || !idSet[p.Identity] || !entSet[p.Entitlement] {
			continue
		}
		if err := out.Write(p.Identity, p.Entitlement); err != nil {
			return err
		}
	}
	for p := range added {
		if removed[p] || !idSet[p.Identity] || !entSet[p.Entitlement] {
			continue
		}
		if err := out.Write(p.Identity, p.Entitlement); err != nil {
			return err
		}
	}
	return nil
}

// terminate marks active employees whose account's leave date has passed
// as terminated on that date, as the HR import does with termination_date.
func (s *Syncer) terminate(ctx context.Context, tenantID string, ids []Identity, at time.Time) ([]string, error) {
	var done []string
	for _, i := range ids {
		if i.LeaveAt == nil || i.LeaveAt.After(at) || i.Email == "" {
			continue
		}
		u, err := s.st.GetUserByEmail(ctx, tenantID, i.Email)
		if errors.Is(err, accessbot.ErrNotFound) {
			continue
		}
		if err != nil {
			return done, fmt.Errorf("terminate %s: %w", i.Email, err)
		}
		if u.Status == accessbot.UserTerminated {
			continue
		}
		t := i.LeaveAt.UTC()
		u.Status, u.TerminatedAt = accessbot.UserTerminated, &t
		if err := s.st.UpdateUser(ctx, u); err != nil {
			return done, fmt.Errorf("terminate %s: %w", i.Email, err)
		}
		s.log.Info().Str("tenant", tenantID).Str("email", u.Email).Time("leave", t).Msg("employee terminated from the directory's leave date")
		done = append(done, u.Email)
	}
	return done, nil
}

// spool is the relations CSV on disk.
type spool struct {
	f *os.File
	w *csv.Writer
	n int
}

func newSpool(dir string) (*spool, error) {
	f, err := os.CreateTemp(dir, "accessbot-relations-*.csv")
	if err != nil {
		return nil, fmt.Errorf("spool relations: %w", err)
	}
	s := &spool{f: f, w: csv.NewWriter(bufio.NewWriterSize(f, 64<<10))}
	return s, s.w.Write([]string{"identity_id", "entitlement_id"})
}

func (s *spool) Write(identity, entitlement string) error {
	s.n++
	return s.w.Write([]string{identity, entitlement})
}

func (s *spool) flush() error {
	s.w.Flush()
	if err := s.w.Error(); err != nil {
		return fmt.Errorf("spool relations: %w", err)
	}
	return nil
}

// reader reopens the file from the start. The csv.Writer wraps a
// bufio.Writer: flush it through before reading.
func (s *spool) reader() (*os.File, error) {
	return os.Open(s.f.Name())
}

func (s *spool) remove() {
	s.f.Close()
	os.Remove(s.f.Name())
}

func identitiesCSV(ids []Identity) io.Reader {
	return csvOf([]string{"identity_id", "email", "display_name", "status"}, len(ids), func(i int) []string {
		st := string(accessbot.IdentityActive)
		if ids[i].Disabled {
			st = string(accessbot.IdentityDisabled)
		}
		return []string{ids[i].ExternalID, ids[i].Email, ids[i].DisplayName, st}
	})
}

func entitlementsCSV(es []Entitlement) io.Reader {
	return csvOf([]string{"entitlement_id", "name", "type"}, len(es), func(i int) []string {
		return []string{es[i].ExternalID, es[i].Name, es[i].Type}
	})
}

// csvOf writes the rows as CSV (identities and entitlements: the
// importer reads these whole anyway).
func csvOf(header []string, n int, row func(i int) []string) io.Reader {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write(header)
	for i := 0; i < n; i++ {
		_ = w.Write(row(i))
	}
	w.Flush()
	return &b
}

// Status is the seed's integration state of a sync row: "Connected" with
// "Data available" once a snapshot was written, "Error" with the error
// when the last run failed, "Pending" before any run finished.
func Status(s *accessbot.ConnectorSync) (status, message string) {
	switch {
	case s.LastError != "" && s.LastOKAt == nil:
		return "Error", "No data yet"
	case s.LastError != "":
		return "Error", "Data available (from the last good sync)"
	case s.LastOKAt != nil:
		return "Connected", "Data available"
	}
	return "Pending", "No data yet"
}

// JobPrefix names the scheduled syncs: the schedule of application APP is
// the job JobPrefix+APP (its slots are claimed like any job's, so each
// runs once across replicas).
const JobPrefix = "connector_sync:"

// JobName is the schedule job of the application called app.
func JobName(app string) string { return JobPrefix + app }
