package requests

import (
	"context"
	"fmt"
	"slices"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

// maxReportingDepth bounds walking up a manager chain (and breaks cycles
// that a store edited by hand could hold).
const maxReportingDepth = 64

// ForWhom says why requester may ask for access to application appID for
// target under the tenant's on-behalf policy, or "" when they may not:
//   - a manager for their direct reports (managers: direct_reports, the
//     default) or their whole reporting line (managers: reporting_line);
//   - an admin for anyone (admins: true);
//   - a member of a named group for anyone, for the group's applications.
//
// appID "" asks whether requester may ask for target at all (for some
// application).
func ForWhom(ctx context.Context, q store.Queries, p accessbot.OnBehalf, requester, target *accessbot.User, appID string) (string, error) {
	if requester.ID == target.ID {
		return "yourself", nil
	}
	switch p.ManagerReach() {
	case accessbot.ReachDirectReports:
		if target.ManagerID == requester.ID {
			return "you are " + target.Name + "'s manager", nil
		}
	case accessbot.ReachReportingLine:
		below, err := reportsTo(ctx, q, target, requester.ID)
		if err != nil {
			return "", err
		}
		if below {
			if target.ManagerID == requester.ID {
				return "you are " + target.Name + "'s manager", nil
			}
			return target.Name + " is in your reporting line", nil
		}
	}
	if p.Admins && requester.Role == accessbot.RoleAdmin {
		return "admins may request for anyone", nil
	}
	for _, g := range p.Groups {
		if slices.Contains(g.MemberIDs, requester.ID) && (appID == "" || slices.Contains(g.AppIDs, appID)) {
			return "you are in group " + g.Name + ", which may request its applications for anyone", nil
		}
	}
	return "", nil
}

// reportsTo reports whether managerID is above u in the manager chain.
func reportsTo(ctx context.Context, q store.Queries, u *accessbot.User, managerID string) (bool, error) {
	seen := map[string]bool{u.ID: true}
	cur := u
	for range maxReportingDepth {
		if cur.ManagerID == "" || seen[cur.ManagerID] {
			return false, nil
		}
		if cur.ManagerID == managerID {
			return true, nil
		}
		seen[cur.ManagerID] = true
		m, err := q.GetUser(ctx, u.TenantID, cur.ManagerID)
		if err != nil {
			return false, fmt.Errorf("walk the manager chain of %s: %w", u.ID, err)
		}
		cur = m
	}
	return false, nil
}

// Targets lists whom requester may ask for: everyone (true) when an admin
// or group rule lets them ask for anyone (for some application), else the
// active people below them that the manager rule allows, nearest first.
func Targets(p accessbot.OnBehalf, requester *accessbot.User, users []accessbot.User) (anyone bool, ids []string) {
	if p.Admins && requester.Role == accessbot.RoleAdmin {
		return true, nil
	}
	for _, g := range p.Groups {
		if slices.Contains(g.MemberIDs, requester.ID) {
			return true, nil
		}
	}
	reports := map[string][]string{}
	active := map[string]bool{}
	for _, u := range users {
		if u.ManagerID != "" {
			reports[u.ManagerID] = append(reports[u.ManagerID], u.ID)
		}
		active[u.ID] = u.Status == accessbot.UserActive
	}
	depth := 1
	switch p.ManagerReach() {
	case accessbot.ReachNone:
		return false, nil
	case accessbot.ReachReportingLine:
		depth = maxReportingDepth
	}
	seen := map[string]bool{requester.ID: true}
	level := []string{requester.ID}
	for d := 0; d < depth && len(level) > 0; d++ {
		var next []string
		for _, m := range level {
			for _, r := range reports[m] {
				if seen[r] {
					continue
				}
				seen[r] = true
				next = append(next, r)
				if active[r] {
					ids = append(ids, r)
				}
			}
		}
		level = next
	}
	return false, ids
}
