package dirsource

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/dirsync"
	"github.com/accessbot/accessbot/flows/findings"
	"github.com/accessbot/accessbot/flows/inventory"
	"github.com/accessbot/accessbot/flows/schedule"
	"github.com/accessbot/accessbot/internal/secrets"
)

// Job is the scheduled sync: registered on the scheduler as the family
// dirsync.JobPrefix, it syncs the application a schedule names (the tenant
// file's applications[].sync). A failed sync is recorded for status and
// returned, so the slot is retried with the scheduler's backoff.
type Job struct {
	Store dirsync.Store
	Keys  *secrets.Keyring
	Rules inventory.RuleRunner
	Clock func() time.Time
	Log   zerolog.Logger
	// TempDir holds the relations spool; "" is the system's.
	TempDir string
	// AfterImport runs in the transaction of each written snapshot: the
	// playbooks' sync.completed and finding.opened (nil: nothing).
	AfterImport inventory.AfterImport
	// FindingsOpened hears of the drift findings a snapshot opened (nil: nothing).
	FindingsOpened findings.AfterRecord
}

var _ schedule.Job = (*Job)(nil)

// Run syncs one application.
func (j *Job) Run(ctx context.Context, r schedule.Run) error {
	name, ok := strings.CutPrefix(r.Job, dirsync.JobPrefix)
	if !ok || name == "" {
		return fmt.Errorf("connector sync: job %q names no application", r.Job)
	}
	app, err := j.Store.GetApplicationByName(ctx, r.TenantID, name)
	if errors.Is(err, accessbot.ErrNotFound) {
		// Deleted outside a tenant file apply (which deletes its schedule):
		// nothing to sync, and retrying will not change that.
		j.Log.Warn().Str("tenant", r.TenantID).Str("job", r.Job).Msg("connector sync: the application is gone; slot skipped")
		return nil
	}
	if err != nil {
		return fmt.Errorf("connector sync of %s: %w", name, err)
	}
	clock := j.Clock
	if clock == nil {
		clock = time.Now
	}
	log := j.Log.With().Str("tenant", r.TenantID).Str("app", app.Name).Logger()
	src, _, err := For(ctx, j.Store, j.Keys, app, log)
	sy := dirsync.New(j.Store, j.Rules, clock, log)
	if j.AfterImport != nil {
		sy.WithAfterImport(j.AfterImport)
	}
	if j.FindingsOpened != nil {
		sy.WithFindingsOpened(j.FindingsOpened)
	}
	if err != nil {
		// Record it where status shows it: a connector that cannot be
		// built is this application's last error.
		sy.Failed(ctx, r.TenantID, app, err)
		return fmt.Errorf("connector sync: %w", err)
	}
	res, err := sy.Sync(ctx, r.TenantID, app, src, dirsync.Options{TempDir: j.TempDir})
	if err != nil {
		return fmt.Errorf("connector sync of %s: %w", app.Name, err)
	}
	log.Info().Str("summary", res.Summary()).Dur("took", res.ElapsedTime).Msg("scheduled connector sync done")
	return nil
}
