package handlers

import (
	"context"
	"fmt"

	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot"
	"github.com/accessbot/accessbot/flows/dirsync"
	"github.com/accessbot/accessbot/handlers/views"
	"github.com/accessbot/accessbot/store"
)

// Connectors shows admins the directory connectors' status on the Home
// tab, as `accessbot connectors status` does.
type Connectors struct{ st store.Queries }

// NewConnectors builds the Home tab's connector status.
func NewConnectors(st store.Queries) *Connectors { return &Connectors{st: st} }

// HomeBlocks is the status for an active admin; nothing for anyone else.
func (h *Connectors) HomeBlocks(ctx context.Context, actor *bot.Actor) ([]slack.Block, error) {
	if actor == nil || !actor.IsAdmin() || actor.User.Status != accessbot.UserActive {
		return nil, nil
	}
	rows, err := dirsync.StatusRows(ctx, h.st, actor.Tenant.ID)
	if err != nil {
		return nil, fmt.Errorf("connector status: %w", err)
	}
	out := make([]views.ConnectorStatus, len(rows))
	for i, r := range rows {
		out[i] = views.ConnectorStatus{App: r.App, Connector: r.Connector, Status: r.Status, Message: r.Message, LastSync: r.LastSync,
			Counts: r.Counts, LastError: r.LastError, Schedule: r.Schedule}
	}
	return views.HomeConnectors(out), nil
}
