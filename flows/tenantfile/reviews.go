package tenantfile

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/reviews"
	"github.com/accessbot/accessbot/store"
)

// maxGrace bounds the escalation grace period: a longer one is a typo.
const maxGrace = 90 * 24 * time.Hour

// Reviews is the "reviews:" section, the tenant's access-review reminder
// timing; a key left out takes the default (7, 3 and 1 days; 2d):
//
//	reviews:
//	  reminder_days: [7, 3, 1]   # days before the due date; 0 is the due day
//	  grace: 48h                 # after the due date, before escalation; 0 escalates at once
type Reviews struct {
	RemindDays []int // most days first
	Grace      time.Duration
	at         loc
}

func (d *decoder) decodeReviews(top fields, f *File) {
	if !top.has("reviews") {
		return
	}
	l := top.loc("reviews")
	m := d.mapping(top.vals["reviews"], l, "reminder_days", "grace")
	def := reviews.DefaultPolicy()
	r := &Reviews{RemindDays: def.RemindDays, Grace: def.Grace, at: l}
	if m.vals["reminder_days"] != nil {
		rl := m.loc("reminder_days")
		r.RemindDays = []int{}
		seen := map[int]bool{}
		for i, n := range d.seq(m.vals["reminder_days"], rl) {
			n = resolve(n)
			p := index(rl.path, i)
			v, err := strconv.Atoi(strings.TrimSpace(n.Value))
			switch {
			case n.Kind != yaml.ScalarNode || err != nil:
				d.errorf(n.Line, p, "want a whole number of days before the due date, found %s", kindName(n))
			case v < 0 || v > 365:
				d.errorf(n.Line, p, "%d: want 0 (the due day) to 365 days before the due date", v)
			case seen[v]:
				d.errorf(n.Line, p, "duplicate day %d", v)
			default:
				seen[v] = true
				r.RemindDays = append(r.RemindDays, v)
			}
		}
		slices.SortFunc(r.RemindDays, func(a, b int) int { return b - a })
	}
	if m.vals["grace"] != nil {
		gl := m.loc("grace")
		s := d.str(m, "grace")
		dur, err := ParseDuration(s)
		switch {
		case s == "0":
			r.Grace = 0
		case err != nil:
			d.errorf(gl.line, gl.path, "%q is not a duration: use e.g. 48h or 2d (0 escalates at the due date)", s)
		case dur > maxGrace:
			d.errorf(gl.line, gl.path, "%q: at most %s", s, FormatDuration(maxGrace))
		default:
			r.Grace = dur
		}
	}
	f.Reviews = r
}

func daysString(days []int) string {
	s := make([]string, len(days))
	for i, d := range days {
		s[i] = strconv.Itoa(d)
	}
	return "[" + strings.Join(s, " ") + "]"
}

func graceString(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	return FormatDuration(d)
}

// planReviews makes the tenant's review settings those of reviews: (when present).
func (p *planner) planReviews(ctx context.Context) error {
	r := p.f.Reviews
	if r == nil {
		return nil
	}
	tid := p.tenant.ID
	cur, err := p.q.GetReviewSettings(ctx, tid)
	if notFound(err) {
		cur, err = nil, nil
	}
	if err != nil {
		return fmt.Errorf("read review settings of tenant %s: %w", p.tenant.Slug, err)
	}
	want := &accessbot.ReviewSettings{TenantID: tid, RemindDays: r.RemindDays, Grace: r.Grace}
	var df diff
	op := OpUpdate
	if cur == nil {
		op = OpCreate
		df = diff{"reminder_days " + daysString(r.RemindDays), "grace " + graceString(r.Grace)}
	} else {
		df.ref("reminder_days", daysString(cur.RemindDays), daysString(r.RemindDays))
		df.ref("grace", graceString(cur.Grace), graceString(r.Grace))
	}
	if len(df) == 0 {
		return nil
	}
	c := p.change(&Change{Op: op, Kind: "reviews", Name: p.tenant.Slug, Fields: df, at: r.at, before: cur, after: want,
		objectID: func() string { return tid }})
	c.add(phaseSchedules, 0, func(ctx context.Context, q store.Queries) error { return q.PutReviewSettings(ctx, want) })
	return nil
}

// noteReminders says when the tenant's review reminders will run on the
// default schedule: it has campaigns (declared or active) and no
// review_reminders schedule, after this apply.
func (p *planner) noteReminders(ctx context.Context) error {
	tid := p.tenant.ID
	hasSchedule := false
	if p.f.Schedules != nil {
		hasSchedule = slices.ContainsFunc(p.f.Schedules, func(s Schedule) bool { return s.Job == reviews.JobReminders })
	} else {
		cur, err := p.q.ListSchedules(ctx, tid)
		if err != nil {
			return fmt.Errorf("list schedules of tenant %s: %w", p.tenant.Slug, err)
		}
		hasSchedule = slices.ContainsFunc(cur, func(s store.Schedule) bool { return s.Job == reviews.JobReminders })
	}
	if hasSchedule {
		return nil
	}
	campaigns := len(p.f.Campaigns) > 0
	if p.f.Campaigns == nil {
		defs, err := p.q.ListCampaignDefinitions(ctx, tid)
		if err != nil {
			return fmt.Errorf("list campaigns of tenant %s: %w", p.tenant.Slug, err)
		}
		campaigns = len(defs) > 0
	}
	if !campaigns {
		active, err := p.q.ListCampaigns(ctx, tid, accessbot.CampaignActive)
		if err != nil {
			return fmt.Errorf("list active campaigns of tenant %s: %w", p.tenant.Slug, err)
		}
		campaigns = len(active) > 0
	}
	if campaigns {
		p.notes = append(p.notes, fmt.Sprintf("review reminders: default schedule %s %s (add a %s schedule to choose the time and zone)",
			reviews.DefaultReminderCron, reviews.DefaultReminderZone, reviews.JobReminders))
	}
	return nil
}
