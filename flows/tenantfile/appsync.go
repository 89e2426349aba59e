package tenantfile

import (
	"context"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"github.com/accessbot/accessbot/connectors/catalog"
	"github.com/accessbot/accessbot/flows/dirsync"
	"github.com/accessbot/accessbot/flows/schedule"
	"github.com/accessbot/accessbot/store"
)

// AppSync is an application's "sync:": when its directory connector
// (azuread, scim) is read. Cron is what the scheduler runs, "every" made
// into one.
type AppSync struct {
	Every    time.Duration // 0 when cron was given
	Cron     string
	TimeZone string
	at       loc
}

// everyChoices are the intervals "every:" takes: each divides a day, so
// the slots are the same wall-clock times every day.
const everyChoices = "15m, 20m, 30m, 1h, 2h, 3h, 4h, 6h, 8h, 12h or 24h"

// everyCron turns an interval that divides a day into a cron expression.
// Hourly and longer intervals start at a minute picked from the
// application's name, so a tenant's syncs do not all start at once.
func everyCron(every time.Duration, app string) (string, error) {
	h := fnv.New32a()
	_, _ = h.Write([]byte(app))
	minute := h.Sum32() % 60
	switch {
	case every >= time.Minute && every < time.Hour && every%time.Minute == 0 && time.Hour%every == 0 && every >= 15*time.Minute:
		return fmt.Sprintf("*/%d * * * *", int(every/time.Minute)), nil
	case every == 24*time.Hour:
		return fmt.Sprintf("%d %d * * *", minute, (h.Sum32()/60)%24), nil
	case every >= time.Hour && every%time.Hour == 0 && (24*time.Hour)%every == 0:
		n := int(every / time.Hour)
		if n == 1 {
			return fmt.Sprintf("%d * * * *", minute), nil
		}
		return fmt.Sprintf("%d */%d * * *", minute, n), nil
	}
	return "", fmt.Errorf("%s does not divide a day: use %s, or give cron:", every, everyChoices)
}

// decodeAppSync reads applications[].sync: {every: 6h} or {cron: "0 */6 * * *", time_zone: Europe/Berlin}.
func (d *decoder) decodeAppSync(m fields, a *Application) {
	if !m.has("sync") {
		return
	}
	at := m.loc("sync")
	sm := d.mapping(m.vals["sync"], at, "every", "cron", "time_zone")
	s := &AppSync{Cron: d.str(sm, "cron"), TimeZone: d.str(sm, "time_zone"), at: at}
	if s.TimeZone == "" {
		s.TimeZone = "UTC"
	}
	every := d.str(sm, "every")
	switch {
	case every != "" && s.Cron != "":
		d.errorf(at.line, at.path, "give every: or cron:, not both")
	case every == "" && s.Cron == "":
		d.errorf(at.line, at.path, "give every: (e.g. 6h) or cron: (e.g. \"0 */6 * * *\")")
	case every != "":
		l := sm.loc("every")
		dur, err := time.ParseDuration(every)
		if err != nil {
			d.errorf(l.line, l.path, "%q is not a duration: use %s", every, everyChoices)
			break
		}
		s.Every = dur
		if s.Cron, err = everyCron(dur, a.Name); err != nil {
			d.errorf(l.line, l.path, "%v", err)
		}
	default:
		if _, err := schedule.ParseExpr(s.Cron); err != nil {
			l := sm.loc("cron")
			d.errorf(l.line, l.path, "%v", err)
		}
	}
	if _, err := schedule.LoadZone(s.TimeZone); err != nil {
		l := sm.loc("time_zone")
		d.errorf(l.line, l.path, "%v", err)
	}
	if a.Connector == "manual" {
		d.errorf(at.line, at.path, "a sync needs a directory connector: set connector: to an azuread or scim connector of connectors:")
	}
	a.Sync = s
}

// checkSyncConnectors: once connectors: is read, an application that syncs
// must name a connector of type azuread or scim (or, with no connector of
// that name, the type itself).
func (d *decoder) checkSyncConnectors(f *File) {
	if f.Connectors == nil {
		return // connectors are kept from the store; the sync reports a mismatch
	}
	types := map[string]string{}
	for _, c := range f.Connectors {
		types[c.Name] = c.Type
	}
	for _, a := range f.Applications {
		if a.Sync == nil || a.Connector == "manual" {
			continue
		}
		typ, ok := types[a.Connector]
		if !ok {
			typ = a.Connector
		}
		if typ != catalog.AzureAD && typ != catalog.SCIM {
			d.errorf(a.Sync.at.line, a.Sync.at.path, "connector %q is not an azuread or scim connector: only those sync (others take accessbot import or the upload API)", a.Connector)
		}
	}
}

// planSyncs keeps one schedule per syncing application (job
// connector_sync:NAME) and deletes those of applications that no longer
// sync or are deleted.
func (p *planner) planSyncs(ctx context.Context) error {
	tid := p.tenant.ID
	current, err := p.q.ListSchedules(ctx, tid)
	if err != nil {
		return fmt.Errorf("list schedules of tenant %s: %w", p.tenant.Slug, err)
	}
	byJob := map[string]*store.Schedule{}
	for i := range current {
		if strings.HasPrefix(current[i].Job, dirsync.JobPrefix) {
			byJob[current[i].Job] = &current[i]
		}
	}
	inFile := map[string]bool{}
	for _, fa := range p.f.Applications {
		inFile[strings.ToLower(fa.Name)] = true
		if fa.Sync == nil {
			continue
		}
		job := dirsync.JobName(fa.Name)
		want := &store.Schedule{TenantID: tid, Job: job, Cron: fa.Sync.Cron, TimeZone: fa.Sync.TimeZone}
		cur := byJob[job]
		delete(byJob, job)
		var df diff
		op := OpUpdate
		if cur == nil {
			op = OpCreate
			df = diff{"cron " + quote(fa.Sync.Cron), "time_zone " + fa.Sync.TimeZone}
		} else {
			df.str("cron", cur.Cron, fa.Sync.Cron)
			df.ref("time_zone", cur.TimeZone, fa.Sync.TimeZone)
		}
		if len(df) == 0 {
			continue
		}
		c := p.change(&Change{Op: op, Kind: "sync", Name: fa.Name, Fields: df, at: fa.Sync.at, before: cur, after: want,
			objectID: func() string { return job }})
		c.add(phaseSchedules, 0, func(ctx context.Context, q store.Queries) error { return q.PutSchedule(ctx, want) })
	}
	for _, job := range sortedJobs(byJob) {
		app := strings.TrimPrefix(job, dirsync.JobPrefix)
		if !inFile[strings.ToLower(app)] && !p.f.Prune.Applications {
			continue // the application is kept, and so is its sync
		}
		cur := byJob[job]
		c := p.change(&Change{Op: OpDelete, Kind: "sync", Name: app, at: loc{path: "applications"}, before: cur,
			objectID: func() string { return job }})
		c.add(phaseSchedules, 1, func(ctx context.Context, q store.Queries) error { return q.DeleteSchedule(ctx, tid, job) })
	}
	return nil
}
