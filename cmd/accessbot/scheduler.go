package main

import (
	"context"
	"time"

	"github.com/accessbot/accessbot/connectors/dirsource"
	"github.com/accessbot/accessbot/flows/digest"
	"github.com/accessbot/accessbot/flows/dirsync"
	"github.com/accessbot/accessbot/flows/findings"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/flows/schedule"
	"github.com/accessbot/accessbot/handlers"
)

// startScheduler runs the per-tenant schedules (the findings digest, the
// applications' connector syncs, and
// critical-finding alerts and housekeeping on every tick) in rt's group. Every replica runs
// one; slot claims in the store make each slot fire once. reqs, when set,
// gets its approvals Tick (reminders, escalation, expiry) on every tick.
func (m *Main) startScheduler(rt *Runtime, reqs *requests.Service) error {
	s, err := schedule.New(schedule.Config{Store: rt.Store, Clock: rt.Now, Log: rt.Log})
	if err != nil {
		return err
	}
	if err := rt.registerReviews(s); err != nil { // reviews.go
		return err
	}
	// Each application's applications[].sync: its connector_sync:APP
	// schedule syncs it (Entra ID, SCIM), once per slot across replicas;
	// each written snapshot is a sync for the playbooks (recurrence).
	if err := s.Register(dirsync.JobPrefix, rt.syncJob()); err != nil {
		return err
	}
	// Overtaken slots closed as skipped, sent outbox rows pruned after 30 days.
	s.Every("housekeeping", schedule.NewHousekeeping(rt.Store, schedule.DefaultRetention, time.Hour, rt.Log).Run)
	if reqs != nil {
		s.Every("approvals_tick", func(ctx context.Context, now time.Time) error {
			_, err := reqs.Tick(ctx, now)
			return err
		})
	}
	if rt.Requests != nil && rt.Requests.Grants != nil {
		// Expired grants start their deprovisioning (exactly one replica per
		// grant: a claim on its row) and expiry notices go out.
		s.Every("grants_tick", rt.Requests.Grants.Tick)
	}
	if rt.Requests != nil && rt.Requests.Purposes != nil {
		// Purpose sessions past their end (or stopped) start their
		// deprovisioning: exactly one replica per session (a claim on its row).
		s.Every("purposes_tick", rt.Requests.Purposes.Tick)
	}
	if clients := rt.chatClients(); clients != nil {
		n := handlers.NewDigest(handlers.DigestConfig{Store: rt.Store, Clients: clients, Actions: rt.digestActions(), Playbooks: rt.playbookMenus(), Now: rt.Now, Log: rt.Log})
		svc := digest.New(rt.Store, n, digest.Config{Clock: rt.Now, Log: rt.Log})
		if err := s.Register(digest.Job, svc); err != nil {
			return err
		}
		s.Every("critical_alerts", svc.AlertCritical)
	} else {
		rt.Log.Warn().Msg("slack is not configured: findings digests and alerts are not sent")
	}
	if m.schedulerStarted != nil {
		m.schedulerStarted(s)
	}
	rt.Go("scheduler", s.Run)
	return nil
}

// syncJob is the scheduled connector sync; the playbooks hear of each
// snapshot it writes (sync.completed, finding.opened).
func (rt *Runtime) syncJob() *dirsource.Job {
	j := &dirsource.Job{Store: rt.Store, Keys: rt.Keyring, Rules: findings.NewEngine(rt.Now, rt.Log), Clock: rt.Now, Log: rt.Log}
	if rt.Playbooks != nil {
		j.AfterImport, j.FindingsOpened = rt.Playbooks.AfterImport, rt.Playbooks.FindingsOpened
	}
	return j
}
