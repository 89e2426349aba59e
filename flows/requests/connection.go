package requests

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

// ConnectionTypes are the kinds of connection a creation request may ask for.
var connectionTypes = []string{"group", "role", "policy", "account"}

// ConnectionTypes returns the connection types a creation request may use.
func ConnectionTypes() []string { return slices.Clone(connectionTypes) }

// ConnectionCreate asks for a new connection in an application. Fields are
// the application's ConnectionSchema fields by name.
type ConnectionCreate struct {
	TenantID      string
	RequesterID   string
	AppID         string
	Name          string
	Type          string // one of ConnectionTypes()
	Description   string
	Fields        map[string]string
	Justification string // optional, at most MaxConnectionJustification characters
}

// ConnectionCreatePayload is the stored Payload of a connection_create request.
type ConnectionCreatePayload struct {
	Name        string            `json:"name"`
	Type        string            `json:"type"`
	Description string            `json:"description,omitempty"`
	Fields      map[string]string `json:"fields,omitempty"`
}

// Grant is one grant or revoke: a connection or resource of the same
// application, named by its type and name.
type Grant struct {
	Type       string `json:"type"`
	SourceName string `json:"source_name"`
}

// AssignmentPayload is the stored Payload of a connection_assign request:
// exactly {"grants":[{"type","source_name"}],"revokes":[...]}.
type AssignmentPayload struct {
	Grants  []Grant `json:"grants"`
	Revokes []Grant `json:"revokes"`
}

// ConnectionAssign grants resources and connections to, or revokes them from, an existing connection.
type ConnectionAssign struct {
	TenantID      string
	RequesterID   string
	AppID         string
	ConnectionID  string
	Grants        []Grant
	Revokes       []Grant
	Justification string // optional
}

// ConnectionDelete asks to delete an existing connection.
type ConnectionDelete struct {
	TenantID      string
	RequesterID   string
	AppID         string
	ConnectionID  string
	Justification string // optional
}

// ConnectionDeletePayload is the stored Payload of a connection_delete
// request: what was to be deleted, so messages can name it after it is gone.
type ConnectionDeletePayload struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

func (in ConnectionCreate) scope() (string, string) { return in.TenantID, in.RequesterID }
func (in ConnectionAssign) scope() (string, string) { return in.TenantID, in.RequesterID }
func (in ConnectionDelete) scope() (string, string) { return in.TenantID, in.RequesterID }

func optionalJustification(s string, d *Draft, fe *FieldErrors) {
	j, ok := checkText(s, 0, MaxConnectionJustification)
	if !ok {
		fe.add(FieldJustification, fmt.Sprintf("Keep the justification to %d characters at most.", MaxConnectionJustification))
	}
	d.Request.Justification = j
}

func (in ConnectionCreate) validate(ctx context.Context, q store.Queries, d *Draft, fe *FieldErrors) error {
	d.Request.Kind = accessbot.RequestConnectionCreate
	if err := loadApp(ctx, q, in.TenantID, in.AppID, d, fe); err != nil {
		return err
	}
	p := ConnectionCreatePayload{
		Name:        strings.TrimSpace(in.Name),
		Type:        strings.TrimSpace(in.Type),
		Description: strings.TrimSpace(in.Description),
	}
	switch {
	case p.Name == "":
		fe.add(FieldName, "Give the connection a name.")
	case len([]rune(p.Name)) > maxNameLen:
		fe.add(FieldName, fmt.Sprintf("Keep the name under %d characters.", maxNameLen))
	case d.App != nil:
		conns, err := q.ListConnections(ctx, in.TenantID, d.App.ID)
		if err != nil {
			return fmt.Errorf("list connections of %s: %w", d.App.ID, err)
		}
		for _, c := range conns {
			if strings.EqualFold(c.Name, p.Name) {
				fe.add(FieldName, fmt.Sprintf("%s already has a connection named %q.", d.App.Name, c.Name))
				break
			}
		}
	}
	if !slices.Contains(connectionTypes, p.Type) {
		fe.add(FieldType, "Choose a type: "+strings.Join(connectionTypes, ", ")+".")
	}
	if len([]rune(p.Description)) > maxFieldLen {
		fe.add(FieldDescription, fmt.Sprintf("Keep the description under %d characters.", maxFieldLen))
	}
	if d.App != nil {
		p.Fields = checkSchemaFields(d.App.ConnectionSchema, in.Fields, fe)
	}
	optionalJustification(in.Justification, d, fe)
	d.Request.Payload = mustJSON(p)
	d.Request.OpenKey = openKey(d.Request.Kind, "", d.Request.AppID, "", p.Name)
	return nil
}

// checkSchemaFields validates values against the application's form: required
// fields present, select values among the options, no unknown fields. It
// returns the trimmed, non-empty values.
func checkSchemaFields(schema []accessbot.SchemaField, values map[string]string, fe *FieldErrors) map[string]string {
	out := map[string]string{}
	known := map[string]bool{}
	for _, f := range schema {
		known[f.Name] = true
		label := f.Label
		if label == "" {
			label = f.Name
		}
		v := strings.TrimSpace(values[f.Name])
		key := FieldPayloadPrefix + f.Name
		switch {
		case v == "" && f.Required:
			fe.add(key, label+" is required.")
		case v == "":
		case f.Type == "select" && !slices.Contains(f.Options, v):
			fe.add(key, fmt.Sprintf("Choose one of: %s.", strings.Join(f.Options, ", ")))
		case len([]rune(v)) > maxFieldLen:
			fe.add(key, fmt.Sprintf("Keep %s under %d characters.", label, maxFieldLen))
		default:
			out[f.Name] = v
		}
	}
	for k, v := range values {
		if !known[k] && strings.TrimSpace(v) != "" {
			fe.add(FieldPayloadPrefix+k, "This application's form has no such field.")
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func (in ConnectionAssign) validate(ctx context.Context, q store.Queries, d *Draft, fe *FieldErrors) error {
	d.Request.Kind = accessbot.RequestConnectionAssign
	if err := loadApp(ctx, q, in.TenantID, in.AppID, d, fe); err != nil {
		return err
	}
	optionalJustification(in.Justification, d, fe)
	if d.App == nil {
		return nil
	}
	if in.ConnectionID == "" {
		fe.add(FieldConnection, "Choose a connection.")
	} else if err := loadConnection(ctx, q, in.TenantID, in.ConnectionID, d, fe); err != nil {
		return err
	}
	if d.Connection == nil {
		return nil
	}
	// Grants and revokes come from this application's connections and resources.
	choices := map[Grant]bool{}
	conns, err := q.ListConnections(ctx, in.TenantID, d.App.ID)
	if err != nil {
		return fmt.Errorf("list connections of %s: %w", d.App.ID, err)
	}
	for _, c := range conns {
		choices[Grant{Type: c.Type, SourceName: c.Name}] = true
	}
	res, err := q.ListResources(ctx, in.TenantID, d.App.ID)
	if err != nil {
		return fmt.Errorf("list resources of %s: %w", d.App.ID, err)
	}
	for _, r := range res {
		choices[Grant{Type: r.Type, SourceName: r.Name}] = true
	}
	self := Grant{Type: d.Connection.Type, SourceName: d.Connection.Name}
	check := func(field string, list []Grant) []Grant {
		out := make([]Grant, 0, len(list))
		seen := map[Grant]bool{}
		for _, g := range list {
			g = Grant{Type: strings.TrimSpace(g.Type), SourceName: strings.TrimSpace(g.SourceName)}
			switch {
			case g.Type == "" || g.SourceName == "":
				fe.add(field, "Each entry needs a type and a name.")
			case g == self:
				fe.add(field, fmt.Sprintf("%s cannot be assigned to itself.", g.SourceName))
			case !choices[g]:
				fe.add(field, fmt.Sprintf("%s (%s) is not a connection or resource of %s.", g.SourceName, g.Type, d.App.Name))
			case seen[g]:
				fe.add(field, fmt.Sprintf("%s (%s) is listed twice.", g.SourceName, g.Type))
			default:
				seen[g] = true
				out = append(out, g)
			}
		}
		return out
	}
	p := AssignmentPayload{Grants: check(FieldGrants, in.Grants), Revokes: check(FieldRevokes, in.Revokes)}
	for _, r := range p.Revokes {
		if slices.Contains(p.Grants, r) {
			fe.add(FieldRevokes, fmt.Sprintf("%s (%s) is both granted and revoked.", r.SourceName, r.Type))
		}
	}
	if len(in.Grants) == 0 && len(in.Revokes) == 0 {
		fe.add(FieldGrants, "Choose at least one grant or revoke.")
	}
	d.Request.Payload = mustJSON(p)
	d.Request.OpenKey = openKey(d.Request.Kind, "", d.Request.AppID, d.Request.ConnectionID, "")
	return nil
}

func (in ConnectionDelete) validate(ctx context.Context, q store.Queries, d *Draft, fe *FieldErrors) error {
	d.Request.Kind = accessbot.RequestConnectionDelete
	if err := loadApp(ctx, q, in.TenantID, in.AppID, d, fe); err != nil {
		return err
	}
	optionalJustification(in.Justification, d, fe)
	if d.App == nil {
		return nil
	}
	if in.ConnectionID == "" {
		fe.add(FieldConnection, "Choose a connection.")
		return nil
	}
	if err := loadConnection(ctx, q, in.TenantID, in.ConnectionID, d, fe); err != nil || d.Connection == nil {
		return err
	}
	d.Request.Payload = mustJSON(ConnectionDeletePayload{Name: d.Connection.Name, Type: d.Connection.Type})
	d.Request.OpenKey = openKey(d.Request.Kind, "", d.Request.AppID, d.Request.ConnectionID, "")
	return nil
}

// DecodeAssignment reads a connection_assign request's payload.
func DecodeAssignment(req *accessbot.AccessRequest) (AssignmentPayload, error) {
	var p AssignmentPayload
	if req.Kind != accessbot.RequestConnectionAssign {
		return p, fmt.Errorf("request %s is %s, not %s: %w", req.ID, req.Kind, accessbot.RequestConnectionAssign, accessbot.ErrInvalid)
	}
	if err := json.Unmarshal(req.Payload, &p); err != nil {
		return p, fmt.Errorf("decode assignment of request %s: %w", req.ID, err)
	}
	return p, nil
}
