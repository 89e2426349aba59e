package store

import (
	"context"

	"github.com/accessbot/accessbot"
)

// Playbooks persists playbooks and their runs (the audit trail of every
// invocation). The outbound allow-list they obey is Connectors'.
type Playbooks interface {
	// CreatePlaybook fails with ErrConflict when the name is taken (case-insensitively).
	CreatePlaybook(ctx context.Context, p *accessbot.Playbook) error
	UpdatePlaybook(ctx context.Context, p *accessbot.Playbook) error
	GetPlaybook(ctx context.Context, tenantID, id string) (*accessbot.Playbook, error)
	GetPlaybookByName(ctx context.Context, tenantID, name string) (*accessbot.Playbook, error)
	// ListPlaybooks lists the tenant's playbooks by name.
	ListPlaybooks(ctx context.Context, tenantID string) ([]accessbot.Playbook, error)
	// DeletePlaybook deletes the playbook and its runs.
	DeletePlaybook(ctx context.Context, tenantID, id string) error

	// CreatePlaybookRun fails with ErrConflict when the tenant already has a
	// run with this EventID: an event is queued once however often it is emitted.
	CreatePlaybookRun(ctx context.Context, r *accessbot.PlaybookRun) error
	GetPlaybookRun(ctx context.Context, tenantID, id string) (*accessbot.PlaybookRun, error)
	// FinishPlaybookAttempt records an attempt's outcome (Status, Attempts,
	// ResponseStatus, Duration, ResponseBody, Error, FinishedAt) while the run
	// is pending; ErrStale when it is no longer.
	FinishPlaybookAttempt(ctx context.Context, r *accessbot.PlaybookRun) error
	// ListPlaybookRuns lists a playbook's runs, newest first, up to limit (0 = all).
	ListPlaybookRuns(ctx context.Context, tenantID, playbookID string, limit int) ([]accessbot.PlaybookRun, error)
}
