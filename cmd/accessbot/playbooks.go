package main

import (
	"database/sql"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot/connectors/outbound"
	"github.com/accessbot/accessbot/flows/playbooks"
	"github.com/accessbot/accessbot/handlers"
	"github.com/accessbot/accessbot/internal/config"
	"github.com/accessbot/accessbot/jobs"
	"github.com/accessbot/accessbot/store"
)

// newPlaybooks builds the playbook service of cfg; its workers go on the
// process's job queue (SetEnqueuer once the queue exists).
func newPlaybooks(cfg *config.Config, st store.Store, keys playbooks.Keys, now func() time.Time, log zerolog.Logger) *playbooks.Service {
	return playbooks.New(playbooks.Config{Store: st, Keys: keys, HTTP: outbound.Options{Timeout: cfg.Playbooks.Timeout},
		MaxAttempts: cfg.Playbooks.MaxAttempts, Clock: now, Log: log})
}

// cliPlaybooks is the playbook service of a command that changes data but
// works no jobs (an inventory upload): it queues deliveries in the store's
// database, in the command's transaction, for `run` to deliver.
func (m *Main) cliPlaybooks(st store.Store, log zerolog.Logger) (*playbooks.Service, error) {
	cfg, _, err := m.boot()
	if err != nil {
		return nil, err
	}
	db, ok := st.(interface{ DB() *sql.DB })
	if !ok {
		return nil, fmt.Errorf("playbooks need a SQL store, not %T", st)
	}
	pb := newPlaybooks(cfg, st, nil, m.Now, log)
	workers := river.NewWorkers()
	pb.AddWorkers(workers)
	q, err := jobs.New(jobs.Config{Driver: cfg.Store.Driver, DB: db.DB(), Workers: workers, Log: log})
	if err != nil {
		return nil, fmt.Errorf("playbooks: %w", err)
	}
	pb.SetEnqueuer(q)
	return pb, nil
}

// playbookMenus offers and runs playbooks by hand from Slack ("Run
// playbook" on findings, requests and review items); nil without the
// playbook service.
func (rt *Runtime) playbookMenus() *handlers.PlaybookMenus {
	if rt.Playbooks == nil {
		return nil
	}
	return handlers.NewPlaybookMenus(rt.Playbooks, rt.Store, rt.Log)
}
