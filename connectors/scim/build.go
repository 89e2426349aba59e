package scim

import (
	"context"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot/connectors/apiconn"
	"github.com/accessbot/accessbot/connectors/outbound"
	"github.com/accessbot/accessbot/internal/secrets"
	"github.com/accessbot/accessbot/store"
)

// Type is the connector type in the tenant file's connectors: section.
const Type = "scim"

// FromConnector builds the client of a stored connector, opening its
// sealed token and reaching the server through the outbound client under
// the tenant's allow-list.
func FromConnector(ctx context.Context, q apiconn.Store, keys *secrets.Keyring, c *store.Connector, log zerolog.Logger) (*Client, error) {
	// A page of 100 groups with their members can be large.
	secret, hc, err := apiconn.Open(ctx, q, keys, c, "token", outbound.Options{Timeout: 2 * time.Minute, MaxResponseBytes: 32 << 20})
	if err != nil {
		return nil, err
	}
	cl, err := New(Config{BaseURL: c.Settings["base_url"], Token: secret}, hc, log.With().Str("connector", c.Name).Logger())
	if err != nil {
		return nil, fmt.Errorf("connector %s: %w", c.Name, err)
	}
	return cl, nil
}

// NewRunner is the scim_api_* Runner of a running accessbot: each step's
// client is built from the tenant's connector that its application's
// connector: label names, and kept while the connector is unchanged.
func NewRunner(q apiconn.Store, keys *secrets.Keyring, log zerolog.Logger) Runner {
	clients := apiconn.NewClients(q, Type, func(ctx context.Context, c *store.Connector) (*Client, error) {
		return FromConnector(ctx, q, keys, c, log)
	})
	return Runner{Client: clients.For}
}
