package sqlstore

import (
	"context"
	"fmt"

	"github.com/accessbot/accessbot"
)

const auditCols = `tenant_id, id, at, actor_id, action, object_type, object_id, before_state, after_state`

func scanAudit(r scanner) (accessbot.AuditEntry, error) {
	var e accessbot.AuditEntry
	var at dbTime
	var before, after rawJSON
	err := r.Scan(&e.TenantID, &e.ID, &at, &e.ActorID, &e.Action, &e.ObjectType, &e.ObjectID, &before, &after)
	e.At = at.T
	if before.B != nil {
		e.Before = before.B
	}
	if after.B != nil {
		e.After = after.B
	}
	return e, err
}

// AppendAudit is the only write to the audit log: there is no update or
// delete, and the database refuses them too.
func (q *queries) AppendAudit(ctx context.Context, e *accessbot.AuditEntry) error {
	q.stamp(&e.ID, &e.At)
	_, err := q.exec(ctx, `INSERT INTO audit_log (`+auditCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.TenantID, e.ID, q.tm(e.At), e.ActorID, e.Action, e.ObjectType, e.ObjectID, jsonArg(e.Before), jsonArg(e.After))
	if err != nil {
		return fmt.Errorf("append audit %s: %w", e.Action, q.writeErr(err))
	}
	return nil
}

// ListAudit lists one object's entries oldest first, or the tenant's when objectID is "".
func (q *queries) ListAudit(ctx context.Context, tenantID, objectID string) ([]accessbot.AuditEntry, error) {
	query := `SELECT ` + auditCols + ` FROM audit_log WHERE tenant_id = ?`
	args := []any{tenantID}
	if objectID != "" {
		query += ` AND object_id = ?`
		args = append(args, objectID)
	}
	rows, err := q.query(ctx, query+` ORDER BY at, id`, args...)
	out, err := collect(rows, err, scanAudit)
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	return out, nil
}

const secretCols = `tenant_id, name, key_id, ciphertext, updated_at`

func scanSecret(r scanner) (accessbot.Secret, error) {
	var s accessbot.Secret
	var at dbTime
	err := r.Scan(&s.TenantID, &s.Name, &s.KeyID, &s.Ciphertext, &at)
	s.UpdatedAt = at.T
	return s, err
}

// PutSecret creates or replaces the named secret.
func (q *queries) PutSecret(ctx context.Context, s *accessbot.Secret) error {
	s.UpdatedAt = Round(q.now())
	ct := s.Ciphertext
	if ct == nil {
		ct = []byte{}
	}
	_, err := q.exec(ctx, `INSERT INTO secrets (`+secretCols+`) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, name) DO UPDATE SET key_id = excluded.key_id, ciphertext = excluded.ciphertext,
			updated_at = excluded.updated_at`,
		s.TenantID, s.Name, s.KeyID, ct, q.tm(s.UpdatedAt))
	if err != nil {
		return fmt.Errorf("put secret %s: %w", s.Name, q.writeErr(err))
	}
	return nil
}

func (q *queries) GetSecret(ctx context.Context, tenantID, name string) (*accessbot.Secret, error) {
	s, err := scanSecret(q.queryRow(ctx, `SELECT `+secretCols+` FROM secrets WHERE tenant_id = ? AND name = ?`, tenantID, name))
	if err != nil {
		return nil, fmt.Errorf("get secret %s: %w", name, notFound(err))
	}
	return &s, nil
}

func (q *queries) ListSecrets(ctx context.Context, tenantID string) ([]accessbot.Secret, error) {
	rows, err := q.query(ctx, `SELECT `+secretCols+` FROM secrets WHERE tenant_id = ? ORDER BY name`, tenantID)
	out, err := collect(rows, err, scanSecret)
	if err != nil {
		return nil, fmt.Errorf("list secrets: %w", err)
	}
	return out, nil
}

func (q *queries) DeleteSecret(ctx context.Context, tenantID, name string) error {
	if err := affected(q.exec(ctx, `DELETE FROM secrets WHERE tenant_id = ? AND name = ?`, tenantID, name)); err != nil {
		return fmt.Errorf("delete secret %s: %w", name, q.deleteErr(err))
	}
	return nil
}

const messageCols = `tenant_id, object_id, purpose, user_id, channel_id, ts, created_at`

func scanMessage(r scanner) (accessbot.MessageRef, error) {
	var m accessbot.MessageRef
	var at dbTime
	err := r.Scan(&m.TenantID, &m.ObjectID, &m.Purpose, &m.UserID, &m.ChannelID, &m.TS, &at)
	m.CreatedAt = at.T
	return m, err
}

// SaveMessageRef records a sent message; saving the same (channel, ts) again
// replaces what it is about.
func (q *queries) SaveMessageRef(ctx context.Context, m *accessbot.MessageRef) error {
	if m.CreatedAt.IsZero() {
		m.CreatedAt = q.now()
	}
	m.CreatedAt = Round(m.CreatedAt)
	_, err := q.exec(ctx, `INSERT INTO message_refs (`+messageCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, channel_id, ts) DO UPDATE SET object_id = excluded.object_id, purpose = excluded.purpose,
			user_id = excluded.user_id`,
		m.TenantID, m.ObjectID, m.Purpose, m.UserID, m.ChannelID, m.TS, q.tm(m.CreatedAt))
	if err != nil {
		return fmt.Errorf("save message ref %s/%s: %w", m.ChannelID, m.TS, q.writeErr(err))
	}
	return nil
}

func (q *queries) ListMessageRefs(ctx context.Context, tenantID, objectID string) ([]accessbot.MessageRef, error) {
	rows, err := q.query(ctx, `SELECT `+messageCols+` FROM message_refs WHERE tenant_id = ? AND object_id = ?
		ORDER BY created_at, channel_id, ts`, tenantID, objectID)
	out, err := collect(rows, err, scanMessage)
	if err != nil {
		return nil, fmt.Errorf("list message refs of %s: %w", objectID, err)
	}
	return out, nil
}
