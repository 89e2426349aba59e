package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/accessbot/accessbot"
)

const appCols = `tenant_id, id, name, description, connector, primary_owner_id, secondary_owner_id,
	max_duration_ns, connection_schema, labels, provisioning, created_at, updated_at`

func scanApp(r scanner) (accessbot.Application, error) {
	var a accessbot.Application
	var primary, secondary sql.NullString
	var maxDur int64
	var schema, labels, prov rawJSON
	var c, u dbTime
	if err := r.Scan(&a.TenantID, &a.ID, &a.Name, &a.Description, &a.Connector, &primary, &secondary,
		&maxDur, &schema, &labels, &prov, &c, &u); err != nil {
		return a, err
	}
	var err error
	if a.Labels, err = scanLabels(labels); err != nil {
		return a, fmt.Errorf("application %s labels: %w", a.ID, err)
	}
	a.PrimaryOwnerID, a.SecondaryOwnerID = primary.String, secondary.String
	a.MaxDuration = time.Duration(maxDur)
	a.CreatedAt, a.UpdatedAt = c.T, u.T
	if err := unmarshalJSON(schema.B, &a.ConnectionSchema); err != nil {
		return a, fmt.Errorf("application %s connection schema: %w", a.ID, err)
	}
	if err := unmarshalJSON(prov.B, &a.Provisioning); err != nil {
		return a, fmt.Errorf("application %s provisioning: %w", a.ID, err)
	}
	if len(a.Provisioning) == 0 {
		a.Provisioning = nil
	}
	return a, nil
}

// marshalJSON encodes v for a NOT NULL json column.
func marshalJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("%w: encode json: %v", accessbot.ErrInvalid, err)
	}
	return string(b), nil
}

// scanLabels reads a labels column; no labels is nil.
func scanLabels(col rawJSON) ([]string, error) {
	var ls []string
	if err := unmarshalJSON(col.B, &ls); err != nil {
		return nil, err
	}
	return accessbot.NormalizeLabels(ls), nil
}

// labelsJSON normalizes *ls and encodes it for a labels column, "[]" for none.
func labelsJSON(ls *[]string) (string, error) {
	*ls = accessbot.NormalizeLabels(*ls)
	if *ls == nil {
		return "[]", nil
	}
	return marshalJSON(*ls)
}

// provisioningJSON encodes an application's action chains, "{}" for none.
func provisioningJSON(p map[string]accessbot.ActionChain) (string, error) {
	if len(p) == 0 {
		return "{}", nil
	}
	return marshalJSON(p)
}

func unmarshalJSON(b []byte, v any) error {
	if len(b) == 0 {
		return nil
	}
	return json.Unmarshal(b, v)
}

func (q *queries) CreateApplication(ctx context.Context, a *accessbot.Application) error {
	q.stamp(&a.ID, &a.CreatedAt)
	if a.UpdatedAt.IsZero() {
		a.UpdatedAt = a.CreatedAt
	}
	a.UpdatedAt = Round(a.UpdatedAt)
	schema, err := marshalJSON(a.ConnectionSchema)
	if err != nil {
		return fmt.Errorf("create application %s: %w", a.Name, err)
	}
	labels, err := labelsJSON(&a.Labels)
	if err != nil {
		return fmt.Errorf("create application %s: %w", a.Name, err)
	}
	prov, err := provisioningJSON(a.Provisioning)
	if err != nil {
		return fmt.Errorf("create application %s: %w", a.Name, err)
	}
	_, err = q.exec(ctx, `INSERT INTO applications (`+appCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.TenantID, a.ID, a.Name, a.Description, a.Connector, nullStr(a.PrimaryOwnerID), nullStr(a.SecondaryOwnerID),
		int64(a.MaxDuration), schema, labels, prov, q.tm(a.CreatedAt), q.tm(a.UpdatedAt))
	if err != nil {
		return fmt.Errorf("create application %s: %w", a.Name, q.writeErr(err))
	}
	return nil
}

func (q *queries) UpdateApplication(ctx context.Context, a *accessbot.Application) error {
	schema, err := marshalJSON(a.ConnectionSchema)
	if err != nil {
		return fmt.Errorf("update application %s: %w", a.ID, err)
	}
	labels, err := labelsJSON(&a.Labels)
	if err != nil {
		return fmt.Errorf("update application %s: %w", a.ID, err)
	}
	prov, err := provisioningJSON(a.Provisioning)
	if err != nil {
		return fmt.Errorf("update application %s: %w", a.ID, err)
	}
	now := Round(q.now())
	err = affected(q.exec(ctx, `UPDATE applications SET name = ?, description = ?, connector = ?, primary_owner_id = ?,
		secondary_owner_id = ?, max_duration_ns = ?, connection_schema = ?, labels = ?, provisioning = ?, updated_at = ?
		WHERE tenant_id = ? AND id = ?`,
		a.Name, a.Description, a.Connector, nullStr(a.PrimaryOwnerID), nullStr(a.SecondaryOwnerID), int64(a.MaxDuration),
		schema, labels, prov, q.tm(now), a.TenantID, a.ID))
	if err != nil {
		return fmt.Errorf("update application %s: %w", a.ID, q.writeErr(err))
	}
	a.UpdatedAt = now
	return nil
}

func (q *queries) GetApplication(ctx context.Context, tenantID, id string) (*accessbot.Application, error) {
	a, err := scanApp(q.queryRow(ctx, `SELECT `+appCols+` FROM applications WHERE tenant_id = ? AND id = ?`, tenantID, id))
	if err != nil {
		return nil, fmt.Errorf("get application %s: %w", id, notFound(err))
	}
	return &a, nil
}

// GetApplicationByName matches case-insensitively, like the unique index.
func (q *queries) GetApplicationByName(ctx context.Context, tenantID, name string) (*accessbot.Application, error) {
	a, err := scanApp(q.queryRow(ctx, `SELECT `+appCols+` FROM applications WHERE tenant_id = ? AND lower(name) = lower(?)`,
		tenantID, name))
	if err != nil {
		return nil, fmt.Errorf("get application by name %q: %w", name, notFound(err))
	}
	return &a, nil
}

// likeEscaper makes a user's search text literal inside LIKE.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

func (q *queries) ListApplications(ctx context.Context, tenantID, query string, limit int) ([]accessbot.Application, error) {
	pattern := "%" + likeEscaper.Replace(strings.ToLower(query)) + "%"
	rows, err := q.query(ctx, `SELECT `+appCols+` FROM applications
		WHERE tenant_id = ? AND lower(name) LIKE ? ESCAPE '\' ORDER BY lower(name)`+limitClause(limit),
		tenantID, pattern)
	out, err := collect(rows, err, scanApp)
	if err != nil {
		return nil, fmt.Errorf("list applications: %w", err)
	}
	return out, nil
}

// DeleteApplication also deletes its connections, resources and chains.
func (q *queries) DeleteApplication(ctx context.Context, tenantID, id string) error {
	if err := affected(q.exec(ctx, `DELETE FROM applications WHERE tenant_id = ? AND id = ?`, tenantID, id)); err != nil {
		return fmt.Errorf("delete application %s: %w", id, q.deleteErr(err))
	}
	return nil
}

const connCols = `tenant_id, id, app_id, name, type, description, attributes, labels, created_at, updated_at`

func scanConn(r scanner) (accessbot.Connection, error) {
	var c accessbot.Connection
	var attrs, labels rawJSON
	var cr, up dbTime
	if err := r.Scan(&c.TenantID, &c.ID, &c.AppID, &c.Name, &c.Type, &c.Description, &attrs, &labels, &cr, &up); err != nil {
		return c, err
	}
	var err error
	if c.Labels, err = scanLabels(labels); err != nil {
		return c, fmt.Errorf("connection %s labels: %w", c.ID, err)
	}
	c.CreatedAt, c.UpdatedAt = cr.T, up.T
	if err := unmarshalJSON(attrs.B, &c.Attributes); err != nil {
		return c, fmt.Errorf("connection %s attributes: %w", c.ID, err)
	}
	return c, nil
}

func (q *queries) CreateConnection(ctx context.Context, c *accessbot.Connection) error {
	q.stamp(&c.ID, &c.CreatedAt)
	if c.UpdatedAt.IsZero() {
		c.UpdatedAt = c.CreatedAt
	}
	c.UpdatedAt = Round(c.UpdatedAt)
	attrs, err := marshalJSON(c.Attributes)
	if err != nil {
		return fmt.Errorf("create connection %s: %w", c.Name, err)
	}
	labels, err := labelsJSON(&c.Labels)
	if err != nil {
		return fmt.Errorf("create connection %s: %w", c.Name, err)
	}
	_, err = q.exec(ctx, `INSERT INTO connections (`+connCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.TenantID, c.ID, c.AppID, c.Name, c.Type, c.Description, attrs, labels, q.tm(c.CreatedAt), q.tm(c.UpdatedAt))
	if err != nil {
		return fmt.Errorf("create connection %s: %w", c.Name, q.writeErr(err))
	}
	return nil
}

// UpdateConnection changes name, type, description, attributes and labels;
// the application a connection belongs to never changes.
func (q *queries) UpdateConnection(ctx context.Context, c *accessbot.Connection) error {
	attrs, err := marshalJSON(c.Attributes)
	if err != nil {
		return fmt.Errorf("update connection %s: %w", c.ID, err)
	}
	labels, err := labelsJSON(&c.Labels)
	if err != nil {
		return fmt.Errorf("update connection %s: %w", c.ID, err)
	}
	now := Round(q.now())
	err = affected(q.exec(ctx, `UPDATE connections SET name = ?, type = ?, description = ?, attributes = ?, labels = ?, updated_at = ?
		WHERE tenant_id = ? AND id = ?`,
		c.Name, c.Type, c.Description, attrs, labels, q.tm(now), c.TenantID, c.ID))
	if err != nil {
		return fmt.Errorf("update connection %s: %w", c.ID, q.writeErr(err))
	}
	c.UpdatedAt = now
	return nil
}

func (q *queries) GetConnection(ctx context.Context, tenantID, id string) (*accessbot.Connection, error) {
	c, err := scanConn(q.queryRow(ctx, `SELECT `+connCols+` FROM connections WHERE tenant_id = ? AND id = ?`, tenantID, id))
	if err != nil {
		return nil, fmt.Errorf("get connection %s: %w", id, notFound(err))
	}
	return &c, nil
}

func (q *queries) GetConnectionByName(ctx context.Context, tenantID, appID, name string) (*accessbot.Connection, error) {
	c, err := scanConn(q.queryRow(ctx, `SELECT `+connCols+` FROM connections WHERE tenant_id = ? AND app_id = ? AND name = ?`,
		tenantID, appID, name))
	if err != nil {
		return nil, fmt.Errorf("get connection by name %q: %w", name, notFound(err))
	}
	return &c, nil
}

func (q *queries) ListConnections(ctx context.Context, tenantID, appID string) ([]accessbot.Connection, error) {
	rows, err := q.query(ctx, `SELECT `+connCols+` FROM connections WHERE tenant_id = ? AND app_id = ? ORDER BY name`,
		tenantID, appID)
	out, err := collect(rows, err, scanConn)
	if err != nil {
		return nil, fmt.Errorf("list connections of %s: %w", appID, err)
	}
	return out, nil
}

// DeleteConnection also deletes entitlements to it and chains scoped to it.
func (q *queries) DeleteConnection(ctx context.Context, tenantID, id string) error {
	if err := affected(q.exec(ctx, `DELETE FROM connections WHERE tenant_id = ? AND id = ?`, tenantID, id)); err != nil {
		return fmt.Errorf("delete connection %s: %w", id, q.deleteErr(err))
	}
	return nil
}

const resourceCols = `tenant_id, id, app_id, name, type, created_at`

func scanResource(r scanner) (accessbot.Resource, error) {
	var res accessbot.Resource
	var c dbTime
	err := r.Scan(&res.TenantID, &res.ID, &res.AppID, &res.Name, &res.Type, &c)
	res.CreatedAt = c.T
	return res, err
}

func (q *queries) CreateResource(ctx context.Context, r *accessbot.Resource) error {
	q.stamp(&r.ID, &r.CreatedAt)
	_, err := q.exec(ctx, `INSERT INTO resources (`+resourceCols+`) VALUES (?, ?, ?, ?, ?, ?)`,
		r.TenantID, r.ID, r.AppID, r.Name, r.Type, q.tm(r.CreatedAt))
	if err != nil {
		return fmt.Errorf("create resource %s: %w", r.Name, q.writeErr(err))
	}
	return nil
}

func (q *queries) ListResources(ctx context.Context, tenantID, appID string) ([]accessbot.Resource, error) {
	rows, err := q.query(ctx, `SELECT `+resourceCols+` FROM resources WHERE tenant_id = ? AND app_id = ? ORDER BY name`,
		tenantID, appID)
	out, err := collect(rows, err, scanResource)
	if err != nil {
		return nil, fmt.Errorf("list resources of %s: %w", appID, err)
	}
	return out, nil
}

func (q *queries) DeleteResource(ctx context.Context, tenantID, id string) error {
	if err := affected(q.exec(ctx, `DELETE FROM resources WHERE tenant_id = ? AND id = ?`, tenantID, id)); err != nil {
		return fmt.Errorf("delete resource %s: %w", id, q.deleteErr(err))
	}
	return nil
}
