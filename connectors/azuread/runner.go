package azuread

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/accessbot/accessbot/connectors/apiconn"
	"github.com/accessbot/accessbot/flows/provision"
)

// Provider is the script prefix this connector serves: azuread_api_*.
const Provider = "azuread"

// Runner carries out the azuread_api_* steps. Params (rendered templates):
//
//	create_user:  user_principal_name, display_name, [password], [enabled=false]
//	disable_user, delete_user: [user] (id or UPN; default the target's email)
//	add_user_to_group, remove_user_from_group: [user], [group] (id or display name; default the connection's name)
//	add_user_to_role, remove_user_from_role:   [user], [role] (id or display name of an activated directory role)
//	create_group: [name] (default the connection's name), [description]
//	delete_group: [group]
//
// Outputs: azuread_user_id, azuread_group_id. Errors Graph will repeat
// (4xx other than 408/429) are provision.Permanent.
type Runner struct {
	// Client returns the connector for the step's application.
	Client func(ctx context.Context, s provision.Step) (*Client, error)
}

var _ provision.Runner = Runner{}

// Ops are the operations Run accepts.
var Ops = []string{"create_user", "disable_user", "delete_user", "create_group", "delete_group",
	"add_user_to_group", "remove_user_from_group", "add_user_to_role", "remove_user_from_role"}

func (r Runner) Run(ctx context.Context, s provision.Step) (provision.Result, error) {
	return apiconn.Run(ctx, s, Provider, r.Client, run)
}

func param(s provision.Step, name, def string) string {
	if v := strings.TrimSpace(s.Params[name]); v != "" {
		return v
	}
	return def
}

func run(ctx context.Context, c *Client, s provision.Step) (provision.Result, error) {
	user := param(s, "user", s.Fields.Target.Email)
	needUser := func() error {
		if user == "" {
			return fmt.Errorf("azuread: %s: no user: set the user param or a target with an email", s.Op)
		}
		return nil
	}
	switch s.Op {
	case "create_user":
		upn := param(s, "user_principal_name", s.Fields.Target.Email)
		pw := param(s, "password", "")
		if pw == "" {
			pw = randomPassword()
		}
		id, err := c.CreateUser(ctx, NewUser{UserPrincipalName: upn, DisplayName: param(s, "display_name", s.Fields.Target.Name),
			Password: pw, AccountEnabled: param(s, "enabled", "true") != "false"})
		if err != nil {
			return provision.Result{}, err
		}
		return provision.Result{Outputs: map[string]string{"azuread_user_id": id}, Note: "Entra ID user " + upn + " created"}, nil
	case "disable_user":
		if err := needUser(); err != nil {
			return provision.Result{}, err
		}
		return provision.Result{Note: "Entra ID user " + user + " disabled"}, c.DisableUser(ctx, user)
	case "delete_user":
		if err := needUser(); err != nil {
			return provision.Result{}, err
		}
		return provision.Result{Note: "Entra ID user " + user + " deleted"}, c.DeleteUser(ctx, user)
	case "create_group":
		name := param(s, "name", s.Fields.Connection.Name)
		id, err := c.CreateGroup(ctx, NewGroup{DisplayName: name, Description: param(s, "description", "")})
		if err != nil {
			return provision.Result{}, err
		}
		return provision.Result{Outputs: map[string]string{"azuread_group_id": id}, Note: "Entra ID group " + name + " created"}, nil
	case "delete_group":
		id, err := c.ContainerID(ctx, Groups, param(s, "group", s.Fields.Connection.Name))
		if IsNotFound(err) {
			return provision.Result{Note: "Entra ID group already gone"}, nil
		}
		if err != nil {
			return provision.Result{}, err
		}
		return provision.Result{Note: "Entra ID group deleted"}, c.deleteGroup(ctx, id, param(s, "group", s.Fields.Connection.Name))
	case "add_user_to_group", "remove_user_from_group", "add_user_to_role", "remove_user_from_role":
		if err := needUser(); err != nil {
			return provision.Result{}, err
		}
		k, name := Groups, param(s, "group", s.Fields.Connection.Name)
		if strings.HasSuffix(s.Op, "_role") {
			k, name = DirectoryRoles, param(s, "role", s.Fields.Connection.Name)
		}
		id, err := c.ContainerID(ctx, k, name)
		if err != nil {
			return provision.Result{}, err
		}
		if strings.HasPrefix(s.Op, "add_") {
			return provision.Result{Note: fmt.Sprintf("%s added to Entra ID %s %s", user, k.noun(), name)}, c.addMember(ctx, k, id, name, user)
		}
		return provision.Result{Note: fmt.Sprintf("%s removed from Entra ID %s %s", user, k.noun(), name)}, c.removeMember(ctx, k, id, name, user)
	}
	return provision.Result{}, fmt.Errorf("azuread: operation %q: %w (this connector does %s)", s.Op, provision.ErrUnknownScript, strings.Join(Ops, ", "))
}

// ContainerID resolves a group or activated directory role from its object
// id or its display name (which must match exactly one).
func (c *Client) ContainerID(ctx context.Context, k Container, nameOrID string) (string, error) {
	op := fmt.Sprintf("find %s %s", k.noun(), nameOrID)
	if nameOrID == "" {
		return "", &Error{Op: op, Status: http.StatusBadRequest, Message: "no " + k.noun() + " named: set the param or the connection's name"}
	}
	if guidRE.MatchString(nameOrID) {
		return nameOrID, nil
	}
	filter := "displayName eq '" + strings.ReplaceAll(nameOrID, "'", "''") + "'"
	var p page[struct {
		ID string `json:"id"`
	}]
	if err := c.call(ctx, op, http.MethodGet, "/"+string(k)+"?$select=id&$filter="+url.QueryEscape(filter), nil, &p); err != nil {
		return "", err
	}
	switch len(p.Value) {
	case 0:
		return "", &Error{Op: op, Status: http.StatusNotFound, Message: "no " + k.noun() + " has this display name" + activated(k)}
	case 1:
		return p.Value[0].ID, nil
	}
	return "", &Error{Op: op, Status: http.StatusConflict, Message: fmt.Sprintf("%d %ss have this display name: use the object id", len(p.Value), k.noun())}
}

func activated(k Container) string {
	if k == DirectoryRoles {
		return " (only activated roles are listed)"
	}
	return ""
}

// randomPassword meets Entra ID's default complexity; the user changes it
// at first sign-in (an admin hands out a temporary access pass).
func randomPassword() string {
	const set = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = set[int(b[i])%len(set)]
	}
	return "Ab1!" + string(b)
}
