package azuread

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/dirsync"
)

// Source reads an Entra ID directory for dirsync: users (identities),
// groups (security and Microsoft 365) and activated directory roles (entitlements, types
// "group" and "role"), and their user members. Users and groups are read
// with delta queries; the cursor holds both delta links. Directory roles
// have few members and are read whole each time, 20 roles per $batch.
type Source struct{ C *Client }

var _ dirsync.Source = Source{}

type cursor struct {
	Users  string `json:"users"`
	Groups string `json:"groups"`
	// Leave holds each user's employeeLeaveDateTime (by object id). A
	// delta round reports a user only when it changed, and the inventory
	// keeps no leave date: without this, a date read in the future and
	// passed since would never terminate the employee.
	Leave map[string]time.Time `json:"leave,omitempty"`
}

// Read reads everything when cursor is "" or its delta links have expired
// (410 syncStateNotFound), else the changes since cursor.
func (s Source) Read(ctx context.Context, cur string, stored *dirsync.Current, rel dirsync.RelationWriter) (*dirsync.Read, error) {
	if cur != "" {
		var c cursor
		if err := json.Unmarshal([]byte(cur), &c); err != nil || c.Users == "" || c.Groups == "" {
			s.C.log.Warn().Msg("azuread: stored sync cursor unreadable; reading everything")
		} else {
			rd, err := s.delta(ctx, c, stored)
			if !IsSyncStateNotFound(err) {
				return rd, err
			}
			s.C.log.Info().Err(err).Msg("azuread: delta token expired; reading everything")
		}
	}
	return s.full(ctx, rel)
}

func email(u *User) string {
	if u.Mail != "" {
		return u.Mail
	}
	if strings.Contains(u.UserPrincipalName, "#EXT#") { // a guest's UPN is not an address
		return ""
	}
	return u.UserPrincipalName
}

func (s Source) full(ctx context.Context, rel dirsync.RelationWriter) (*dirsync.Read, error) {
	rd := &dirsync.Read{Full: true}
	leave := map[string]time.Time{}
	usersLink, err := s.C.UsersDelta(ctx, "", func(us []User) error {
		for i := range us {
			u := &us[i]
			if u.Removed {
				continue
			}
			if u.EmployeeLeaveDateTime != nil {
				leave[u.ID] = *u.EmployeeLeaveDateTime
			}
			rd.Identities = append(rd.Identities, dirsync.Identity{ExternalID: u.ID, Email: email(u), DisplayName: u.DisplayName,
				Disabled: !u.AccountEnabled, LeaveAt: u.EmployeeLeaveDateTime})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// A large group comes back on several pages, each with part of its
	// members: the name is kept once, every member written.
	index := map[string]int{}
	groupsLink, err := s.C.GroupsDelta(ctx, "", func(gs []Group) error {
		for _, g := range gs {
			if g.Removed {
				continue
			}
			if i, ok := index[g.ID]; !ok {
				index[g.ID] = len(rd.Entitlements)
				rd.Entitlements = append(rd.Entitlements, dirsync.Entitlement{ExternalID: g.ID, Name: g.DisplayName, Type: "group"})
			} else if g.HasDisplayName {
				rd.Entitlements[i].Name = g.DisplayName
			}
			for _, m := range g.Members {
				if m.IsUser() && !m.Removed {
					if err := rel.Write(m.ID, g.ID); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	roles, err := s.C.DirectoryRoles(ctx)
	if err != nil {
		return nil, err
	}
	for _, r := range roles {
		rd.Entitlements = append(rd.Entitlements, dirsync.Entitlement{ExternalID: r.ID, Name: r.DisplayName, Type: "role"})
		for _, m := range r.Members {
			if err := rel.Write(m, r.ID); err != nil {
				return nil, err
			}
		}
	}
	return rd, s.setCursor(rd, cursor{Users: usersLink, Groups: groupsLink, Leave: leave})
}

func (s Source) setCursor(rd *dirsync.Read, c cursor) error {
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("azuread: cursor: %w", err)
	}
	rd.Cursor = string(b)
	return nil
}

func (s Source) delta(ctx context.Context, c cursor, stored *dirsync.Current) (*dirsync.Read, error) {
	leave := c.Leave
	if leave == nil {
		leave = map[string]time.Time{}
	}
	ids := make(map[string]dirsync.Identity, len(stored.Identities))
	order := make([]string, 0, len(stored.Identities))
	for ext, i := range stored.Identities {
		ids[ext] = dirsync.Identity{ExternalID: ext, Email: i.Email, DisplayName: i.DisplayName, Disabled: i.Status == accessbot.IdentityDisabled}
		order = append(order, ext)
	}
	usersLink, err := s.C.UsersDelta(ctx, c.Users, func(us []User) error {
		for i := range us {
			u := &us[i]
			if u.Removed {
				delete(ids, u.ID)
				delete(leave, u.ID)
				continue
			}
			x, ok := ids[u.ID]
			if !ok {
				x = dirsync.Identity{ExternalID: u.ID}
				order = append(order, u.ID)
			}
			if u.HasDisplayName {
				x.DisplayName = u.DisplayName
			}
			if u.HasMail || u.HasUPN {
				if e := email(u); e != "" || u.HasMail && u.HasUPN {
					x.Email = e
				}
			}
			if u.HasAccountEnabled {
				x.Disabled = !u.AccountEnabled
			}
			if u.HasLeave {
				if u.EmployeeLeaveDateTime != nil {
					leave[u.ID] = *u.EmployeeLeaveDateTime
				} else {
					delete(leave, u.ID)
				}
			}
			ids[u.ID] = x
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	groups := map[string]dirsync.Entitlement{}
	for ext, e := range stored.Entitlements {
		if e.Type == "group" {
			groups[ext] = dirsync.Entitlement{ExternalID: ext, Name: e.Name, Type: "group"}
		}
	}
	rd := &dirsync.Read{Replaced: map[string][]string{}}
	groupsLink, err := s.C.GroupsDelta(ctx, c.Groups, func(gs []Group) error {
		for _, g := range gs {
			if g.Removed {
				delete(groups, g.ID)
				continue
			}
			x, ok := groups[g.ID]
			if !ok {
				x = dirsync.Entitlement{ExternalID: g.ID, Name: g.DisplayName, Type: "group"}
			}
			if g.HasDisplayName {
				x.Name = g.DisplayName
			}
			groups[g.ID] = x
			for _, m := range g.Members {
				if !m.IsUser() {
					continue
				}
				if m.Removed {
					rd.Removed = append(rd.Removed, dirsync.Pair{Identity: m.ID, Entitlement: g.ID})
				} else {
					rd.Added = append(rd.Added, dirsync.Pair{Identity: m.ID, Entitlement: g.ID})
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	roles, err := s.C.DirectoryRoles(ctx)
	if err != nil {
		return nil, err
	}
	for _, ext := range order {
		if x, ok := ids[ext]; ok {
			if t, ok := leave[ext]; ok {
				x.LeaveAt = &t
			}
			rd.Identities = append(rd.Identities, x)
			delete(ids, ext) // an id added twice to order is written once
		}
	}
	for _, g := range groups {
		rd.Entitlements = append(rd.Entitlements, g)
	}
	for _, r := range roles {
		rd.Entitlements = append(rd.Entitlements, dirsync.Entitlement{ExternalID: r.ID, Name: r.DisplayName, Type: "role"})
		rd.Replaced[r.ID] = r.Members
	}
	return rd, s.setCursor(rd, cursor{Users: usersLink, Groups: groupsLink, Leave: leave})
}
