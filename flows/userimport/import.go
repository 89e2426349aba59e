package userimport

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/csvrows"
	"github.com/accessbot/accessbot/store"
)

// Transactor runs a function in one store transaction; store.Store is one.
type Transactor interface {
	InTx(ctx context.Context, fn func(q store.Queries) error) error
}

// ErrRejected is returned by a strict import that found bad rows: nothing
// was written.
var ErrRejected = errors.New("rows rejected")

type Options struct {
	// Strict writes nothing when any row is bad.
	Strict bool
	// DryRun does the whole import in a transaction, then rolls it back.
	DryRun bool
	// Limits bound the file and each cell (zero: the defaults).
	Limits csvrows.Limits
}

// Result is what an import did (or would do).
type Result struct {
	File                        string
	Created, Updated, Unchanged int
	Rejected                    []*RowError
	// Changes has one line per created or updated user.
	Changes []string
	DryRun  bool
	// Written is false for a dry run and for a strict import with rejects.
	Written bool
}

// Summary is the closing line: "created 2, updated 1, unchanged 5, rejected 1",
// or "would create 2, ..." when nothing was written.
func (r *Result) Summary() string {
	s := fmt.Sprintf("%s: created %d, updated %d, unchanged %d, rejected %d", r.File, r.Created, r.Updated, r.Unchanged, len(r.Rejected))
	if !r.Written {
		s = fmt.Sprintf("%s: would create %d, would update %d, unchanged %d, rejected %d", r.File, r.Created, r.Updated, r.Unchanged, len(r.Rejected))
	}
	switch {
	case r.DryRun:
		s += " (dry run: nothing was written)"
	case !r.Written:
		s += " (--strict: nothing was written)"
	}
	return s
}

// Importer imports employee CSV files into a tenant's users.
type Importer struct {
	tx  Transactor
	now func() time.Time
	log zerolog.Logger
}

func NewImporter(tx Transactor, now func() time.Time, log zerolog.Logger) *Importer {
	return &Importer{tx: tx, now: now, log: log}
}

var errRollback = errors.New("roll back")

// Import reads a CSV of employees (see docs/imports-and-findings.md, "Importing employees")
// into the tenant. A file-level problem (header, CSV syntax) returns a
// *FileError and imports nothing; bad rows are in Result.Rejected.
func (im *Importer) Import(ctx context.Context, tenantID, name string, r io.Reader, opt Options) (*Result, error) {
	p, err := parseCSV(name, r, opt.Limits)
	if err != nil {
		return nil, err
	}
	res := &Result{File: name, DryRun: opt.DryRun}
	err = im.tx.InTx(ctx, func(q store.Queries) error {
		res.Created, res.Updated, res.Unchanged, res.Changes = 0, 0, 0, nil
		res.Rejected = append([]*RowError(nil), p.rejected...)
		if err := im.run(ctx, q, tenantID, p, res); err != nil {
			return err
		}
		if opt.DryRun || (opt.Strict && len(res.Rejected) > 0) {
			return errRollback
		}
		return nil
	})
	if errors.Is(err, errRollback) {
		err = nil
	}
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", name, err)
	}
	sort.SliceStable(res.Rejected, func(i, j int) bool { return res.Rejected[i].Line < res.Rejected[j].Line })
	res.Written = !opt.DryRun && !(opt.Strict && len(res.Rejected) > 0)
	if res.Written {
		im.log.Info().Str("tenant", tenantID).Str("file", name).Int("created", res.Created).Int("updated", res.Updated).
			Int("unchanged", res.Unchanged).Int("rejected", len(res.Rejected)).Msg("users imported")
	}
	if opt.Strict && len(res.Rejected) > 0 {
		return res, fmt.Errorf("import %s: %d %w; --strict: nothing was written", name, len(res.Rejected), ErrRejected)
	}
	return res, nil
}

// run resolves managers, computes each user's new record and writes it.
func (im *Importer) run(ctx context.Context, q store.Queries, tenantID string, p *parsed, res *Result) error {
	current, err := q.ListUsers(ctx, tenantID)
	if err != nil {
		return fmt.Errorf("list users: %w", err)
	}
	stored := map[string]*accessbot.User{}
	byID := map[string]*accessbot.User{}
	for i := range current {
		u := &current[i]
		stored[accessbot.NormalizeEmail(u.Email)] = u
		byID[u.ID] = u
	}

	rows := p.rows
	rowByEmail := map[string]*row{}
	// Lines of rejected rows whose email was fine, for messages.
	lineOf := map[string]int{}
	for e, l := range p.rejectedEmails {
		lineOf[e] = l
	}
	// Managers must exist in the file's good rows or in the store, and the
	// result must have no manager cycle. Rejecting a row can break another
	// row's reference, so repeat until nothing changes.
	for {
		rowByEmail = map[string]*row{}
		for _, r := range rows {
			rowByEmail[r.email] = r
		}
		managerOf := func(email string) string {
			if r := rowByEmail[email]; r != nil && p.has[colManagerEmail] {
				return r.manager
			}
			if u := stored[email]; u != nil && u.ManagerID != "" {
				if m := byID[u.ManagerID]; m != nil {
					return accessbot.NormalizeEmail(m.Email)
				}
			}
			return ""
		}
		bad := map[*row]*RowError{}
		for _, r := range rows {
			if r.manager == "" || rowByEmail[r.manager] != nil || stored[r.manager] != nil {
				continue
			}
			msg := "no user with this email in the file or in the tenant"
			if l, ok := lineOf[r.manager]; ok {
				msg = fmt.Sprintf("that user's row (line %d) was rejected, and the tenant has no such user", l)
			}
			bad[r] = &RowError{File: res.File, Line: r.line, Field: colManagerEmail, Value: r.manager, Msg: msg}
		}
		for _, r := range rows {
			if bad[r] != nil {
				continue
			}
			if cycle := findCycle(r.email, managerOf); cycle != nil {
				bad[r] = &RowError{File: res.File, Line: r.line, Field: colManagerEmail, Value: r.manager,
					Msg: "manager cycle: " + strings.Join(cycle, " → ")}
			}
		}
		if len(bad) == 0 {
			break
		}
		var keep []*row
		for _, r := range rows {
			if e := bad[r]; e != nil {
				res.Rejected = append(res.Rejected, e)
				lineOf[r.email] = r.line
			} else {
				keep = append(keep, r)
			}
		}
		rows = keep
	}

	today := im.now().UTC().Truncate(24 * time.Hour)
	desired := map[string]*accessbot.User{}
	for _, r := range rows {
		d := &accessbot.User{ID: uuid.Must(uuid.NewV7()).String(), TenantID: tenantID, Email: r.email,
			Status: accessbot.UserActive, Role: accessbot.RoleMember}
		if cur := stored[r.email]; cur != nil {
			c := *cur
			d = &c
		}
		desired[r.email] = d
	}
	emailOf := func(id string) string {
		if u := byID[id]; u != nil {
			return accessbot.NormalizeEmail(u.Email)
		}
		return ""
	}
	idOf := func(email string) string {
		if d := desired[email]; d != nil {
			return d.ID
		}
		if u := stored[email]; u != nil {
			return u.ID
		}
		return ""
	}

	type write struct {
		d      *accessbot.User
		before *accessbot.User
		depth  int
		create bool
	}
	var writes []write
	depth := depthFunc(func(email string) string {
		if r := rowByEmail[email]; r != nil && p.has[colManagerEmail] {
			return r.manager
		}
		if u := stored[email]; u != nil {
			return emailOf(u.ManagerID)
		}
		return ""
	})
	for _, r := range rows {
		d := desired[r.email]
		cur := stored[r.email]
		d.Name = r.name
		if p.has[colDepartment] {
			d.Department = r.department
		}
		if p.has[colManagerEmail] {
			d.ManagerID = idOf(r.manager)
		}
		if p.has[colStatus] || p.has[colTerminationDate] {
			switch {
			case r.status == accessbot.UserTerminated && r.terminated != nil:
				d.Status, d.TerminatedAt = accessbot.UserTerminated, r.terminated
			case r.status == accessbot.UserTerminated:
				// No date: keep the one on record, else today.
				if cur == nil || cur.Status != accessbot.UserTerminated || cur.TerminatedAt == nil {
					t := today
					d.TerminatedAt = &t
				}
				d.Status = accessbot.UserTerminated
			case r.status == accessbot.UserActive || cur == nil:
				d.Status, d.TerminatedAt = accessbot.UserActive, nil
			default:
				// A blank cell keeps what is on record: an HR export with a
				// gap must not bring a terminated employee back.
			}
		}
		if cur == nil {
			res.Created++
			res.Changes = append(res.Changes, "+ user "+d.Email)
			writes = append(writes, write{d: d, depth: depth(r.email), create: true})
			continue
		}
		var df []string
		field := func(name, old, new string) {
			if old != new {
				df = append(df, fmt.Sprintf("%s %s→%s", name, show(old), show(new)))
			}
		}
		field("name", cur.Name, d.Name)
		if p.has[colManagerEmail] {
			field("manager", emailOf(cur.ManagerID), r.manager)
		}
		field("department", cur.Department, d.Department)
		field("status", string(cur.Status), string(d.Status))
		field("terminated_at", dateStr(cur.TerminatedAt), dateStr(d.TerminatedAt))
		if len(df) == 0 {
			res.Unchanged++
			continue
		}
		res.Updated++
		res.Changes = append(res.Changes, "~ user "+d.Email+": "+strings.Join(df, ", "))
		writes = append(writes, write{d: d, before: cur, depth: depth(r.email)})
	}

	// New users first, without managers (who may be created later), then
	// every manager in manager-first order, so no step leaves a cycle.
	for _, w := range writes {
		if !w.create {
			continue
		}
		bare := *w.d
		bare.ManagerID = ""
		if err := q.CreateUser(ctx, &bare); err != nil {
			return fmt.Errorf("create user %s: %w", w.d.Email, err)
		}
	}
	sort.SliceStable(writes, func(i, j int) bool { return writes[i].depth < writes[j].depth })
	for _, w := range writes {
		if w.create && w.d.ManagerID == "" {
			continue
		}
		if err := q.UpdateUser(ctx, w.d); err != nil {
			return fmt.Errorf("update user %s: %w", w.d.Email, err)
		}
	}
	at := im.now()
	for _, w := range writes {
		e := &accessbot.AuditEntry{TenantID: tenantID, At: at, ActorID: "import", Action: "user.updated", ObjectType: "user", ObjectID: w.d.ID}
		if w.create {
			e.Action = "user.created"
		} else {
			e.Before, _ = json.Marshal(w.before)
		}
		e.After, _ = json.Marshal(w.d)
		if err := q.AppendAudit(ctx, e); err != nil {
			return fmt.Errorf("audit user %s: %w", w.d.Email, err)
		}
	}
	return nil
}

// findCycle follows managers from email and returns the cycle that passes
// through email, if any ("a → b → a").
func findCycle(email string, managerOf func(string) string) []string {
	path := []string{email}
	seen := map[string]bool{email: true}
	for m := managerOf(email); m != ""; m = managerOf(m) {
		path = append(path, m)
		if m == email {
			return path
		}
		if seen[m] {
			return nil // a cycle further up, not through this row
		}
		seen[m] = true
	}
	return nil
}

// depthFunc counts managers above each email; cycles (which the caller
// rejected) count as the top.
func depthFunc(managerOf func(string) string) func(string) int {
	memo := map[string]int{}
	var depth func(email string, seen map[string]bool) int
	depth = func(email string, seen map[string]bool) int {
		if d, ok := memo[email]; ok {
			return d
		}
		m := managerOf(email)
		if m == "" || seen[m] {
			memo[email] = 0
			return 0
		}
		seen[email] = true
		d := 1 + depth(m, seen)
		memo[email] = d
		return d
	}
	return func(email string) int { return depth(email, map[string]bool{}) }
}

func show(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func dateStr(t *time.Time) string {
	if t == nil {
		return ""
	}
	return FormatDate(*t)
}
