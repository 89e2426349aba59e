package tenantfile

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/userimport"
	"github.com/accessbot/accessbot/internal/secrets"
	"github.com/accessbot/accessbot/store"
)

// planner compares a file with what the store holds for its tenant and
// builds the changes. It only reads.
type planner struct {
	f       *File
	q       store.Queries
	now     time.Time // the apply's clock reading: due dates and audit times compare with it
	tenant  *accessbot.Tenant
	changes []*Change
	notes   []string

	users     map[string]*accessbot.User // desired, by email
	userByID  map[string]*accessbot.User // current, by id
	apps      map[string]*accessbot.Application
	appByID   map[string]*accessbot.Application // current
	conns     map[string]map[string]*accessbot.Connection
	connByID  map[string]*accessbot.Connection // current
	fileError Errors

	chainIDs     map[string]string        // chain name → id, planned (routes.go)
	curPolicy    *accessbot.RequestPolicy // the store's, once read (routes.go)
	stepUpSecret secrets.Secret           // the step-up client secret read by apply (risk.go)

	keys   SecretKeys                  // nil: connector secrets cannot be stored
	getenv func(string) (string, bool) // where connector secrets are read
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }

func (p *planner) change(c *Change) *Change {
	p.changes = append(p.changes, c)
	return c
}

func (p *planner) errorf(at loc, format string, args ...any) {
	p.fileError = append(p.fileError, &FieldError{File: p.f.Name, Line: at.line, Path: at.path, Msg: fmt.Sprintf(format, args...)})
}

func notFound(err error) bool { return errors.Is(err, accessbot.ErrNotFound) }

func plan(ctx context.Context, q store.Queries, f *File, now time.Time, keys SecretKeys, getenv func(string) (string, bool)) (*planner, error) {
	if getenv == nil {
		getenv = func(string) (string, bool) { return "", false }
	}
	p := &planner{f: f, q: q, now: now.UTC(), keys: keys, getenv: getenv}
	steps := []func(context.Context) error{p.planTenant, p.planWorkspace, p.planUsers, p.planApps, p.planChains, p.planSchedules, p.planSyncs, p.planRules, p.planCampaigns, p.planReviews, p.planGrants, p.planImports, p.planConnectors, p.planPlaybooks, p.planPurposes, p.planPolicy, p.noteReminders}
	for _, s := range steps {
		if err := s(ctx); err != nil {
			return nil, err
		}
		if len(p.fileError) > 0 {
			return nil, p.fileError
		}
	}
	return p, nil
}

func (p *planner) planTenant(ctx context.Context) error {
	cur, err := p.q.GetTenantBySlug(ctx, p.f.Tenant.Slug)
	switch {
	case notFound(err):
		t := &accessbot.Tenant{ID: newID(), Slug: p.f.Tenant.Slug, Name: p.f.Tenant.Name}
		p.tenant = t
		c := p.change(&Change{Op: OpCreate, Kind: "tenant", Name: t.Slug, Fields: []string{"name " + quote(t.Name)}, at: p.f.Tenant.at, after: t})
		c.objectID = func() string { return t.ID }
		c.add(phaseTenant, 0, func(ctx context.Context, q store.Queries) error { return q.CreateTenant(ctx, t) })
	case err != nil:
		return fmt.Errorf("read tenant %s: %w", p.f.Tenant.Slug, err)
	default:
		t := *cur
		t.Name = p.f.Tenant.Name
		p.tenant = &t
		var d diff
		d.str("name", cur.Name, t.Name)
		if len(d) > 0 {
			c := p.change(&Change{Op: OpUpdate, Kind: "tenant", Name: t.Slug, Fields: d, at: p.f.Tenant.at, before: cur, after: &t})
			c.objectID = func() string { return t.ID }
			c.add(phaseTenant, 0, func(ctx context.Context, q store.Queries) error { return q.UpdateTenant(ctx, &t) })
		}
	}
	return nil
}

func (p *planner) planWorkspace(ctx context.Context) error {
	want := p.f.Slack
	if want == nil {
		return nil
	}
	tid := p.tenant.ID
	cur, err := p.q.WorkspaceByTenant(ctx, tid)
	if notFound(err) {
		cur, err = nil, nil
	}
	if err != nil {
		return fmt.Errorf("read workspace of tenant %s: %w", p.tenant.Slug, err)
	}
	other, err := p.q.WorkspaceByTeam(ctx, want.TeamID)
	if notFound(err) {
		other, err = nil, nil
	}
	if err != nil {
		return fmt.Errorf("read workspace %s: %w", want.TeamID, err)
	}
	if other != nil && other.TenantID != tid {
		owner := other.TenantID
		if t, err := p.q.GetTenant(ctx, other.TenantID); err == nil {
			owner = t.Slug
		}
		p.errorf(want.at, "Slack workspace %s is already bound to tenant %q; a workspace belongs to one tenant", want.TeamID, owner)
		return nil
	}
	id := func() string { return want.TeamID }
	switch {
	case cur == nil:
		w := &accessbot.Workspace{TenantID: tid, TeamID: want.TeamID, TeamName: want.TeamName}
		c := p.change(&Change{Op: OpCreate, Kind: "slack_workspace", Name: want.TeamID, Fields: []string{"team_name " + quote(want.TeamName)}, at: want.at, after: w, objectID: id})
		c.add(phaseWorkspace, 0, func(ctx context.Context, q store.Queries) error { return q.BindWorkspace(ctx, w) })
	case cur.TeamID != want.TeamID:
		// A new workspace: the old binding (and its bot token) goes.
		w := &accessbot.Workspace{TenantID: tid, TeamID: want.TeamID, TeamName: want.TeamName}
		var d diff
		d.ref("team_id", cur.TeamID, want.TeamID)
		d.str("team_name", cur.TeamName, want.TeamName)
		c := p.change(&Change{Op: OpUpdate, Kind: "slack_workspace", Name: want.TeamID, Fields: d, at: want.at, before: cur, after: w, objectID: id})
		c.add(phaseWorkspace, 0, func(ctx context.Context, q store.Queries) error {
			if err := q.UnbindWorkspace(ctx, tid); err != nil {
				return err
			}
			return q.BindWorkspace(ctx, w)
		})
		p.notes = append(p.notes, fmt.Sprintf("slack_workspace %s replaces %s: reinstall the Slack app in the new workspace", want.TeamID, cur.TeamID))
	case cur.TeamName != want.TeamName:
		w := *cur
		w.TeamName = want.TeamName
		var d diff
		d.str("team_name", cur.TeamName, want.TeamName)
		c := p.change(&Change{Op: OpUpdate, Kind: "slack_workspace", Name: want.TeamID, Fields: d, at: want.at, before: cur, after: &w, objectID: id})
		c.add(phaseWorkspace, 0, func(ctx context.Context, q store.Queries) error { return q.BindWorkspace(ctx, &w) })
	}
	return nil
}

func (p *planner) planUsers(ctx context.Context) error {
	tid := p.tenant.ID
	current, err := p.q.ListUsers(ctx, tid)
	if err != nil {
		return fmt.Errorf("list users of tenant %s: %w", p.tenant.Slug, err)
	}
	byEmail := map[string]*accessbot.User{}
	p.userByID = map[string]*accessbot.User{}
	for i := range current {
		u := &current[i]
		byEmail[accessbot.NormalizeEmail(u.Email)] = u
		p.userByID[u.ID] = u
	}
	emailOf := func(id string) string {
		if id == "" {
			return ""
		}
		if u := p.userByID[id]; u != nil {
			return accessbot.NormalizeEmail(u.Email)
		}
		return "(unknown user " + id + ")"
	}

	// Desired records first, so manager and delegate ids resolve for new users too.
	p.users = map[string]*accessbot.User{}
	for _, fu := range p.f.Users {
		d := &accessbot.User{ID: newID(), TenantID: tid, Email: fu.Email}
		if cur := byEmail[fu.Email]; cur != nil {
			c := *cur
			d = &c
		}
		d.Name, d.Department, d.Status, d.Role = fu.Name, fu.Department, fu.Status, fu.Role
		d.TerminatedAt, d.DelegateUntil = fu.TerminatedAt, fu.DelegateUntil
		p.users[fu.Email] = d
	}
	idOf := func(email string) string {
		if email == "" {
			return ""
		}
		return p.users[email].ID
	}
	order := managerOrder(p.f.Users)

	for _, fu := range p.f.Users {
		d := p.users[fu.Email]
		d.ManagerID, d.DelegateID = idOf(fu.Manager), idOf(fu.Delegate)
		cur := byEmail[fu.Email]
		if cur == nil {
			c := p.change(&Change{Op: OpCreate, Kind: "user", Name: fu.Email, at: fu.at, after: d})
			c.objectID = func() string { return d.ID }
			c.add(phaseUserCreate, 0, func(ctx context.Context, q store.Queries) error {
				bare := *d
				bare.ManagerID, bare.DelegateID, bare.DelegateUntil = "", "", nil
				if err := q.CreateUser(ctx, &bare); err != nil {
					return err
				}
				d.ID = bare.ID
				return nil
			})
			if d.ManagerID != "" || d.DelegateID != "" {
				c.add(phaseUserUpdate, order[fu.Email], func(ctx context.Context, q store.Queries) error {
					d.ManagerID, d.DelegateID = idOf(fu.Manager), idOf(fu.Delegate)
					return q.UpdateUser(ctx, d)
				})
			}
			continue
		}
		var df diff
		df.str("name", cur.Name, d.Name)
		df.ref("manager", emailOf(cur.ManagerID), fu.Manager)
		df.str("department", cur.Department, d.Department)
		df.ref("status", string(cur.Status), string(d.Status))
		df.ref("terminated_at", fmtDate(cur.TerminatedAt), fmtDate(d.TerminatedAt))
		df.ref("role", string(cur.Role), string(d.Role))
		df.ref("delegate", emailOf(cur.DelegateID), fu.Delegate)
		df.ref("delegate_until", fmtDate(cur.DelegateUntil), fmtDate(d.DelegateUntil))
		if len(df) == 0 {
			continue
		}
		c := p.change(&Change{Op: OpUpdate, Kind: "user", Name: fu.Email, Fields: df, at: fu.at, before: cur, after: d})
		c.objectID = func() string { return d.ID }
		c.add(phaseUserUpdate, order[fu.Email], func(ctx context.Context, q store.Queries) error {
			return q.UpdateUser(ctx, d)
		})
	}

	if left := len(current) - countIn(current, p.users); left > 0 {
		p.notes = append(p.notes, fmt.Sprintf("%d user(s) in the store are not in this file: left unchanged (apply never deletes users; set status: terminated, or use accessbot import users)", left))
	}
	return nil
}

func countIn(users []accessbot.User, in map[string]*accessbot.User) int {
	n := 0
	for _, u := range users {
		if in[accessbot.NormalizeEmail(u.Email)] != nil {
			n++
		}
	}
	return n
}

// managerOrder numbers users so that everyone comes after their manager.
// The file has no cycles (check refused them).
func managerOrder(users []User) map[string]int {
	byEmail := map[string]*User{}
	for i := range users {
		byEmail[users[i].Email] = &users[i]
	}
	order := map[string]int{}
	var visit func(u *User)
	visit = func(u *User) {
		if _, done := order[u.Email]; done {
			return
		}
		if m := byEmail[u.Manager]; m != nil && m != u {
			visit(m)
		}
		order[u.Email] = len(order)
	}
	for i := range users {
		visit(&users[i])
	}
	return order
}

func fmtDate(t *time.Time) string {
	if t == nil {
		return ""
	}
	return userimport.FormatDate(*t)
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}

func sameSchema(a, b []accessbot.SchemaField) bool {
	return slices.EqualFunc(a, b, func(x, y accessbot.SchemaField) bool {
		return x.Name == y.Name && x.Label == y.Label && x.Type == y.Type && x.Required == y.Required && slices.Equal(x.Options, y.Options)
	})
}

func schemaString(fs []accessbot.SchemaField) string {
	if len(fs) == 0 {
		return "(none)"
	}
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = f.Name
	}
	return "[" + strings.Join(names, " ") + "]"
}
