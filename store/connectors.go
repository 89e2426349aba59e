package store

import (
	"context"
	"time"
)

// Connector is one named connector instance of a tenant (the tenant file's
// connectors: section): its type and plain settings. Its secrets are in the
// secrets table, sealed, named by ConnectorSecretName; never here.
type Connector struct {
	TenantID  string
	Name      string
	Type      string            // webhook, email, gitlab, slack
	Settings  map[string]string // plain settings, and the names of the environment variables secrets were read from
	UpdatedAt time.Time
}

// ConnectorSecretName names a connector secret in the secrets table.
func ConnectorSecretName(connector, field string) string {
	return "connector/" + connector + "/" + field
}

// Connectors persists connector instances and the tenant's outbound allow-list.
type Connectors interface {
	// PutConnector creates or replaces the connector with the same name.
	PutConnector(ctx context.Context, c *Connector) error
	// GetConnector returns ErrNotFound when the tenant has no such connector.
	GetConnector(ctx context.Context, tenantID, name string) (*Connector, error)
	ListConnectors(ctx context.Context, tenantID string) ([]Connector, error)
	DeleteConnector(ctx context.Context, tenantID, name string) error
	// PutOutboundAllow replaces the tenant's outbound allow-list (CIDRs,
	// addresses, host names); an empty list removes it.
	PutOutboundAllow(ctx context.Context, tenantID string, entries []string) error
	// GetOutboundAllow returns the list, empty when the tenant has none.
	GetOutboundAllow(ctx context.Context, tenantID string) ([]string, error)
}
