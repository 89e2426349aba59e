package scim

import (
	"context"

	"github.com/accessbot/accessbot/flows/dirsync"
)

// Source reads a SCIM service provider for dirsync: users (identities)
// and groups (entitlements of type "group") with their user members. SCIM
// has no change feed every server serves, so each read is a full one.
type Source struct{ C *Client }

var _ dirsync.Source = Source{}

// Read reads everything; cursor and the stored inventory are not needed.
func (s Source) Read(ctx context.Context, _ string, _ *dirsync.Current, rel dirsync.RelationWriter) (*dirsync.Read, error) {
	rd := &dirsync.Read{Full: true}
	err := s.C.Users(ctx, func(us []User) error {
		for i := range us {
			u := &us[i]
			rd.Identities = append(rd.Identities, dirsync.Identity{ExternalID: u.ID, Email: u.Email(), DisplayName: u.Display(), Disabled: !u.IsActive()})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	err = s.C.Groups(ctx, func(gs []Group) error {
		for _, g := range gs {
			if seen[g.ID] { // a group moved between pages while paging
				continue
			}
			seen[g.ID] = true
			rd.Entitlements = append(rd.Entitlements, dirsync.Entitlement{ExternalID: g.ID, Name: g.DisplayName, Type: "group"})
			for _, m := range g.Members {
				if m.Type != "" && m.Type != "User" { // nested groups are not identities
					continue
				}
				if err := rel.Write(m.Value, g.ID); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return rd, nil
}
