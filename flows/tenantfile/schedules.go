package tenantfile

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/accessbot/accessbot/flows/dirsync"
	"github.com/accessbot/accessbot/flows/schedule"
	"github.com/accessbot/accessbot/store"
)

// KnownJobs are the job kinds a tenant file may schedule.
var KnownJobs = []string{"findings_digest", "review_reminders"}

var channelIDRE = regexp.MustCompile(`^[CG][A-Z0-9]{2,}$`)

// Schedule is one entry of "schedules:".
type Schedule struct {
	Job      string
	Cron     string
	TimeZone string
	at       loc
}

// Alerts is the "alerts:" section: where digests and critical findings go.
type Alerts struct {
	Channels []string
	AllClear bool
	at       loc
}

func (d *decoder) decodeSchedules(top fields, f *File) {
	if top.has("alerts") {
		l := top.loc("alerts")
		m := d.mapping(top.vals["alerts"], l, "channels", "all_clear")
		a := &Alerts{AllClear: true, at: l}
		if m.has("all_clear") {
			a.AllClear = d.boolean(m, "all_clear")
		}
		cl := m.loc("channels")
		seen := map[string]bool{}
		for i, n := range d.seq(m.vals["channels"], cl) {
			n = resolve(n)
			p := index(cl.path, i)
			v := strings.TrimSpace(n.Value)
			switch {
			case n.Kind != yaml.ScalarNode:
				d.errorf(n.Line, p, "want a channel id, found %s", kindName(n))
			case !channelIDRE.MatchString(v):
				d.errorf(n.Line, p, "%q is not a Slack channel id (like C0123ABCD; find it in the channel's details)", v)
			case seen[v]:
				d.errorf(n.Line, p, "duplicate channel %q", v)
			default:
				seen[v] = true
				a.Channels = append(a.Channels, v)
			}
		}
		f.Alerts = a
	}
	if top.vals["schedules"] == nil {
		return
	}
	sl := top.loc("schedules")
	f.Schedules = []Schedule{}
	seen := map[string]int{}
	for i, n := range d.seq(top.vals["schedules"], sl) {
		at := loc{line: resolve(n).Line, path: index("schedules", i)}
		m := d.mapping(n, at, "job", "cron", "time_zone")
		s := Schedule{Job: d.required(m, "job"), Cron: d.required(m, "cron"), TimeZone: d.required(m, "time_zone"), at: at}
		jl := m.loc("job")
		if s.Job != "" && !slices.Contains(KnownJobs, s.Job) {
			d.errorf(jl.line, jl.path, "%q is not a job: want one of %s", s.Job, strings.Join(KnownJobs, ", "))
		}
		if first, dup := seen[s.Job]; dup && s.Job != "" {
			d.errorf(jl.line, jl.path, "duplicate schedule for %q (first at line %d)", s.Job, first)
		}
		seen[s.Job] = jl.line
		if s.Cron != "" {
			if _, err := schedule.ParseExpr(s.Cron); err != nil {
				l := m.loc("cron")
				d.errorf(l.line, l.path, "%v", err)
			}
		}
		if s.TimeZone != "" {
			if _, err := schedule.LoadZone(s.TimeZone); err != nil {
				l := m.loc("time_zone")
				d.errorf(l.line, l.path, "%v", err)
			}
		}
		f.Schedules = append(f.Schedules, s)
	}
}

// planSchedules makes the store's schedules those of the file (when it has
// a schedules: key) and its alert settings those of alerts: (when present).
func (p *planner) planSchedules(ctx context.Context) error {
	tid := p.tenant.ID
	if a := p.f.Alerts; a != nil {
		cur, err := p.q.GetAlertSettings(ctx, tid)
		if notFound(err) {
			cur, err = nil, nil
		}
		if err != nil {
			return fmt.Errorf("read alert settings of tenant %s: %w", p.tenant.Slug, err)
		}
		want := &store.AlertSettings{TenantID: tid, Channels: a.Channels, AllClear: a.AllClear}
		var df diff
		if cur == nil {
			df = diff{"channels " + channelList(a.Channels), fmt.Sprintf("all_clear %v", a.AllClear)}
		} else {
			df.ref("channels", channelList(cur.Channels), channelList(a.Channels))
			df.ref("all_clear", fmt.Sprint(cur.AllClear), fmt.Sprint(a.AllClear))
		}
		if len(df) > 0 {
			op := OpUpdate
			if cur == nil {
				op = OpCreate
			}
			c := p.change(&Change{Op: op, Kind: "alerts", Name: p.tenant.Slug, Fields: df, at: a.at, before: cur, after: want,
				objectID: func() string { return tid }})
			c.add(phaseSchedules, 0, func(ctx context.Context, q store.Queries) error { return q.PutAlertSettings(ctx, want) })
		}
	}
	if p.f.Schedules == nil {
		return nil
	}
	current, err := p.q.ListSchedules(ctx, tid)
	if err != nil {
		return fmt.Errorf("list schedules of tenant %s: %w", p.tenant.Slug, err)
	}
	byJob := map[string]*store.Schedule{}
	for i := range current {
		if !strings.HasPrefix(current[i].Job, dirsync.JobPrefix) { // applications[].sync's (appsync.go)
			byJob[current[i].Job] = &current[i]
		}
	}
	for _, fs := range p.f.Schedules {
		want := &store.Schedule{TenantID: tid, Job: fs.Job, Cron: fs.Cron, TimeZone: fs.TimeZone}
		cur := byJob[fs.Job]
		delete(byJob, fs.Job)
		var df diff
		op := OpUpdate
		if cur == nil {
			op = OpCreate
			df = diff{"cron " + quote(fs.Cron), "time_zone " + fs.TimeZone}
		} else {
			df.str("cron", cur.Cron, fs.Cron)
			df.ref("time_zone", cur.TimeZone, fs.TimeZone)
		}
		if len(df) == 0 {
			continue
		}
		id := fs.Job
		c := p.change(&Change{Op: op, Kind: "schedule", Name: fs.Job, Fields: df, at: fs.at, before: cur, after: want,
			objectID: func() string { return id }})
		c.add(phaseSchedules, 0, func(ctx context.Context, q store.Queries) error { return q.PutSchedule(ctx, want) })
	}
	for _, job := range sortedJobs(byJob) {
		cur := byJob[job]
		c := p.change(&Change{Op: OpDelete, Kind: "schedule", Name: job, at: loc{line: 0, path: "schedules"}, before: cur,
			objectID: func() string { return job }})
		c.add(phaseSchedules, 1, func(ctx context.Context, q store.Queries) error { return q.DeleteSchedule(ctx, tid, job) })
	}
	return nil
}

func channelList(chs []string) string {
	if len(chs) == 0 {
		return "[]"
	}
	return "[" + strings.Join(chs, " ") + "]"
}

func sortedJobs(m map[string]*store.Schedule) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
