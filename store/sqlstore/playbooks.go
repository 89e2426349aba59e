package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/accessbot/accessbot"
)

const playbookCols = `tenant_id, id, name, description, type, on_sync, url, app_id, active, token_secret, signing_secret, source, created_at, updated_at`

func scanPlaybook(r scanner) (accessbot.Playbook, error) {
	var p accessbot.Playbook
	var app *string
	var cr, up dbTime
	err := r.Scan(&p.TenantID, &p.ID, &p.Name, &p.Description, &p.Type, &p.OnSync, &p.URL, &app, &p.Active,
		&p.TokenSecret, &p.SigningSecret, &p.Source, &cr, &up)
	if app != nil {
		p.AppID = *app
	}
	p.CreatedAt, p.UpdatedAt = cr.T, up.T
	return p, err
}

func checkPlaybook(p *accessbot.Playbook) error {
	if p.Name == "" || p.URL == "" || !p.Type.Valid() {
		return fmt.Errorf("%w: a playbook needs a name, a URL and a type (finding, request or review)", accessbot.ErrInvalid)
	}
	if p.Source == "" {
		p.Source = accessbot.SourceSlack
	}
	return nil
}

func (q *queries) CreatePlaybook(ctx context.Context, p *accessbot.Playbook) error {
	if err := checkPlaybook(p); err != nil {
		return fmt.Errorf("create playbook: %w", err)
	}
	q.stamp(&p.ID, &p.CreatedAt)
	p.UpdatedAt = p.CreatedAt
	_, err := q.exec(ctx, `INSERT INTO playbooks (`+playbookCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.TenantID, p.ID, p.Name, p.Description, string(p.Type), p.OnSync, p.URL, nullStr(p.AppID), p.Active,
		p.TokenSecret, p.SigningSecret, p.Source, q.tm(p.CreatedAt), q.tm(p.UpdatedAt))
	if err != nil {
		return fmt.Errorf("create playbook %q: %w", p.Name, q.writeErr(err))
	}
	return nil
}

func (q *queries) UpdatePlaybook(ctx context.Context, p *accessbot.Playbook) error {
	if err := checkPlaybook(p); err != nil {
		return fmt.Errorf("update playbook: %w", err)
	}
	p.UpdatedAt = Round(q.now())
	err := affected(q.exec(ctx, `UPDATE playbooks SET name = ?, description = ?, type = ?, on_sync = ?, url = ?, app_id = ?,
		active = ?, token_secret = ?, signing_secret = ?, source = ?, updated_at = ? WHERE tenant_id = ? AND id = ?`,
		p.Name, p.Description, string(p.Type), p.OnSync, p.URL, nullStr(p.AppID), p.Active, p.TokenSecret, p.SigningSecret,
		p.Source, q.tm(p.UpdatedAt), p.TenantID, p.ID))
	if err != nil {
		return fmt.Errorf("update playbook %q: %w", p.Name, q.writeErr(err))
	}
	return nil
}

func (q *queries) GetPlaybook(ctx context.Context, tenantID, id string) (*accessbot.Playbook, error) {
	p, err := scanPlaybook(q.queryRow(ctx, `SELECT `+playbookCols+` FROM playbooks WHERE tenant_id = ? AND id = ?`, tenantID, id))
	if err != nil {
		return nil, fmt.Errorf("get playbook %s: %w", id, notFound(err))
	}
	return &p, nil
}

func (q *queries) GetPlaybookByName(ctx context.Context, tenantID, name string) (*accessbot.Playbook, error) {
	p, err := scanPlaybook(q.queryRow(ctx, `SELECT `+playbookCols+` FROM playbooks WHERE tenant_id = ? AND lower(name) = lower(?)`, tenantID, name))
	if err != nil {
		return nil, fmt.Errorf("get playbook %q: %w", name, notFound(err))
	}
	return &p, nil
}

func (q *queries) ListPlaybooks(ctx context.Context, tenantID string) ([]accessbot.Playbook, error) {
	rows, err := q.query(ctx, `SELECT `+playbookCols+` FROM playbooks WHERE tenant_id = ? ORDER BY lower(name), id`, tenantID)
	out, err := collect(rows, err, scanPlaybook)
	if err != nil {
		return nil, fmt.Errorf("list playbooks: %w", err)
	}
	return out, nil
}

func (q *queries) DeletePlaybook(ctx context.Context, tenantID, id string) error {
	if err := affected(q.exec(ctx, `DELETE FROM playbooks WHERE tenant_id = ? AND id = ?`, tenantID, id)); err != nil {
		return fmt.Errorf("delete playbook %s: %w", id, q.deleteErr(err))
	}
	return nil
}

const runCols = `tenant_id, id, playbook_id, event_id, event_type, object_type, object_id, trigger_kind, actor_id, event, event_at,
	status, attempts, response_status, duration_ms, response_body, error, reply_to, created_at, finished_at`

func scanRun(r scanner) (accessbot.PlaybookRun, error) {
	var x accessbot.PlaybookRun
	var ev string
	var evAt, cr, fin dbTime
	var ms int64
	err := r.Scan(&x.TenantID, &x.ID, &x.PlaybookID, &x.EventID, &x.EventType, &x.ObjectType, &x.ObjectID, &x.Trigger,
		&x.ActorID, &ev, &evAt, &x.Status, &x.Attempts, &x.ResponseStatus, &ms, &x.ResponseBody, &x.Error, &x.ReplyTo, &cr, &fin)
	x.Event = json.RawMessage(ev)
	x.EventAt, x.CreatedAt, x.FinishedAt = evAt.T, cr.T, fin.ptr()
	x.Duration = time.Duration(ms) * time.Millisecond
	return x, err
}

func (q *queries) CreatePlaybookRun(ctx context.Context, r *accessbot.PlaybookRun) error {
	if r.PlaybookID == "" || r.EventID == "" || !json.Valid(r.Event) {
		return fmt.Errorf("create playbook run: %w: playbook, event id and a JSON event are required", accessbot.ErrInvalid)
	}
	q.stamp(&r.ID, &r.CreatedAt)
	if r.Status == "" {
		r.Status = accessbot.RunPending
	}
	r.EventAt = Round(r.EventAt)
	// DO NOTHING rather than a unique violation: on PostgreSQL that would
	// abort the caller's transaction, and a repeated event is routine.
	n, err := q.exec(ctx, `INSERT INTO playbook_runs (`+runCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, event_id) DO NOTHING`,
		r.TenantID, r.ID, r.PlaybookID, r.EventID, r.EventType, r.ObjectType, r.ObjectID, r.Trigger, r.ActorID, string(r.Event),
		q.tm(r.EventAt), string(r.Status), r.Attempts, r.ResponseStatus, r.Duration.Milliseconds(), r.ResponseBody, r.Error,
		r.ReplyTo, q.tm(r.CreatedAt), q.tmp(r.FinishedAt))
	if err != nil {
		return fmt.Errorf("create playbook run %s: %w", r.EventID, q.writeErr(err))
	}
	if n == 0 {
		return fmt.Errorf("create playbook run: event %s is queued already: %w", r.EventID, accessbot.ErrConflict)
	}
	return nil
}

func (q *queries) GetPlaybookRun(ctx context.Context, tenantID, id string) (*accessbot.PlaybookRun, error) {
	r, err := scanRun(q.queryRow(ctx, `SELECT `+runCols+` FROM playbook_runs WHERE tenant_id = ? AND id = ?`, tenantID, id))
	if err != nil {
		return nil, fmt.Errorf("get playbook run %s: %w", id, notFound(err))
	}
	return &r, nil
}

func (q *queries) FinishPlaybookAttempt(ctx context.Context, r *accessbot.PlaybookRun) error {
	r.FinishedAt = roundPtr(r.FinishedAt)
	n, err := q.exec(ctx, `UPDATE playbook_runs SET status = ?, attempts = ?, response_status = ?, duration_ms = ?,
		response_body = ?, error = ?, finished_at = ? WHERE tenant_id = ? AND id = ? AND status = 'pending'`,
		string(r.Status), r.Attempts, r.ResponseStatus, r.Duration.Milliseconds(), r.ResponseBody, r.Error, q.tmp(r.FinishedAt),
		r.TenantID, r.ID)
	if err != nil {
		return fmt.Errorf("record playbook attempt %s: %w", r.ID, q.writeErr(err))
	}
	if n == 0 {
		if _, gerr := q.GetPlaybookRun(ctx, r.TenantID, r.ID); gerr != nil {
			return fmt.Errorf("record playbook attempt: %w", gerr)
		}
		return fmt.Errorf("record playbook attempt %s: %w: the run is no longer pending", r.ID, accessbot.ErrStale)
	}
	return nil
}

func (q *queries) ListPlaybookRuns(ctx context.Context, tenantID, playbookID string, limit int) ([]accessbot.PlaybookRun, error) {
	rows, err := q.query(ctx, `SELECT `+runCols+` FROM playbook_runs WHERE tenant_id = ? AND playbook_id = ?
		ORDER BY created_at DESC, id DESC`+limitClause(limit), tenantID, playbookID)
	out, err := collect(rows, err, scanRun)
	if err != nil {
		return nil, fmt.Errorf("list playbook runs: %w", err)
	}
	return out, nil
}
