package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/handlers/views"
)

// cardStore is what turning a request into a views.RequestCard reads.
type cardStore interface {
	GetUser(ctx context.Context, tenantID, id string) (*accessbot.User, error)
	GetApplication(ctx context.Context, tenantID, id string) (*accessbot.Application, error)
	GetConnection(ctx context.Context, tenantID, id string) (*accessbot.Connection, error)
	ListDecisions(ctx context.Context, tenantID, requestID string) ([]accessbot.Decision, error)
}

// cardLoader resolves the names a request card shows.
type cardLoader struct {
	st cardStore
	// playbooks, when set, offers the request playbooks on the cards of
	// standing messages (those built with their decisions).
	playbooks *PlaybookMenus
}

// memo is l reading each user, application and connection at most once:
// for one list of cards (the App Home, /access mine), where the same
// requester, approver and application recur. Not for longer: it never
// sees later changes.
func (l cardLoader) memo() cardLoader {
	return cardLoader{playbooks: l.playbooks, st: &memoCardStore{cardStore: l.st, users: map[string]memoRead[accessbot.User]{},
		apps: map[string]memoRead[accessbot.Application]{}, conns: map[string]memoRead[accessbot.Connection]{}}}
}

type memoRead[T any] struct {
	v   *T
	err error
}

type memoCardStore struct {
	cardStore
	users map[string]memoRead[accessbot.User]
	apps  map[string]memoRead[accessbot.Application]
	conns map[string]memoRead[accessbot.Connection]
}

// once reads key through read unless m has it; errors other than not
// found are not kept.
func once[T any](m map[string]memoRead[T], key string, read func() (*T, error)) (*T, error) {
	if r, ok := m[key]; ok {
		return r.v, r.err
	}
	v, err := read()
	if err == nil || errors.Is(err, accessbot.ErrNotFound) {
		m[key] = memoRead[T]{v, err}
	}
	return v, err
}

func (m *memoCardStore) GetUser(ctx context.Context, tenantID, id string) (*accessbot.User, error) {
	return once(m.users, tenantID+"/"+id, func() (*accessbot.User, error) { return m.cardStore.GetUser(ctx, tenantID, id) })
}

func (m *memoCardStore) GetApplication(ctx context.Context, tenantID, id string) (*accessbot.Application, error) {
	return once(m.apps, tenantID+"/"+id, func() (*accessbot.Application, error) { return m.cardStore.GetApplication(ctx, tenantID, id) })
}

func (m *memoCardStore) GetConnection(ctx context.Context, tenantID, id string) (*accessbot.Connection, error) {
	return once(m.conns, tenantID+"/"+id, func() (*accessbot.Connection, error) { return m.cardStore.GetConnection(ctx, tenantID, id) })
}

// name is a user's display name; a vanished user is named by id.
func (l cardLoader) name(ctx context.Context, tenantID, userID string) string {
	if userID == requests.SystemActor {
		return "accessbot"
	}
	u, err := l.st.GetUser(ctx, tenantID, userID)
	if err != nil {
		return "user " + userID
	}
	return userName(u)
}

func userName(u *accessbot.User) string {
	if u.Name != "" {
		return u.Name
	}
	return u.Email
}

// card builds the card of req; decisions adds its decision history.
func (l cardLoader) card(ctx context.Context, req *accessbot.AccessRequest, decisions bool) (views.RequestCard, error) {
	c := views.RequestCard{
		ID: req.ID, Kind: req.Kind, Status: req.Status, Duration: req.Duration, Justification: req.Justification,
		Level: req.Level, Levels: len(req.Levels), Escalated: req.EscalatedAt != nil, CreatedAt: req.CreatedAt,
		Requester: l.name(ctx, req.TenantID, req.RequesterID),
	}
	if req.EscalatedAt != nil {
		c.EscalatedAt = req.EscalatedAt.UTC()
	}
	if p, ok := requests.ExtensionOf(req); ok {
		from := p.From.UTC()
		c.ExtendsFrom = &from
	}
	if req.TargetUserID != "" {
		c.Target = l.name(ctx, req.TenantID, req.TargetUserID)
	}
	app, err := l.st.GetApplication(ctx, req.TenantID, req.AppID)
	if pp, ok := requests.PurposeOf(req); ok {
		app, err = &accessbot.Application{Name: pp.Purpose}, nil // a purpose has no application
		if pp.Extends() && pp.From != nil {
			from := pp.From.UTC()
			c.ExtendsFrom = &from
		}
	}
	switch {
	case err == nil:
		c.App = app.Name
	case errors.Is(err, accessbot.ErrNotFound):
		c.App = "(deleted application)"
	default:
		return c, fmt.Errorf("card of request %s: load application: %w", req.ID, err)
	}
	if req.ConnectionID != "" {
		conn, err := l.st.GetConnection(ctx, req.TenantID, req.ConnectionID)
		switch {
		case err == nil:
			c.Connection, c.ConnectionType = conn.Name, conn.Type
		case errors.Is(err, accessbot.ErrNotFound):
			c.Connection = "(deleted connection)"
		default:
			return c, fmt.Errorf("card of request %s: load connection: %w", req.ID, err)
		}
	}
	switch req.Kind {
	case accessbot.RequestConnectionCreate:
		var p requests.ConnectionCreatePayload
		if err := json.Unmarshal(req.Payload, &p); err != nil {
			return c, fmt.Errorf("card of request %s: decode payload: %w", req.ID, err)
		}
		nc := &views.NewConnection{Name: p.Name, Type: p.Type, Description: p.Description}
		labels := map[string]string{}
		if app != nil {
			for _, f := range app.ConnectionSchema {
				labels[f.Name] = f.Label
			}
		}
		keys := make([]string, 0, len(p.Fields))
		for k := range p.Fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			label := labels[k]
			if label == "" {
				label = k
			}
			nc.Fields = append(nc.Fields, views.Field{Label: label, Value: p.Fields[k]})
		}
		c.New = nc
	case accessbot.RequestConnectionAssign:
		p, err := requests.DecodeAssignment(req)
		if err != nil {
			return c, fmt.Errorf("card of request %s: %w", req.ID, err)
		}
		c.Grants, c.Revokes = grantWords(p.Grants), grantWords(p.Revokes)
	case accessbot.RequestConnectionDelete:
		var p requests.ConnectionDeletePayload
		if json.Unmarshal(req.Payload, &p) == nil && p.Name != "" {
			// The connection may be gone once deleted: the payload still names it.
			c.Connection, c.ConnectionType = p.Name, p.Type
		}
	}
	if decisions && req.ID != "" {
		// Standing cards offer "Why these approvers?"; the click checks who asks.
		c.Why = requests.Explainable(req.Kind)
		c.Playbooks = l.playbooks.choices(ctx, req.TenantID, accessbot.PlaybookRequest, req.AppID)
		ds, err := l.st.ListDecisions(ctx, req.TenantID, req.ID)
		if err != nil {
			return c, fmt.Errorf("card of request %s: list decisions: %w", req.ID, err)
		}
		for _, d := range ds {
			c.Decisions = append(c.Decisions, views.DecisionLine{Level: d.Level, By: l.name(ctx, req.TenantID, d.ApproverID),
				Decision: d.Decision, Reason: d.Reason, At: d.DecidedAt})
		}
	}
	return c, nil
}

func grantWords(gs []requests.Grant) []string {
	out := make([]string, len(gs))
	for i, g := range gs {
		out[i] = g.SourceName + " (" + g.Type + ")"
	}
	return out
}

// chain names each level's approvers: "Bob, Carol (all must approve)".
func (l cardLoader) chain(ctx context.Context, req *accessbot.AccessRequest) []string {
	out := make([]string, len(req.Levels))
	for i, lvl := range req.Levels {
		var names []string
		for _, id := range requests.LevelApprovers(req, i) {
			names = append(names, l.name(ctx, req.TenantID, id))
		}
		s := strings.Join(names, ", ")
		switch {
		case lvl.Rule == accessbot.RuleAll && len(names) > 1:
			s += " (all must approve)"
		case lvl.Rule == accessbot.RuleQuorum && len(names) > 1:
			s += fmt.Sprintf(" (%d of %d must approve)", lvl.Needed(), len(names))
		case len(names) > 1:
			s += " (any one)"
		}
		out[i] = s
	}
	return out
}
