package handlers

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/slackapi"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/handlers/views"
)

// Fulfilment is the default requests.Provisioner while accessbot has no
// provisioning engine: an approved request is handed to people. The
// application's owners (primary and secondary; the tenant admins when it
// has none left) get a DM asking them to grant it by hand, with who
// approved it and, for time-bound access, when it ends. It runs from the
// request's durable provision job, like an engine would, and each owner is
// asked once however often the job is retried.
type Fulfilment struct{ n *Notifier }

var _ requests.Provisioner = (*Fulfilment)(nil)

// Fulfilment returns the manual-fulfilment provisioner sending through n.
func (n *Notifier) Fulfilment() *Fulfilment { return &Fulfilment{n: n} }

// Provision asks the application's owners to carry out the approved req.
func (f *Fulfilment) Provision(ctx context.Context, req *accessbot.AccessRequest) error {
	n := f.n
	cl, team, card, err := n.clientAndCard(ctx, req)
	if err != nil {
		return err
	}
	owners, err := f.owners(ctx, req)
	if err != nil {
		return err
	}
	if len(owners) == 0 {
		return fmt.Errorf("fulfil request %s: the application has no active owner and the tenant no active admin: %w", req.ID, accessbot.ErrNotFound)
	}
	var ask views.Fulfilment
	for _, d := range card.Decisions {
		if d.Decision == accessbot.DecisionApprove && !slices.Contains(ask.ApprovedBy, d.By) {
			ask.ApprovedBy = append(ask.ApprovedBy, d.By)
		}
	}
	if req.Kind == accessbot.RequestUserAccess && req.Duration > 0 && req.DecidedAt != nil {
		ask.Until = req.DecidedAt.Add(req.Duration).UTC()
	}
	text, blocks := views.FulfilmentMessage(card, ask)
	var errs []error
	for _, id := range owners {
		_, _, err := n.dmOnce(ctx, cl, team, req.TenantID, deliveryKey(req.ID, "fulfilment", id), id, slackapi.Message{Text: text, Blocks: blocks})
		if err != nil {
			errs = append(errs, fmt.Errorf("ask owner %s to fulfil request %s: %w", id, req.ID, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	n.log.Info().Str("tenant", req.TenantID).Str("request", req.ID).Strs("asked", owners).Msg("owners asked to fulfil the request")
	return nil
}

// owners are the active owners of the request's application, else the
// tenant's active admins.
func (f *Fulfilment) owners(ctx context.Context, req *accessbot.AccessRequest) ([]string, error) {
	return ownersOf(ctx, f.n.st, req.TenantID, req.AppID)
}

// ownersStore is what ownersOf reads.
type ownersStore interface {
	GetApplication(ctx context.Context, tenantID, id string) (*accessbot.Application, error)
	GetUser(ctx context.Context, tenantID, id string) (*accessbot.User, error)
	ListUsers(ctx context.Context, tenantID string) ([]accessbot.User, error)
}

// ownersOf are the active owners of an application, else the tenant's
// active admins.
func ownersOf(ctx context.Context, st ownersStore, tenantID, appID string) ([]string, error) {
	var ids []string
	app, err := st.GetApplication(ctx, tenantID, appID)
	switch {
	case err == nil:
		for _, id := range []string{app.PrimaryOwnerID, app.SecondaryOwnerID} {
			if id == "" || slices.Contains(ids, id) {
				continue
			}
			u, err := st.GetUser(ctx, tenantID, id)
			if errors.Is(err, accessbot.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("load owner %s: %w", id, err)
			}
			if u.Status == accessbot.UserActive {
				ids = append(ids, id)
			}
		}
	case !errors.Is(err, accessbot.ErrNotFound):
		return nil, fmt.Errorf("load application %s: %w", appID, err)
	}
	if len(ids) > 0 {
		return ids, nil
	}
	users, err := st.ListUsers(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("list tenant admins: %w", err)
	}
	for _, u := range users {
		if u.Role == accessbot.RoleAdmin && u.Status == accessbot.UserActive {
			ids = append(ids, u.ID)
		}
	}
	return ids, nil
}
