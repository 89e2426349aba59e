package reviews

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

// directory caches what reviewer resolution reads in one transaction.
type directory struct {
	q        store.Queries
	tenantID string
	now      time.Time
	users    map[string]*accessbot.User // id → user (nil: gone or terminated)
	apps     map[string]*accessbot.Application
	admins   []string
	loaded   bool
}

func newDirectory(q store.Queries, tenantID string, now time.Time) *directory {
	return &directory{q: q, tenantID: tenantID, now: now, users: map[string]*accessbot.User{}, apps: map[string]*accessbot.Application{}}
}

func (d *directory) user(ctx context.Context, id string) (*accessbot.User, error) {
	if id == "" {
		return nil, nil
	}
	if u, ok := d.users[id]; ok {
		return u, nil
	}
	u, err := activeUser(ctx, d.q, d.tenantID, id)
	if err != nil {
		return nil, err
	}
	d.users[id] = u
	return u, nil
}

func (d *directory) app(ctx context.Context, id string) (*accessbot.Application, error) {
	if a, ok := d.apps[id]; ok {
		return a, nil
	}
	a, err := d.q.GetApplication(ctx, d.tenantID, id)
	if err != nil {
		return nil, fmt.Errorf("load application %s: %w", id, err)
	}
	d.apps[id] = a
	return a, nil
}

// adminIDs lists the tenant's active admins, by email.
func (d *directory) adminIDs(ctx context.Context) ([]string, error) {
	if d.loaded {
		return d.admins, nil
	}
	users, err := d.q.ListUsers(ctx, d.tenantID)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	slices.SortFunc(users, func(a, b accessbot.User) int { return cmpStr(a.Email, b.Email) })
	for _, u := range users {
		if u.Role == accessbot.RoleAdmin && u.Status != accessbot.UserTerminated {
			d.admins = append(d.admins, u.ID)
		}
	}
	d.loaded = true
	return d.admins, nil
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Delegation is a reviewer swapped for their delegate, to be audited.
type delegation struct{ From, To string }

// reviewer picks who reviews an item of app held by employee (nil when the
// identity maps to nobody) under rule: the rule's person, else the
// application owner, else the first admin; never the employee themself
// and never someone terminated. An active delegate replaces the pick.
func (d *directory) reviewer(ctx context.Context, rule accessbot.ReviewerRule, appID string, employee *accessbot.User) (string, *delegation, error) {
	app, err := d.app(ctx, appID)
	if err != nil {
		return "", nil, err
	}
	var candidates []string
	if rule == accessbot.ReviewerManager && employee != nil {
		candidates = append(candidates, employee.ManagerID)
	}
	candidates = append(candidates, app.PrimaryOwnerID, app.SecondaryOwnerID)
	admins, err := d.adminIDs(ctx)
	if err != nil {
		return "", nil, err
	}
	candidates = append(candidates, admins...)
	for _, id := range candidates {
		if id == "" || (employee != nil && id == employee.ID) {
			continue
		}
		u, err := d.user(ctx, id)
		if err != nil {
			return "", nil, err
		}
		if u == nil {
			continue
		}
		return d.delegate(ctx, u, employee)
	}
	return "", nil, ErrNoReviewer
}

// delegate returns u's active delegate instead of u, when there is one.
func (d *directory) delegate(ctx context.Context, u *accessbot.User, employee *accessbot.User) (string, *delegation, error) {
	if u.DelegateID == "" || u.DelegateUntil == nil || !u.DelegateUntil.After(d.now) || u.DelegateID == u.ID {
		return u.ID, nil, nil
	}
	if employee != nil && u.DelegateID == employee.ID {
		return u.ID, nil, nil
	}
	del, err := d.user(ctx, u.DelegateID)
	if err != nil {
		return "", nil, err
	}
	if del == nil {
		return u.ID, nil, nil
	}
	return del.ID, &delegation{From: u.ID, To: del.ID}, nil
}
