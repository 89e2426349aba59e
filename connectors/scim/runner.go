package scim

import (
	"context"
	"fmt"
	"strings"

	"github.com/accessbot/accessbot/connectors/apiconn"
	"github.com/accessbot/accessbot/flows/provision"
)

// Provider is the script prefix this connector serves: scim_api_*.
const Provider = "scim"

// Ops are the operations Run accepts.
var Ops = []string{"create_user", "disable_user", "delete_user", "create_group", "delete_group", "add_user_to_group", "remove_user_from_group"}

// Runner carries out the scim_api_* steps. Params (rendered templates):
//
//	create_user:  [user_name] (default the target's email), [display_name], [email], [external_id], [active=false]
//	disable_user: [user] (userName or id; default the target's email): PATCH active=false
//	delete_user:  [user]
//	create_group: [name] (default the connection's name)
//	delete_group: [group] (displayName or id; default the connection's name)
//	add_user_to_group, remove_user_from_group: [user], [group] (displayName or id; default the connection's name)
//
// Outputs: scim_user_id, scim_group_id. Errors a retry cannot fix (4xx
// other than 408/429) are provision.Permanent.
type Runner struct {
	// Client returns the connector for the step's application.
	Client func(ctx context.Context, s provision.Step) (*Client, error)
}

var _ provision.Runner = Runner{}

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
	switch s.Op {
	case "create_user":
		name := param(s, "user_name", s.Fields.Target.Email)
		id, err := c.CreateUser(ctx, NewUser{UserName: name, DisplayName: param(s, "display_name", s.Fields.Target.Name),
			Email: param(s, "email", s.Fields.Target.Email), ExternalID: param(s, "external_id", ""), Active: param(s, "active", "true") != "false"})
		if err != nil {
			return provision.Result{}, err
		}
		return provision.Result{Outputs: map[string]string{"scim_user_id": id}, Note: "SCIM user " + name + " created"}, nil
	case "disable_user", "delete_user":
		id, err := c.UserID(ctx, user)
		if IsNotFound(err) {
			return provision.Result{Note: "SCIM user " + user + " is gone already"}, nil
		}
		if err != nil {
			return provision.Result{}, err
		}
		if s.Op == "delete_user" {
			return provision.Result{Note: "SCIM user " + user + " deleted"}, c.DeleteUser(ctx, id)
		}
		return provision.Result{Outputs: map[string]string{"scim_user_id": id}, Note: "SCIM user " + user + " deactivated"}, c.SetActive(ctx, id, false)
	case "create_group":
		name := param(s, "name", s.Fields.Connection.Name)
		id, err := c.CreateGroup(ctx, name)
		if err != nil {
			return provision.Result{}, err
		}
		return provision.Result{Outputs: map[string]string{"scim_group_id": id}, Note: "SCIM group " + name + " created"}, nil
	case "delete_group":
		group := param(s, "group", s.Fields.Connection.Name)
		id, err := c.GroupID(ctx, group)
		if IsNotFound(err) {
			return provision.Result{Note: "SCIM group " + group + " is gone already"}, nil
		}
		if err != nil {
			return provision.Result{}, err
		}
		return provision.Result{Outputs: map[string]string{"scim_group_id": id}, Note: "SCIM group " + group + " deleted"}, c.DeleteGroup(ctx, id)
	case "add_user_to_group", "remove_user_from_group":
		group := param(s, "group", s.Fields.Connection.Name)
		gid, err := c.GroupID(ctx, group)
		if err != nil {
			return provision.Result{}, err
		}
		uid, err := c.UserID(ctx, user)
		if s.Op == "remove_user_from_group" && IsNotFound(err) {
			return provision.Result{Note: user + " has no SCIM account: nothing to remove"}, nil
		}
		if err != nil {
			return provision.Result{}, err
		}
		out := map[string]string{"scim_user_id": uid, "scim_group_id": gid}
		if s.Op == "add_user_to_group" {
			return provision.Result{Outputs: out, Note: fmt.Sprintf("%s added to SCIM group %s", user, group)}, c.AddMember(ctx, gid, uid)
		}
		return provision.Result{Outputs: out, Note: fmt.Sprintf("%s removed from SCIM group %s", user, group)}, c.RemoveMember(ctx, gid, uid)
	}
	return provision.Result{}, fmt.Errorf("scim: operation %q: %w (this connector does %s)", s.Op, provision.ErrUnknownScript, strings.Join(Ops, ", "))
}
