package azuread

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// NewUser is what create_user makes.
type NewUser struct {
	UserPrincipalName string
	DisplayName       string
	MailNickname      string // "" means the UPN's local part
	Password          string // initial password, changed at first sign-in
	AccountEnabled    bool
}

// CreateUser makes a user, or returns the id of the one with the same
// userPrincipalName (a repeat of a step whose answer was lost).
func (c *Client) CreateUser(ctx context.Context, in NewUser) (string, error) {
	op := "create user " + in.UserPrincipalName
	if in.UserPrincipalName == "" || !strings.Contains(in.UserPrincipalName, "@") {
		return "", &Error{Op: op, Status: http.StatusBadRequest, Message: "user_principal_name must be name@domain"}
	}
	if in.DisplayName == "" {
		in.DisplayName = in.UserPrincipalName
	}
	if in.MailNickname == "" {
		in.MailNickname, _, _ = strings.Cut(in.UserPrincipalName, "@")
	}
	if id, err := c.UserID(ctx, in.UserPrincipalName); err == nil {
		return id, nil
	} else if !IsNotFound(err) {
		return "", err
	}
	body := map[string]any{
		"accountEnabled":    in.AccountEnabled,
		"displayName":       in.DisplayName,
		"mailNickname":      in.MailNickname,
		"userPrincipalName": in.UserPrincipalName,
		"passwordProfile":   map[string]any{"forceChangePasswordNextSignIn": true, "password": in.Password},
	}
	var out struct {
		ID string `json:"id"`
	}
	if err := c.call(ctx, op, http.MethodPost, "/users", body, &out); err != nil {
		return "", err
	}
	return out.ID, nil
}

// UserID resolves a user's object id from its id or userPrincipalName.
func (c *Client) UserID(ctx context.Context, user string) (string, error) {
	if guidRE.MatchString(user) {
		return user, nil
	}
	var out struct {
		ID string `json:"id"`
	}
	if err := c.call(ctx, "find user "+user, http.MethodGet, "/users/"+url.PathEscape(user)+"?$select=id", nil, &out); err != nil {
		return "", err
	}
	return out.ID, nil
}

// DisableUser sets accountEnabled false (idempotent by nature). A user
// that is gone (deleted, perhaps by an earlier step) cannot sign in
// either: success, as for SCIM.
func (c *Client) DisableUser(ctx context.Context, user string) error {
	return gone(c.call(ctx, "disable user "+user, http.MethodPatch, "/users/"+url.PathEscape(user), map[string]any{"accountEnabled": false}, nil))
}

// DeleteUser deletes a user; one already gone is success.
func (c *Client) DeleteUser(ctx context.Context, user string) error {
	return gone(c.call(ctx, "delete user "+user, http.MethodDelete, "/users/"+url.PathEscape(user), nil, nil))
}

// NewGroup is what create_group makes: a security group.
type NewGroup struct {
	DisplayName  string
	MailNickname string // "" derives one from the name
	Description  string
}

// CreateGroup makes a security group, or returns the id of the one with
// the same mailNickname.
func (c *Client) CreateGroup(ctx context.Context, in NewGroup) (string, error) {
	op := "create group " + in.DisplayName
	if strings.TrimSpace(in.DisplayName) == "" {
		return "", &Error{Op: op, Status: http.StatusBadRequest, Message: "group name is empty"}
	}
	if in.MailNickname == "" {
		in.MailNickname = nickname(in.DisplayName)
	}
	var found page[struct {
		ID string `json:"id"`
	}]
	filter := "mailNickname eq '" + strings.ReplaceAll(in.MailNickname, "'", "''") + "'"
	if err := c.call(ctx, op, http.MethodGet, "/groups?$select=id&$filter="+url.QueryEscape(filter), nil, &found); err != nil {
		return "", err
	}
	if len(found.Value) > 0 {
		return found.Value[0].ID, nil
	}
	body := map[string]any{"displayName": in.DisplayName, "mailEnabled": false, "mailNickname": in.MailNickname, "securityEnabled": true}
	if in.Description != "" {
		body["description"] = in.Description
	}
	var out struct {
		ID string `json:"id"`
	}
	if err := c.call(ctx, op, http.MethodPost, "/groups", body, &out); err != nil {
		return "", err
	}
	return out.ID, nil
}

func nickname(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "group"
	}
	return b.String()
}

// DeleteGroup deletes a group; one already gone is success.
func (c *Client) DeleteGroup(ctx context.Context, group string) error {
	return c.deleteGroup(ctx, group, group)
}

func (c *Client) deleteGroup(ctx context.Context, id, name string) error {
	return gone(c.call(ctx, "delete group "+label(name, id), http.MethodDelete, "/groups/"+url.PathEscape(id), nil, nil))
}

// Container is where members go: "groups" or "directoryRoles".
type Container string

const (
	Groups         Container = "groups"
	DirectoryRoles Container = "directoryRoles"
)

func (k Container) noun() string {
	if k == DirectoryRoles {
		return "directory role"
	}
	return "group"
}

// AddMember adds user (id or UPN) to a group or directory role. A member
// that is already there (Graph's 400 "already exist") is success.
func (c *Client) AddMember(ctx context.Context, k Container, target, user string) error {
	return c.addMember(ctx, k, target, target, user)
}

// label names a container in errors: its display name and object id
// when both are known, so a Microsoft admin can find it either way.
func label(name, id string) string {
	if name == "" || name == id {
		return id
	}
	return name + " (" + id + ")"
}

func (c *Client) addMember(ctx context.Context, k Container, target, name, user string) error {
	op := fmt.Sprintf("add user %s to %s %s", user, k.noun(), label(name, target))
	id, err := c.UserID(ctx, user)
	if err != nil {
		return err
	}
	ref := map[string]string{"@odata.id": c.graph + "/directoryObjects/" + id}
	err = c.call(ctx, op, http.MethodPost, "/"+string(k)+"/"+url.PathEscape(target)+"/members/$ref", ref, nil)
	if isAlreadyExists(err) {
		return nil
	}
	return err
}

// RemoveMember removes user from a group or directory role. It deletes the
// membership reference (/$ref), never the user; a membership (or user)
// that is not there (404) is success.
func (c *Client) RemoveMember(ctx context.Context, k Container, target, user string) error {
	return c.removeMember(ctx, k, target, target, user)
}

func (c *Client) removeMember(ctx context.Context, k Container, target, name, user string) error {
	op := fmt.Sprintf("remove user %s from %s %s", user, k.noun(), label(name, target))
	id, err := c.UserID(ctx, user)
	if IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	return gone(c.call(ctx, op, http.MethodDelete, "/"+string(k)+"/"+url.PathEscape(target)+"/members/"+url.PathEscape(id)+"/$ref", nil, nil))
}

func gone(err error) error {
	if IsNotFound(err) {
		return nil
	}
	return err
}
