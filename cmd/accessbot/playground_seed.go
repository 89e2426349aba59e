package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/examples"
	"github.com/accessbot/accessbot/flows/digest"
	"github.com/accessbot/accessbot/flows/findings"
	"github.com/accessbot/accessbot/flows/inventory"
	"github.com/accessbot/accessbot/flows/reviews"
	"github.com/accessbot/accessbot/flows/schedule"
	"github.com/accessbot/accessbot/flows/tenantfile"
	"github.com/accessbot/accessbot/playground"
	"github.com/accessbot/accessbot/store"
)

// builtinTenantName names the embedded example tenant file in messages.
const builtinTenantName = "examples/tenant.yaml (built in)"

// playgroundReviewName is the one-off review the playground launches at
// start, so reviewers have something to decide at once.
const playgroundReviewName = "Playground privileged access review"

// loadPlaygroundTenant reads file, or the embedded example tenant when
// file is "". example says whether it is the example (whose data the
// playground then imports).
func loadPlaygroundTenant(file string) (f *tenantfile.File, example bool, err error) {
	if file != "" {
		f, err := tenantfile.ReadFile(file)
		if err != nil {
			return nil, false, fmt.Errorf("playground: %w (set --tenant-file)", err)
		}
		return f, false, nil
	}
	data, err := fs.ReadFile(examples.FS, examples.TenantFile)
	if err != nil {
		return nil, false, fmt.Errorf("playground: built-in tenant: %w", err)
	}
	f, err = tenantfile.Parse(builtinTenantName, data)
	if err != nil {
		return nil, false, fmt.Errorf("playground: built-in tenant: %w", err)
	}
	return f, true, nil
}

// addPlaygroundReview adds a one-off review of the privileged access of
// the example's applications, due in two weeks: `run` launches it on its
// first scheduler tick, as it would one added to the tenant file.
func addPlaygroundReview(f *tenantfile.File, now time.Time) {
	due := now.UTC().Add(14 * 24 * time.Hour).Truncate(time.Second)
	f.Campaigns = append(f.Campaigns, tenantfile.Campaign{
		Name:           playgroundReviewName,
		Applications:   []string{"AWS", "GitLab"},
		PrivilegedOnly: true,
		Levels:         []accessbot.ReviewerRule{accessbot.ReviewerManager, accessbot.ReviewerAppOwner},
		Due:            &due,
	})
}

// importExampleData imports the example inventory (identities,
// entitlements, relations of AWS and GitLab, then mappings) and the
// outside scanner's findings, as `accessbot import` and `accessbot
// findings import` would. The finding rules run after each import.
func importExampleData(ctx context.Context, st store.Store, tenantID string, now func() time.Time, log zerolog.Logger) error {
	im := inventory.NewImporter(st, findings.NewEngine(now, log), now, log)
	type file struct {
		kind inventory.Kind
		app  string
		name string
	}
	var files []file
	for _, app := range []struct{ name, prefix string }{{"AWS", "aws"}, {"GitLab", "gitlab"}} {
		for _, k := range []inventory.Kind{inventory.Identities, inventory.Entitlements, inventory.Relations} {
			files = append(files, file{k, app.name, "inventory/" + app.prefix + "-" + string(k) + ".csv"})
		}
	}
	files = append(files, file{inventory.Mappings, "", "inventory/mappings.csv"})
	for _, fl := range files {
		r, err := examples.FS.Open(fl.name)
		if err != nil {
			return fmt.Errorf("playground: example data: %w", err)
		}
		res, err := im.Import(ctx, tenantID, fl.kind, fl.app, "examples/"+fl.name, r, inventory.Options{Strict: true, App: fl.app})
		r.Close()
		if err != nil {
			return fmt.Errorf("playground: import examples/%s: %w", fl.name, err)
		}
		log.Debug().Str("file", fl.name).Str("summary", res.Summary()).Msg("playground example data")
	}
	data, err := fs.ReadFile(examples.FS, "findings.json")
	if err != nil {
		return fmt.Errorf("playground: example data: %w", err)
	}
	ext, err := findings.ParseExternal("examples/findings.json", data)
	if err != nil {
		return fmt.Errorf("playground: %w", err)
	}
	if _, err := findings.RecordExternal(ctx, st, tenantID, "examples/findings.json", ext, now()); err != nil {
		return fmt.Errorf("playground: record examples/findings.json: %w", err)
	}
	return nil
}

// offsetClock is the bot's clock in the playground: the real time plus
// however far the visitor has run it forward.
type offsetClock struct {
	base   func() time.Time
	offset atomic.Int64 // nanoseconds
}

func (c *offsetClock) Now() time.Time { return c.base().Add(time.Duration(c.offset.Load())) }

// playgroundControls move the bot's clock and run its scheduler: the same
// scheduler `run` built (handed over by Main.schedulerStarted), ticked at
// once instead of on its 30 s timer.
type playgroundControls struct {
	clock    *offsetClock
	tenantID string

	mu    sync.Mutex // one move or run at a time, so each tick sees its own time
	sched *schedule.Scheduler
}

var _ playground.Controls = (*playgroundControls)(nil)

func (c *playgroundControls) Now() time.Time { return c.clock.Now() }

func (c *playgroundControls) scheduler() (*schedule.Scheduler, error) {
	if c.sched == nil {
		return nil, errors.New("the scheduler has not started")
	}
	return c.sched, nil
}

func (c *playgroundControls) Advance(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, err := c.scheduler()
	if err != nil {
		return err
	}
	c.clock.offset.Add(int64(d))
	return s.Tick(ctx)
}

func (c *playgroundControls) RunNow(ctx context.Context, job string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, err := c.scheduler()
	if err != nil {
		return err
	}
	return s.RunNow(ctx, c.tenantID, job)
}

func (c *playgroundControls) Jobs() []playground.Job {
	return []playground.Job{
		{Name: digest.Job, Label: "Send the findings digest now"},
		{Name: reviews.JobReminders, Label: "Send review reminders now"},
	}
}
