// Package dirsource picks and builds the directory connector an
// application syncs from (Entra ID or SCIM), for `accessbot sync`, the
// scheduled syncs and `accessbot connectors test`.
package dirsource

import (
	"context"
	"errors"
	"fmt"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/connectors/apiconn"
	"github.com/accessbot/accessbot/connectors/azuread"
	"github.com/accessbot/accessbot/connectors/scim"
	"github.com/accessbot/accessbot/flows/dirsync"
	"github.com/accessbot/accessbot/internal/secrets"
	"github.com/accessbot/accessbot/store"
)

// Store is what building a source needs; store.Store is one.
type Store = apiconn.Store

// ErrNotSyncable: the application's connector is not a directory
// connector (its data comes from uploads).
var ErrNotSyncable = errors.New("not a directory connector")

// Find returns the connector an application's connector: label means:
// the tenant's connector of that name when it is of a syncing type, else
// (the label being a type name) the tenant's only connector of that type.
func Find(ctx context.Context, q Store, app *accessbot.Application) (*store.Connector, error) {
	label := app.Connector
	c, err := q.GetConnector(ctx, app.TenantID, label)
	switch {
	case err == nil && (c.Type == azuread.Type || c.Type == scim.Type):
		return c, nil
	case err == nil:
		return nil, fmt.Errorf("%s: its connector %s is of type %s: %w (only %s connectors sync; others take accessbot import or the upload API)", app.Name, label, c.Type, ErrNotSyncable, azuread.Type+" and "+scim.Type)
	case !errors.Is(err, accessbot.ErrNotFound):
		return nil, err
	}
	switch label {
	case azuread.Type, scim.Type:
		c, err = apiconn.Find(ctx, q, app.TenantID, label, label)
	default:
		return nil, fmt.Errorf("%s: its connector is %q: %w (only %s and %s connectors sync; others take accessbot import or the upload API)", app.Name, label, ErrNotSyncable, azuread.Type, scim.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", app.Name, err)
	}
	return c, nil
}

// Build returns the dirsync.Source of a stored connector.
func Build(ctx context.Context, q Store, keys *secrets.Keyring, c *store.Connector, log zerolog.Logger) (dirsync.Source, error) {
	switch c.Type {
	case azuread.Type:
		cl, err := azuread.FromConnector(ctx, q, keys, c, log)
		if err != nil {
			return nil, err
		}
		return azuread.Source{C: cl}, nil
	case scim.Type:
		cl, err := scim.FromConnector(ctx, q, keys, c, log)
		if err != nil {
			return nil, err
		}
		return scim.Source{C: cl}, nil
	}
	return nil, fmt.Errorf("connector %s of type %s: %w", c.Name, c.Type, ErrNotSyncable)
}

// For finds and builds app's source.
func For(ctx context.Context, q Store, keys *secrets.Keyring, app *accessbot.Application, log zerolog.Logger) (dirsync.Source, *store.Connector, error) {
	c, err := Find(ctx, q, app)
	if err != nil {
		return nil, nil, err
	}
	src, err := Build(ctx, q, keys, c, log)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", app.Name, err)
	}
	return src, c, nil
}
