package store

import (
	"context"

	"github.com/accessbot/accessbot"
)

// ConnectorSyncs keeps where each application's connector sync left off
// and how its last run went (accessbot connectors status, the Home tab).
type ConnectorSyncs interface {
	// PutConnectorSync creates or replaces the application's row.
	PutConnectorSync(ctx context.Context, s *accessbot.ConnectorSync) error
	// GetConnectorSync returns ErrNotFound when the application never synced.
	GetConnectorSync(ctx context.Context, tenantID, appID string) (*accessbot.ConnectorSync, error)
	// ListConnectorSyncs returns the tenant's rows.
	ListConnectorSyncs(ctx context.Context, tenantID string) ([]accessbot.ConnectorSync, error)
}
