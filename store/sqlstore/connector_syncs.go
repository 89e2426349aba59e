package sqlstore

import (
	"context"
	"fmt"

	"github.com/accessbot/accessbot"
)

func (q *queries) PutConnectorSync(ctx context.Context, s *accessbot.ConnectorSync) error {
	_, err := q.exec(ctx, `INSERT INTO connector_syncs (tenant_id, app_id, connector, cursor, last_full_at, last_run_at, last_ok_at, last_error, summary)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, app_id) DO UPDATE SET connector = excluded.connector, cursor = excluded.cursor,
			last_full_at = excluded.last_full_at, last_run_at = excluded.last_run_at, last_ok_at = excluded.last_ok_at,
			last_error = excluded.last_error, summary = excluded.summary`,
		s.TenantID, s.AppID, s.Connector, s.Cursor, q.tmp(s.LastFullAt), q.tmp(s.LastRunAt), q.tmp(s.LastOKAt), s.LastError, s.Summary)
	if err != nil {
		return fmt.Errorf("put connector sync of application %s: %w", s.AppID, q.writeErr(err))
	}
	return nil
}

const connectorSyncCols = `tenant_id, app_id, connector, cursor, last_full_at, last_run_at, last_ok_at, last_error, summary`

type rowScanner interface{ Scan(dest ...any) error }

func scanConnectorSync(r rowScanner) (*accessbot.ConnectorSync, error) {
	var (
		s             accessbot.ConnectorSync
		full, run, ok dbTime
	)
	if err := r.Scan(&s.TenantID, &s.AppID, &s.Connector, &s.Cursor, &full, &run, &ok, &s.LastError, &s.Summary); err != nil {
		return nil, err
	}
	s.LastFullAt, s.LastRunAt, s.LastOKAt = full.ptr(), run.ptr(), ok.ptr()
	return &s, nil
}

func (q *queries) GetConnectorSync(ctx context.Context, tenantID, appID string) (*accessbot.ConnectorSync, error) {
	s, err := scanConnectorSync(q.queryRow(ctx, `SELECT `+connectorSyncCols+` FROM connector_syncs WHERE tenant_id = ? AND app_id = ?`, tenantID, appID))
	if err != nil {
		return nil, fmt.Errorf("get connector sync of application %s: %w", appID, notFound(err))
	}
	return s, nil
}

func (q *queries) ListConnectorSyncs(ctx context.Context, tenantID string) ([]accessbot.ConnectorSync, error) {
	rows, err := q.query(ctx, `SELECT `+connectorSyncCols+` FROM connector_syncs WHERE tenant_id = ? ORDER BY app_id`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("list connector syncs: %w", err)
	}
	defer rows.Close()
	var out []accessbot.ConnectorSync
	for rows.Next() {
		s, err := scanConnectorSync(rows)
		if err != nil {
			return nil, fmt.Errorf("list connector syncs: %w", err)
		}
		out = append(out, *s)
	}
	return out, rows.Err()
}
