package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/accessbot/accessbot"
)

const flowCols = `tenant_id, id, flow_key, request_id, entitlement_id, app_id, connection_id, user_id, relationship,
	direction, status, current_step, fields, outputs, actor_id, reason, version,
	created_at, updated_at, finished_at`

const flowStepCols = `idx, type, params, timeout_ns, status, attempts, last_error, note, outputs, answered_by,
	started_at, finished_at`

func scanFlow(r scanner) (accessbot.ActionFlow, error) {
	var f accessbot.ActionFlow
	var fields, outputs rawJSON
	var c, u, fin dbTime
	var status string
	if err := r.Scan(&f.TenantID, &f.ID, &f.Key, &f.RequestID, &f.EntitlementID, &f.AppID, &f.ConnectionID, &f.UserID,
		&f.Relationship, &f.Direction, &status, &f.Current, &fields, &outputs, &f.ActorID, &f.Reason,
		&f.Version, &c, &u, &fin); err != nil {
		return f, err
	}
	f.Status = accessbot.FlowStatus(status)
	if len(fields.B) > 0 {
		f.Fields = fields.B
	}
	if err := unmarshalJSON(outputs.B, &f.Outputs); err != nil {
		return f, fmt.Errorf("flow %s outputs: %w", f.ID, err)
	}
	f.Outputs = nilIfEmpty(f.Outputs)
	f.CreatedAt, f.UpdatedAt, f.FinishedAt = c.T, u.T, fin.ptr()
	return f, nil
}

func scanFlowStep(r scanner) (accessbot.ActionFlowStep, error) {
	var s accessbot.ActionFlowStep
	var params, outputs rawJSON
	var timeout int64
	var status string
	var st, fin dbTime
	if err := r.Scan(&s.Index, &s.Type, &params, &timeout, &status, &s.Attempts, &s.LastError, &s.Note, &outputs,
		&s.AnsweredBy, &st, &fin); err != nil {
		return s, err
	}
	s.Status, s.Timeout = accessbot.FlowStatus(status), time.Duration(timeout)
	if err := unmarshalJSON(params.B, &s.Params); err != nil {
		return s, fmt.Errorf("step %d params: %w", s.Index, err)
	}
	if err := unmarshalJSON(outputs.B, &s.Outputs); err != nil {
		return s, fmt.Errorf("step %d outputs: %w", s.Index, err)
	}
	s.Params, s.Outputs = nilIfEmpty(s.Params), nilIfEmpty(s.Outputs)
	s.StartedAt, s.FinishedAt = st.ptr(), fin.ptr()
	return s, nil
}

// nilIfEmpty reads "{}" back as no map, as it was written.
func nilIfEmpty(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

// mapJSON encodes a string map for a NOT NULL json column, "{}" for none.
func mapJSON(m map[string]string) (string, error) {
	if len(m) == 0 {
		return "{}", nil
	}
	return marshalJSON(m)
}

func (q *queries) CreateActionFlow(ctx context.Context, f *accessbot.ActionFlow) error {
	q.stamp(&f.ID, &f.CreatedAt)
	if f.UpdatedAt.IsZero() {
		f.UpdatedAt = f.CreatedAt
	}
	f.UpdatedAt, f.FinishedAt = Round(f.UpdatedAt), roundPtr(f.FinishedAt)
	fields := "{}"
	if len(f.Fields) > 0 {
		fields = string(f.Fields)
	}
	outputs, err := mapJSON(f.Outputs)
	if err != nil {
		return fmt.Errorf("create flow %s: %w", f.Key, err)
	}
	_, err = q.exec(ctx, `INSERT INTO action_flows (`+flowCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		f.TenantID, f.ID, f.Key, f.RequestID, f.EntitlementID, f.AppID, f.ConnectionID, f.UserID, f.Relationship,
		f.Direction, string(f.Status), f.Current, fields, outputs, f.ActorID, f.Reason,
		f.Version, q.tm(f.CreatedAt), q.tm(f.UpdatedAt), q.tmp(f.FinishedAt))
	if err != nil {
		return fmt.Errorf("create flow %s: %w", f.Key, q.writeErr(err))
	}
	for i := range f.Steps {
		s := &f.Steps[i]
		s.Index = i
		s.StartedAt, s.FinishedAt = roundPtr(s.StartedAt), roundPtr(s.FinishedAt)
		params, err := mapJSON(s.Params)
		if err != nil {
			return fmt.Errorf("create flow %s step %d: %w", f.Key, i, err)
		}
		outputs, err := mapJSON(s.Outputs)
		if err != nil {
			return fmt.Errorf("create flow %s step %d: %w", f.Key, i, err)
		}
		_, err = q.exec(ctx, `INSERT INTO action_flow_scripts (tenant_id, flow_id, `+flowStepCols+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			f.TenantID, f.ID, i, s.Type, params, int64(s.Timeout), string(s.Status), s.Attempts, s.LastError, s.Note,
			outputs, s.AnsweredBy, q.tmp(s.StartedAt), q.tmp(s.FinishedAt))
		if err != nil {
			return fmt.Errorf("create flow %s step %d: %w", f.Key, i, q.writeErr(err))
		}
	}
	return nil
}

func (q *queries) GetActionFlow(ctx context.Context, tenantID, id string) (*accessbot.ActionFlow, error) {
	return q.getFlow(ctx, `tenant_id = ? AND id = ?`, "", tenantID, id)
}

func (q *queries) GetActionFlowForUpdate(ctx context.Context, tenantID, id string) (*accessbot.ActionFlow, error) {
	lock := " FOR UPDATE"
	if q.d.Name == "sqlite" {
		lock = ""
	}
	return q.getFlow(ctx, `tenant_id = ? AND id = ?`, lock, tenantID, id)
}

func (q *queries) GetActionFlowByKey(ctx context.Context, tenantID, key string) (*accessbot.ActionFlow, error) {
	return q.getFlow(ctx, `tenant_id = ? AND flow_key = ?`, "", tenantID, key)
}

func (q *queries) getFlow(ctx context.Context, where, lock string, tenantID, arg string) (*accessbot.ActionFlow, error) {
	f, err := scanFlow(q.queryRow(ctx, `SELECT `+flowCols+` FROM action_flows WHERE `+where+lock, tenantID, arg))
	if err != nil {
		return nil, fmt.Errorf("get flow %s: %w", arg, notFound(err))
	}
	if err := q.loadSteps(ctx, &f); err != nil {
		return nil, err
	}
	return &f, nil
}

func (q *queries) loadSteps(ctx context.Context, f *accessbot.ActionFlow) error {
	rows, err := q.query(ctx, `SELECT `+flowStepCols+` FROM action_flow_scripts WHERE tenant_id = ? AND flow_id = ? ORDER BY idx`,
		f.TenantID, f.ID)
	steps, err := collect(rows, err, scanFlowStep)
	if err != nil {
		return fmt.Errorf("list steps of flow %s: %w", f.ID, err)
	}
	f.Steps = steps
	return nil
}

func (q *queries) SaveActionFlow(ctx context.Context, f *accessbot.ActionFlow) error {
	now := Round(q.now())
	outputs, err := mapJSON(f.Outputs)
	if err != nil {
		return fmt.Errorf("save flow %s: %w", f.ID, err)
	}
	f.FinishedAt = roundPtr(f.FinishedAt)
	n, err := q.exec(ctx, `UPDATE action_flows SET status = ?, current_step = ?, outputs = ?,
		entitlement_id = ?, connection_id = ?, version = version + 1, updated_at = ?, finished_at = ?
		WHERE tenant_id = ? AND id = ? AND version = ?`,
		string(f.Status), f.Current, outputs, f.EntitlementID, f.ConnectionID, q.tm(now), q.tmp(f.FinishedAt),
		f.TenantID, f.ID, f.Version)
	if err != nil {
		return fmt.Errorf("save flow %s: %w", f.ID, q.writeErr(err))
	}
	if n == 0 {
		return fmt.Errorf("save flow %s at version %d: %w", f.ID, f.Version, accessbot.ErrStale)
	}
	for i := range f.Steps {
		s := &f.Steps[i]
		s.StartedAt, s.FinishedAt = roundPtr(s.StartedAt), roundPtr(s.FinishedAt)
		outputs, err := mapJSON(s.Outputs)
		if err != nil {
			return fmt.Errorf("save flow %s step %d: %w", f.ID, s.Index, err)
		}
		err = affected(q.exec(ctx, `UPDATE action_flow_scripts SET status = ?, attempts = ?, last_error = ?, note = ?, outputs = ?,
			answered_by = ?, started_at = ?, finished_at = ? WHERE tenant_id = ? AND flow_id = ? AND idx = ?`,
			string(s.Status), s.Attempts, s.LastError, s.Note, outputs, s.AnsweredBy, q.tmp(s.StartedAt), q.tmp(s.FinishedAt),
			f.TenantID, f.ID, s.Index))
		if err != nil {
			return fmt.Errorf("save flow %s step %d: %w", f.ID, s.Index, q.writeErr(err))
		}
	}
	f.Version++
	f.UpdatedAt = now
	return nil
}

func (q *queries) ListActionFlowsByRequest(ctx context.Context, tenantID, requestID string) ([]accessbot.ActionFlow, error) {
	rows, err := q.query(ctx, `SELECT `+flowCols+` FROM action_flows WHERE tenant_id = ? AND request_id = ? ORDER BY created_at, id`,
		tenantID, requestID)
	return q.flowsWithSteps(ctx, rows, err, "of request "+requestID)
}

func (q *queries) ListActionFlowsByStatus(ctx context.Context, tenantID string, statuses []accessbot.FlowStatus, limit int) ([]accessbot.ActionFlow, error) {
	if len(statuses) == 0 {
		return nil, nil
	}
	args := []any{tenantID}
	for _, s := range statuses {
		args = append(args, string(s))
	}
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(statuses)), ", ")
	rows, err := q.query(ctx, `SELECT `+flowCols+` FROM action_flows WHERE tenant_id = ? AND status IN (`+marks+`)
		ORDER BY updated_at DESC, id DESC`+limitClause(limit), args...)
	return q.flowsWithSteps(ctx, rows, err, "by status")
}

func (q *queries) ListRevokedAccess(ctx context.Context, tenantID, appID string, before time.Time) ([]accessbot.RevokedAccess, error) {
	rows, err := q.query(ctx, `SELECT user_id, connection_id, id, finished_at FROM action_flows
		WHERE tenant_id = ? AND app_id = ? AND direction = 'deprovision' AND status = ? AND finished_at < ?
		AND user_id <> '' AND connection_id <> '' ORDER BY finished_at, id`,
		tenantID, appID, string(accessbot.FlowDone), q.tm(Round(before)))
	if err != nil {
		return nil, fmt.Errorf("list revoked access of application %s: %w", appID, err)
	}
	defer rows.Close()
	var out []accessbot.RevokedAccess
	for rows.Next() {
		var r accessbot.RevokedAccess
		var fin dbTime
		if err := rows.Scan(&r.UserID, &r.ConnectionID, &r.FlowID, &fin); err != nil {
			return nil, fmt.Errorf("list revoked access of application %s: %w", appID, err)
		}
		r.FinishedAt = fin.T
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list revoked access of application %s: %w", appID, err)
	}
	return out, nil
}

func (q *queries) flowsWithSteps(ctx context.Context, rows interface {
	Next() bool
	Scan(...any) error
	Close() error
	Err() error
}, err error, what string) ([]accessbot.ActionFlow, error) {
	if err != nil {
		return nil, fmt.Errorf("list flows %s: %w", what, err)
	}
	var out []accessbot.ActionFlow
	func() {
		defer rows.Close()
		for rows.Next() {
			var f accessbot.ActionFlow
			if f, err = scanFlow(rows); err != nil {
				return
			}
			out = append(out, f)
		}
		err = rows.Err()
	}()
	if err != nil {
		return nil, fmt.Errorf("list flows %s: %w", what, err)
	}
	for i := range out {
		if err := q.loadSteps(ctx, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}
