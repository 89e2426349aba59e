package scim

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// User is the part of an RFC 7643 User this connector reads.
type User struct {
	ID          string  `json:"id"`
	ExternalID  string  `json:"externalId,omitempty"`
	UserName    string  `json:"userName"`
	DisplayName string  `json:"displayName,omitempty"`
	Name        *Name   `json:"name,omitempty"`
	Active      *bool   `json:"active,omitempty"` // absent means active
	Emails      []Multi `json:"emails,omitempty"`
}

// Name is a User's name.
type Name struct {
	Formatted  string `json:"formatted,omitempty"`
	GivenName  string `json:"givenName,omitempty"`
	FamilyName string `json:"familyName,omitempty"`
}

// Multi is a multi-valued attribute's value (emails, members).
type Multi struct {
	Value   string `json:"value"`
	Display string `json:"display,omitempty"`
	Type    string `json:"type,omitempty"`
	Primary bool   `json:"primary,omitempty"`
	Ref     string `json:"$ref,omitempty"`
}

// IsActive reads active, absent meaning true.
func (u *User) IsActive() bool { return u.Active == nil || *u.Active }

// Email is the primary email, else the first, else the userName when it
// is an address.
func (u *User) Email() string {
	for _, e := range u.Emails {
		if e.Primary && e.Value != "" {
			return e.Value
		}
	}
	if len(u.Emails) > 0 && u.Emails[0].Value != "" {
		return u.Emails[0].Value
	}
	if strings.Contains(u.UserName, "@") {
		return u.UserName
	}
	return ""
}

// Display is the display name, else the formatted name, else userName.
func (u *User) Display() string {
	switch {
	case u.DisplayName != "":
		return u.DisplayName
	case u.Name != nil && u.Name.Formatted != "":
		return u.Name.Formatted
	case u.Name != nil && (u.Name.GivenName != "" || u.Name.FamilyName != ""):
		return strings.TrimSpace(u.Name.GivenName + " " + u.Name.FamilyName)
	}
	return u.UserName
}

// Group is the part of an RFC 7643 Group this connector reads.
type Group struct {
	ID          string  `json:"id"`
	DisplayName string  `json:"displayName"`
	Members     []Multi `json:"members,omitempty"`
}

// listResponse is RFC 7644 §3.4.2's ListResponse.
type listResponse[T any] struct {
	Schemas      []string `json:"schemas"`
	TotalResults int      `json:"totalResults"`
	StartIndex   int      `json:"startIndex"`
	ItemsPerPage int      `json:"itemsPerPage"`
	Resources    []T      `json:"Resources"`
}

// list pages through resource (Users, Groups) with startIndex/count
// (1-based), handing each page to fn, until totalResults are read or a
// page comes back empty. filter may be "".
func list[T any](ctx context.Context, c *Client, resource, filter string, fn func([]T) error) error {
	start := 1
	for page := 1; ; page++ {
		q := url.Values{"startIndex": {strconv.Itoa(start)}, "count": {strconv.Itoa(c.page)}}
		if filter != "" {
			q.Set("filter", filter)
		}
		var lr listResponse[T]
		op := fmt.Sprintf("list %s (page %d)", resource, page)
		if err := c.call(ctx, op, http.MethodGet, "/"+resource+"?"+q.Encode(), nil, &lr); err != nil {
			return err
		}
		if err := fn(lr.Resources); err != nil {
			return err
		}
		start += len(lr.Resources)
		// totalResults is required (RFC 7644 §3.4.2); a server that leaves
		// it out is read until it answers an empty page.
		if len(lr.Resources) == 0 || lr.TotalResults > 0 && start > lr.TotalResults {
			return nil
		}
		if page > 1_000_000 {
			return &Error{Op: op, Err: fmt.Errorf("server keeps paging")}
		}
	}
}

// Users reads every user, a page at a time.
func (c *Client) Users(ctx context.Context, fn func([]User) error) error {
	return list(ctx, c, "Users", "", fn)
}

// Groups reads every group with its members, a page at a time.
func (c *Client) Groups(ctx context.Context, fn func([]Group) error) error {
	return list(ctx, c, "Groups", "", fn)
}

// NewUser is what CreateUser sends.
type NewUser struct {
	UserName, DisplayName, Email, ExternalID string
	Active                                   bool
}

// CreateUser creates a user and returns its id. A 409 uniqueness (the
// userName is taken) finds the existing user and returns its id: the
// state asked for already holds, so a retried step succeeds.
func (c *Client) CreateUser(ctx context.Context, u NewUser) (string, error) {
	op := "create user " + u.UserName
	if u.UserName == "" {
		return "", &Error{Op: op, Status: http.StatusBadRequest, ScimType: "invalidValue", Detail: "no userName: set the user_name param or a target with an email"}
	}
	body := map[string]any{"schemas": []string{SchemaUser}, "userName": u.UserName, "active": u.Active}
	if u.DisplayName != "" {
		body["displayName"] = u.DisplayName
	}
	if u.ExternalID != "" {
		body["externalId"] = u.ExternalID
	}
	if u.Email != "" {
		body["emails"] = []Multi{{Value: u.Email, Type: "work", Primary: true}}
	}
	var out User
	err := c.call(ctx, op, http.MethodPost, "/Users", body, &out)
	if IsUniqueness(err) {
		existing, ferr := c.findUser(ctx, u.UserName)
		if ferr == nil && existing != nil {
			return existing.ID, nil
		}
	}
	if err != nil {
		return "", err
	}
	return out.ID, nil
}

func (c *Client) findUser(ctx context.Context, userName string) (*User, error) {
	var found []User
	err := list(ctx, c, "Users", filterEq("userName", userName), func(us []User) error {
		found = append(found, us...)
		return nil
	})
	if err != nil || len(found) == 0 {
		return nil, err
	}
	return &found[0], nil
}

// UserID resolves a user from its userName (tried first: that is what
// templates have) or its id.
func (c *Client) UserID(ctx context.Context, ref string) (string, error) {
	op := "find user " + ref
	if ref == "" {
		return "", &Error{Op: op, Status: http.StatusBadRequest, ScimType: "invalidValue", Detail: "no user: set the user param or a target with an email"}
	}
	u, err := c.findUser(ctx, ref)
	if err != nil {
		return "", err
	}
	if u != nil {
		return u.ID, nil
	}
	var byID User
	if err := c.call(ctx, op, http.MethodGet, "/Users/"+url.PathEscape(ref), nil, &byID); err != nil {
		if IsNotFound(err) {
			return "", &Error{Op: op, Status: http.StatusNotFound, Detail: "no user has this userName or id"}
		}
		return "", err
	}
	return byID.ID, nil
}

// GroupID resolves a group from its displayName (which must match one) or
// its id.
func (c *Client) GroupID(ctx context.Context, ref string) (string, error) {
	op := "find group " + ref
	if ref == "" {
		return "", &Error{Op: op, Status: http.StatusBadRequest, ScimType: "invalidValue", Detail: "no group: set the group param or the connection's name"}
	}
	var found []Group
	err := list(ctx, c, "Groups", filterEq("displayName", ref), func(gs []Group) error {
		found = append(found, gs...)
		return nil
	})
	if err != nil {
		return "", err
	}
	switch len(found) {
	case 1:
		return found[0].ID, nil
	case 0:
	default:
		return "", &Error{Op: op, Status: http.StatusConflict, Detail: fmt.Sprintf("%d groups have this displayName: use the group's id", len(found))}
	}
	var byID Group
	if err := c.call(ctx, op, http.MethodGet, "/Groups/"+url.PathEscape(ref)+"?attributes=id", nil, &byID); err != nil {
		if IsNotFound(err) {
			return "", &Error{Op: op, Status: http.StatusNotFound, Detail: "no group has this displayName or id"}
		}
		return "", err
	}
	return byID.ID, nil
}

// CreateGroup creates a group named name and returns its id. A 409
// uniqueness (the displayName is taken) finds that group and returns its
// id, so a retried step succeeds; a server that allows two groups of one
// name is asked first, so a repeat makes no second one.
func (c *Client) CreateGroup(ctx context.Context, name string) (string, error) {
	op := "create group " + name
	if strings.TrimSpace(name) == "" {
		return "", &Error{Op: op, Status: http.StatusBadRequest, ScimType: "invalidValue", Detail: "no displayName: set the name param or the connection's name"}
	}
	if id, err := c.GroupID(ctx, name); err == nil {
		return id, nil
	} else if !IsNotFound(err) {
		return "", err
	}
	var out Group
	err := c.call(ctx, op, http.MethodPost, "/Groups", map[string]any{"schemas": []string{SchemaGroup}, "displayName": name}, &out)
	if IsUniqueness(err) {
		if id, ferr := c.GroupID(ctx, name); ferr == nil {
			return id, nil
		}
	}
	if err != nil {
		return "", err
	}
	return out.ID, nil
}

// DeleteGroup deletes a group by id; one that is gone already is success.
func (c *Client) DeleteGroup(ctx context.Context, id string) error {
	err := c.call(ctx, "delete group "+id, http.MethodDelete, "/Groups/"+url.PathEscape(id), nil, nil)
	if IsNotFound(err) {
		return nil
	}
	return err
}

// patchOp is one RFC 7644 §3.5.2 operation.
type patchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path,omitempty"`
	Value any    `json:"value,omitempty"`
}

func patch(ops ...patchOp) map[string]any {
	return map[string]any{"schemas": []string{SchemaPatch}, "Operations": ops}
}

// SetActive sets a user's active attribute with PATCH (replace).
func (c *Client) SetActive(ctx context.Context, id string, active bool) error {
	verb := "deactivate"
	if active {
		verb = "activate"
	}
	return c.call(ctx, verb+" user "+id, http.MethodPatch, "/Users/"+url.PathEscape(id), patch(patchOp{Op: "replace", Path: "active", Value: active}), nil)
}

// DeleteUser deletes a user; one that is gone already is success.
func (c *Client) DeleteUser(ctx context.Context, id string) error {
	err := c.call(ctx, "delete user "+id, http.MethodDelete, "/Users/"+url.PathEscape(id), nil, nil)
	if IsNotFound(err) {
		return nil
	}
	return err
}

// AddMember adds a user to a group with PATCH add members. A member that
// is there already (409 uniqueness, as some servers answer) is success.
func (c *Client) AddMember(ctx context.Context, groupID, userID string) error {
	err := c.call(ctx, fmt.Sprintf("add user %s to group %s", userID, groupID), http.MethodPatch, "/Groups/"+url.PathEscape(groupID),
		patch(patchOp{Op: "add", Path: "members", Value: []Multi{{Value: userID}}}), nil)
	if IsUniqueness(err) {
		return nil
	}
	return err
}

// RemoveMember removes a user from a group with PATCH remove
// members[value eq "id"]. A member that is not there (400 noTarget, or a
// 404) is success.
func (c *Client) RemoveMember(ctx context.Context, groupID, userID string) error {
	path := "members[" + filterEq("value", userID) + "]"
	err := c.call(ctx, fmt.Sprintf("remove user %s from group %s", userID, groupID), http.MethodPatch, "/Groups/"+url.PathEscape(groupID),
		patch(patchOp{Op: "remove", Path: path}), nil)
	if IsNoTarget(err) {
		return nil
	}
	return err
}

// ServiceProviderConfig is the part of RFC 7643 §5 a check reads.
type ServiceProviderConfig struct {
	Patch  struct{ Supported bool } `json:"patch"`
	Filter struct {
		Supported  bool `json:"supported"`
		MaxResults int  `json:"maxResults"`
	} `json:"filter"`
	Bulk struct {
		Supported bool `json:"supported"`
	} `json:"bulk"`
	AuthenticationSchemes []struct {
		Type string `json:"type"`
		Name string `json:"name"`
	} `json:"authenticationSchemes"`
}

// Config reads /ServiceProviderConfig. RFC 7644 §4 leaves it
// unauthenticated, so a GET /Users?count=1 checks the token too.
func (c *Client) Config(ctx context.Context) (*ServiceProviderConfig, error) {
	var sp ServiceProviderConfig
	if err := c.call(ctx, "read ServiceProviderConfig", http.MethodGet, "/ServiceProviderConfig", nil, &sp); err != nil {
		return nil, err
	}
	return &sp, nil
}

// CheckRead reads one user: it fails when the token may not read users.
func (c *Client) CheckRead(ctx context.Context) error {
	var lr listResponse[User]
	if err := c.call(ctx, "read users", http.MethodGet, "/Users?startIndex=1&count=1", nil, &lr); err != nil {
		return err
	}
	var lg listResponse[Group]
	return c.call(ctx, "read groups", http.MethodGet, "/Groups?startIndex=1&count=1", nil, &lg)
}
