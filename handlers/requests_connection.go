package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot"
	"github.com/accessbot/accessbot/bot/slackapi"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/handlers/views"
)

// connFormMeta is the connection form's private_metadata: what the form
// currently shows, so each update keeps the kind and application.
type connFormMeta struct {
	Kind string `json:"k,omitempty"`
	App  string `json:"a,omitempty"`
}

// connDraft is the connection preview's private_metadata: ids and values
// only, validated again on creation.
type connDraft struct {
	Kind          string            `json:"k"`
	App           string            `json:"a"`
	Connection    string            `json:"c,omitempty"`
	Name          string            `json:"n,omitempty"`
	Type          string            `json:"t,omitempty"`
	Description   string            `json:"d,omitempty"`
	Fields        map[string]string `json:"f,omitempty"`
	Grants        []requests.Grant  `json:"g,omitempty"`
	Revokes       []requests.Grant  `json:"r,omitempty"`
	Justification string            `json:"j,omitempty"`
}

func (d connDraft) input(actor *bot.Actor) (requests.Input, bool) {
	t, u := actor.Tenant.ID, actor.User.ID
	switch d.Kind {
	case views.ConnKindCreate:
		return requests.ConnectionCreate{TenantID: t, RequesterID: u, AppID: d.App, Name: d.Name, Type: d.Type,
			Description: d.Description, Fields: d.Fields, Justification: d.Justification}, true
	case views.ConnKindAssign:
		return requests.ConnectionAssign{TenantID: t, RequesterID: u, AppID: d.App, ConnectionID: d.Connection,
			Grants: d.Grants, Revokes: d.Revokes, Justification: d.Justification}, true
	case views.ConnKindDelete:
		return requests.ConnectionDelete{TenantID: t, RequesterID: u, AppID: d.App, ConnectionID: d.Connection,
			Justification: d.Justification}, true
	}
	return nil, false
}

func validConnKind(k string) bool {
	return k == views.ConnKindCreate || k == views.ConnKindAssign || k == views.ConnKindDelete
}

// connectionModal builds the form for kind and app, remembering both.
func (h *Requests) connectionModal(ctx context.Context, actor *bot.Actor, kind string, app *accessbot.Application) (views.ConnectionForm, string, error) {
	f := views.ConnectionForm{Kind: kind}
	meta := connFormMeta{Kind: kind}
	if app != nil && kind != "" {
		f.App = &views.Option{Value: app.ID, Text: app.Name}
		meta.App = app.ID
		switch kind {
		case views.ConnKindCreate:
			f.Types = requests.ConnectionTypes()
			for _, s := range app.ConnectionSchema {
				f.Schema = append(f.Schema, views.SchemaInput{Name: s.Name, Label: s.Label, Type: s.Type, Required: s.Required, Options: s.Options})
			}
		default:
			conns, err := h.st.ListConnections(ctx, actor.Tenant.ID, app.ID)
			if err != nil {
				return f, "", fmt.Errorf("list connections of %s: %w", app.ID, err)
			}
			for _, c := range conns {
				o := views.Option{Value: c.ID, Text: c.Name + " (" + c.Type + ")"}
				f.Connections = append(f.Connections, o)
				f.Assignable = append(f.Assignable, views.Option{Value: "c:" + c.ID, Text: o.Text})
			}
			if kind == views.ConnKindAssign {
				res, err := h.st.ListResources(ctx, actor.Tenant.ID, app.ID)
				if err != nil {
					return f, "", fmt.Errorf("list resources of %s: %w", app.ID, err)
				}
				for _, r := range res {
					f.Assignable = append(f.Assignable, views.Option{Value: "r:" + r.ID, Text: r.Name + " (" + r.Type + ")"})
				}
			}
		}
	}
	b, err := json.Marshal(meta)
	if err != nil {
		return f, "", fmt.Errorf("encode form state: %w", err)
	}
	return f, string(b), nil
}

// openConnectionForm answers "/access connection".
func (h *Requests) openConnectionForm(ctx context.Context, req *bot.Request) error {
	f, meta, err := h.connectionModal(ctx, req.Actor, "", nil)
	if err != nil {
		return err
	}
	v := views.ConnectionModal(f)
	v.PrivateMetadata = meta
	return openModal(ctx, req, v)
}

// connectionFormChanged follows the kind radio and the application select.
func (h *Requests) connectionFormChanged(ctx context.Context, req *bot.Request) error {
	var meta connFormMeta
	_ = json.Unmarshal([]byte(req.Interaction.View.PrivateMetadata), &meta) // an empty or odd one starts afresh
	switch req.Action.ActionID {
	case views.ActionConnKind:
		meta.Kind = req.Action.SelectedOption.Value
	case views.ActionConnApp:
		meta.App = req.Action.SelectedOption.Value
	}
	if !validConnKind(meta.Kind) {
		meta.Kind = ""
	}
	app, err := h.loadApp(ctx, req.Actor.Tenant.ID, meta.App)
	if err != nil {
		return err
	}
	f, m, err := h.connectionModal(ctx, req.Actor, meta.Kind, app)
	if err != nil {
		return err
	}
	v := views.ConnectionModal(f)
	v.PrivateMetadata = m
	return quietHashConflict(req, updateOpenView(ctx, req, v))
}

func connBlockFor(field string) string {
	switch field {
	case requests.FieldApp:
		return views.BlockConnApp
	case requests.FieldConnection:
		return views.BlockConnConnection
	case requests.FieldName:
		return views.BlockConnName
	case requests.FieldType:
		return views.BlockConnType
	case requests.FieldDescription:
		return views.BlockConnDescription
	case requests.FieldGrants:
		return views.BlockConnGrants
	case requests.FieldRevokes:
		return views.BlockConnRevokes
	case requests.FieldJustification:
		return views.BlockConnJustification
	}
	if name, ok := strings.CutPrefix(field, requests.FieldPayloadPrefix); ok {
		return views.BlockConnFieldPrefix + name
	}
	return ""
}

// grantsFrom resolves chosen option values ("c:<id>", "r:<id>") to grants of
// app, re-read from the store.
func (h *Requests) grantsFrom(ctx context.Context, tenantID, appID string, values []string) ([]requests.Grant, error) {
	if len(values) == 0 {
		return nil, nil
	}
	res, err := h.st.ListResources(ctx, tenantID, appID)
	if err != nil {
		return nil, fmt.Errorf("list resources of %s: %w", appID, err)
	}
	var out []requests.Grant
	for _, v := range values {
		kind, id, _ := strings.Cut(v, ":")
		switch kind {
		case "c":
			c, err := h.st.GetConnection(ctx, tenantID, id)
			if errors.Is(err, accessbot.ErrNotFound) || (err == nil && c.AppID != appID) {
				return nil, errChoiceGone
			}
			if err != nil {
				return nil, fmt.Errorf("load connection %s: %w", id, err)
			}
			out = append(out, requests.Grant{Type: c.Type, SourceName: c.Name})
		case "r":
			found := false
			for _, r := range res {
				if r.ID == id {
					out = append(out, requests.Grant{Type: r.Type, SourceName: r.Name})
					found = true
				}
			}
			if !found {
				return nil, errChoiceGone
			}
		default:
			return nil, errChoiceGone
		}
	}
	return out, nil
}

var errChoiceGone = errors.New("a chosen connection or resource no longer exists")

func selectedValues(req *bot.Request, block, action string) []string {
	var out []string
	for _, o := range stateValue(req, block, action).SelectedOptions {
		out = append(out, o.Value)
	}
	return out
}

// submitConnectionForm checks the form and shows the preview, or errors inline.
func (h *Requests) submitConnectionForm(ctx context.Context, req *bot.Request) error {
	var meta connFormMeta
	_ = json.Unmarshal([]byte(req.Interaction.View.PrivateMetadata), &meta)
	d := connDraft{Kind: meta.Kind, App: meta.App}
	if k := selectedValue(req, views.BlockConnKind, views.ActionConnKind); k != "" {
		d.Kind = k
	}
	if a := selectedValue(req, views.BlockConnApp, views.ActionConnApp); a != "" {
		d.App = a
	}
	if !validConnKind(d.Kind) {
		return viewErrors(req, map[string]string{views.BlockConnKind: "Choose creation, assignment or deletion."})
	}
	tenant := req.Actor.Tenant.ID
	d.Justification = textValue(req, views.BlockConnJustification, views.ActionConnJustification)
	d.Connection = selectedValue(req, views.BlockConnConnection, views.ActionConnConnection)
	switch d.Kind {
	case views.ConnKindCreate:
		d.Name = textValue(req, views.BlockConnName, views.ActionConnName)
		d.Type = selectedValue(req, views.BlockConnType, views.ActionConnType)
		d.Description = textValue(req, views.BlockConnDescription, views.ActionConnDescription)
		app, err := h.loadApp(ctx, tenant, d.App)
		if err != nil {
			return err
		}
		if app != nil {
			for _, s := range app.ConnectionSchema {
				st := stateValue(req, views.BlockConnFieldPrefix+s.Name, views.ActionConnField)
				v := strings.TrimSpace(st.Value)
				if v == "" {
					v = st.SelectedOption.Value
				}
				if v != "" {
					if d.Fields == nil {
						d.Fields = map[string]string{}
					}
					d.Fields[s.Name] = v
				}
			}
		}
	case views.ConnKindAssign:
		for _, side := range []struct {
			block, action string
			dst           *[]requests.Grant
		}{{views.BlockConnGrants, views.ActionConnGrants, &d.Grants}, {views.BlockConnRevokes, views.ActionConnRevokes, &d.Revokes}} {
			gs, err := h.grantsFrom(ctx, tenant, d.App, selectedValues(req, side.block, side.action))
			if errors.Is(err, errChoiceGone) {
				return viewErrors(req, map[string]string{side.block: "One of your choices no longer exists. Pick again."})
			}
			if err != nil {
				return err
			}
			*side.dst = gs
		}
	}
	in, _ := d.input(req.Actor)
	draft, err := h.flows.Prepare(ctx, in)
	if err != nil {
		dupBlock := views.BlockConnConnection
		if d.Kind == views.ConnKindCreate {
			dupBlock = views.BlockConnName
		}
		errs, ok := prepareErrors(err, connBlockFor, views.BlockConnApp, dupBlock)
		if !ok {
			return fmt.Errorf("prepare connection request: %w", err)
		}
		// Errors must name blocks the view has; the rest go on the application.
		for b, msg := range errs {
			if !viewHasBlock(req, b) && b != views.BlockConnApp {
				delete(errs, b)
				errs[views.BlockConnApp] = strings.TrimSpace(errs[views.BlockConnApp] + " " + msg)
			}
		}
		return viewErrors(req, errs)
	}
	return h.showPreview(ctx, req, views.CallbackConnectionPreview, draft, d,
		views.BlockConnJustification, "Your answers are too long for one request: shorten the description, fields or justification.")
}

// submitConnectionPreview creates the previewed connection request.
func (h *Requests) submitConnectionPreview(ctx context.Context, req *bot.Request) error {
	var d connDraft
	if err := json.Unmarshal([]byte(req.Interaction.View.PrivateMetadata), &d); err != nil {
		return badDraft(req, views.CallbackConnectionPreview, accessbot.RequestConnectionAssign, err)
	}
	in, ok := d.input(req.Actor)
	if !ok {
		return badDraft(req, views.CallbackConnectionPreview, accessbot.RequestConnectionAssign, fmt.Errorf("connection draft has kind %q", d.Kind))
	}
	return h.create(ctx, req, in, views.CallbackConnectionPreview, req.Interaction.View.PrivateMetadata)
}

// quietHashConflict drops a views.update lost to a newer update of the same
// view (the user changed the form twice quickly): the newer one stands.
func quietHashConflict(req *bot.Request, err error) error {
	if err != nil && slackapi.SlackErrorCode(err) == "hash_conflict" {
		req.Log.Debug().Err(err).Msg("form update superseded")
		return nil
	}
	return err
}
