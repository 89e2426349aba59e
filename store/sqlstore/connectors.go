package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

var connectorNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

const connectorCols = `tenant_id, name, type, settings, updated_at`

func scanConnector(r scanner) (store.Connector, error) {
	var c store.Connector
	var settings string
	var at dbTime
	if err := r.Scan(&c.TenantID, &c.Name, &c.Type, &settings, &at); err != nil {
		return c, err
	}
	c.UpdatedAt = at.T
	if err := json.Unmarshal([]byte(settings), &c.Settings); err != nil {
		return c, fmt.Errorf("connector %s: settings: %w", c.Name, err)
	}
	return c, nil
}

func (q *queries) PutConnector(ctx context.Context, c *store.Connector) error {
	if !connectorNameRE.MatchString(c.Name) || c.Type == "" {
		return fmt.Errorf("put connector %q: %w: a lower-case name and a type are required", c.Name, accessbot.ErrInvalid)
	}
	settings := c.Settings
	if settings == nil {
		settings = map[string]string{}
	}
	js, err := json.Marshal(settings)
	if err != nil {
		return fmt.Errorf("put connector %s: %w", c.Name, err)
	}
	c.UpdatedAt = Round(q.now())
	_, err = q.exec(ctx, `INSERT INTO connectors (`+connectorCols+`) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, name) DO UPDATE SET type = excluded.type, settings = excluded.settings, updated_at = excluded.updated_at`,
		c.TenantID, c.Name, c.Type, string(js), q.tm(c.UpdatedAt))
	if err != nil {
		return fmt.Errorf("put connector %s: %w", c.Name, q.writeErr(err))
	}
	return nil
}

func (q *queries) GetConnector(ctx context.Context, tenantID, name string) (*store.Connector, error) {
	c, err := scanConnector(q.queryRow(ctx, `SELECT `+connectorCols+` FROM connectors WHERE tenant_id = ? AND name = ?`, tenantID, name))
	if err != nil {
		return nil, fmt.Errorf("get connector %s: %w", name, notFound(err))
	}
	return &c, nil
}

func (q *queries) ListConnectors(ctx context.Context, tenantID string) ([]store.Connector, error) {
	rows, err := q.query(ctx, `SELECT `+connectorCols+` FROM connectors WHERE tenant_id = ? ORDER BY name`, tenantID)
	out, err := collect(rows, err, scanConnector)
	if err != nil {
		return nil, fmt.Errorf("list connectors: %w", err)
	}
	return out, nil
}

func (q *queries) DeleteConnector(ctx context.Context, tenantID, name string) error {
	if err := affected(q.exec(ctx, `DELETE FROM connectors WHERE tenant_id = ? AND name = ?`, tenantID, name)); err != nil {
		return fmt.Errorf("delete connector %s: %w", name, q.deleteErr(err))
	}
	return nil
}

func (q *queries) PutOutboundAllow(ctx context.Context, tenantID string, entries []string) error {
	if len(entries) == 0 {
		if _, err := q.exec(ctx, `DELETE FROM outbound_allow WHERE tenant_id = ?`, tenantID); err != nil {
			return fmt.Errorf("clear outbound allow-list: %w", q.writeErr(err))
		}
		return nil
	}
	js, err := json.Marshal(entries)
	if err != nil {
		return fmt.Errorf("put outbound allow-list: %w", err)
	}
	_, err = q.exec(ctx, `INSERT INTO outbound_allow (tenant_id, entries, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (tenant_id) DO UPDATE SET entries = excluded.entries, updated_at = excluded.updated_at`,
		tenantID, string(js), q.tm(Round(q.now())))
	if err != nil {
		return fmt.Errorf("put outbound allow-list: %w", q.writeErr(err))
	}
	return nil
}

func (q *queries) GetOutboundAllow(ctx context.Context, tenantID string) ([]string, error) {
	var js string
	err := q.queryRow(ctx, `SELECT entries FROM outbound_allow WHERE tenant_id = ?`, tenantID).Scan(&js)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get outbound allow-list: %w", err)
	}
	var out []string
	if err := json.Unmarshal([]byte(js), &out); err != nil {
		return nil, fmt.Errorf("get outbound allow-list: %w", err)
	}
	return out, nil
}
