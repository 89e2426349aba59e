package reviews

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/schedule"
	"github.com/accessbot/accessbot/store"
)

// JobReminders is the scheduler job kind that runs Tick on the tenant's
// schedule (e.g. "0 9 * * 1-5" in Europe/Berlin): its time zone decides
// which local day a reminder belongs to.
const JobReminders = "review_reminders"

// DefaultReminderCron and DefaultReminderZone are the reminder schedule of
// a tenant with active campaigns but no JobReminders schedule: daily at
// 09:00 UTC. UTC, because nothing else about the tenant names its zone;
// a tenant that wants its own gives a review_reminders schedule.
const (
	DefaultReminderCron = "0 9 * * *"
	DefaultReminderZone = "UTC"
)

// launchJobPrefix + definition name is the slot key of a recurring launch.
const launchJobPrefix = "review_campaign:"

// launchLease is how long a launch claim holds before another replica may retry it.
const launchLease = 5 * time.Minute

// TickResult counts what one Tick did.
type TickResult struct {
	Launched  int
	Reminded  int
	Escalated int
}

// Register adds the review jobs to a scheduler: JobReminders for tenant
// schedules, and a launch check of every definition on every tick (each
// definition slot launches once: its slot is claimed like a schedule's,
// and the campaign row is unique per definition and slot).
func (s *Service) Register(sch *schedule.Scheduler) error {
	if err := sch.Register(JobReminders, schedule.JobFunc(func(ctx context.Context, r schedule.Run) error {
		_, err := s.Tick(ctx, r.TenantID, r.Slot)
		return err
	})); err != nil {
		return err
	}
	if err := sch.Default(JobReminders, DefaultReminderCron, DefaultReminderZone, s.remindersApply); err != nil {
		return err
	}
	sch.Every("review_launches", func(ctx context.Context, now time.Time) error {
		_, err := s.LaunchDue(ctx, now)
		return err
	})
	return nil
}

// remindersApply is when the default reminder schedule applies to a
// tenant: while it has active campaigns, from the first one's launch (so a
// campaign launched after today's slot is not reminded the same day).
func (s *Service) remindersApply(ctx context.Context, tenantID string) (time.Time, bool, error) {
	camps, err := s.st.ListCampaigns(ctx, tenantID, accessbot.CampaignActive)
	if err != nil || len(camps) == 0 {
		return time.Time{}, false, err
	}
	since := camps[0].LaunchedAt
	for _, c := range camps[1:] {
		if c.LaunchedAt.Before(since) {
			since = c.LaunchedAt
		}
	}
	return since, true, nil
}

// zone is the tenant's reminder time zone (DefaultReminderZone without a schedule).
func (s *Service) zone(ctx context.Context, tenantID string) (*time.Location, error) {
	scheds, err := s.st.ListSchedules(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	for _, sc := range scheds {
		if sc.Job == JobReminders {
			loc, err := schedule.LoadZone(sc.TimeZone)
			if err != nil {
				return nil, err
			}
			return loc, nil
		}
	}
	return schedule.LoadZone(DefaultReminderZone)
}

// PolicyFor is the tenant's reminder timing: its review settings (the
// tenant file's reviews: section), else the service's default policy.
func (s *Service) PolicyFor(ctx context.Context, tenantID string) (Policy, error) {
	st, err := s.st.GetReviewSettings(ctx, tenantID)
	if errors.Is(err, accessbot.ErrNotFound) {
		return s.policy, nil
	}
	if err != nil {
		return Policy{}, fmt.Errorf("review settings: %w", err)
	}
	return Policy{RemindDays: slices.Clone(st.RemindDays), Grace: st.Grace}, nil
}

// dayOf is t's local calendar date, as midnight UTC (so days subtract exactly).
func dayOf(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// Tick runs one reminder slot of a tenant at now: it launches due
// definitions, reminds reviewers with pending items on the configured days
// before the due date and daily once overdue, and escalates each late
// reviewer once after the grace period. Each notice is recorded after it is
// sent (see notice); a failed send fails the Tick, so the slot is retried.
func (s *Service) Tick(ctx context.Context, tenantID string, now time.Time) (TickResult, error) {
	var res TickResult
	now = now.UTC()
	n, err := s.launchDue(ctx, tenantID, now)
	res.Launched = n
	errs := []error{err}
	loc, err := s.zone(ctx, tenantID)
	if err != nil {
		return res, fmt.Errorf("review tick tenant %s: %w", tenantID, err)
	}
	pol, err := s.PolicyFor(ctx, tenantID)
	if err != nil {
		return res, fmt.Errorf("review tick tenant %s: %w", tenantID, err)
	}
	camps, err := s.st.ListCampaigns(ctx, tenantID, accessbot.CampaignActive)
	if err != nil {
		return res, fmt.Errorf("review tick tenant %s: %w", tenantID, err)
	}
	for i := range camps {
		r, e, err := s.tickCampaign(ctx, &camps[i], pol, loc, now)
		res.Reminded += r
		res.Escalated += e
		errs = append(errs, err)
	}
	return res, errors.Join(errs...)
}

func (s *Service) tickCampaign(ctx context.Context, c *accessbot.Campaign, pol Policy, loc *time.Location, now time.Time) (reminded, escalated int, err error) {
	items, err := s.st.ListReviewItems(ctx, c.TenantID, accessbot.ReviewItemFilter{CampaignID: c.ID, Status: accessbot.ReviewPending})
	if err != nil {
		return 0, 0, fmt.Errorf("campaign %s: %w", c.ID, err)
	}
	if len(items) == 0 {
		// Two last decisions committed at once can each still see the
		// other's item pending; the tick closes what they left open.
		switch err := s.st.CompleteCampaign(ctx, c.TenantID, c.ID, now); {
		case errors.Is(err, accessbot.ErrStale):
		case err != nil:
			return 0, 0, fmt.Errorf("campaign %s: %w", c.ID, err)
		default:
			if err := audit(ctx, s.st, c.TenantID, now, actorSystem, ActionCompleted, AuditCampaign, c.ID, nil,
				map[string]string{"status": string(accessbot.CampaignCompleted)}); err != nil {
				return 0, 0, err
			}
		}
		return 0, 0, nil
	}
	pending := map[string]int{}
	var reviewers []string
	for _, it := range items {
		if pending[it.ReviewerID] == 0 {
			reviewers = append(reviewers, it.ReviewerID)
		}
		pending[it.ReviewerID]++
	}
	today := dayOf(now, loc)
	daysLeft := int(dayOf(c.DueAt, loc).Sub(today).Hours() / 24)
	overdue := !now.Before(c.DueAt)
	var key string
	switch {
	case overdue:
		key = "overdue:" + today.Format(time.DateOnly)
	case slices.Contains(pol.RemindDays, daysLeft):
		key = "remind:" + today.Format(time.DateOnly)
	}
	escalate := overdue && !now.Before(c.DueAt.Add(pol.Grace))
	// Each reviewer's notices are independent: a few go at once, so the
	// fan-out runs at the Slack client's pacing rather than at the speed
	// of one DM's store reads and writes. Results are kept per reviewer and
	// joined in order.
	type outcome struct {
		reminded, escalated bool
		to                  []string
		errs                []error
	}
	out := make([]outcome, len(reviewers))
	eachAtOnce(len(reviewers), sendWorkers, func(i int) {
		rid, o := reviewers[i], &out[i]
		if key != "" {
			first, err := s.notice(ctx, c, rid, key, now, func() error {
				return paced(ctx, func() error { return s.notify.Remind(ctx, c, rid, key, pending[rid], overdue) })
			})
			if err != nil {
				o.errs = append(o.errs, fmt.Errorf("remind %s: %w", rid, err))
			} else if first {
				o.reminded = true
			}
		}
		if !escalate {
			return
		}
		var to []string
		first, err := s.notice(ctx, c, rid, "escalate", now, func() error {
			var err error
			if to, err = s.escalationTargets(ctx, c.TenantID, rid, now); err != nil {
				return err
			}
			return paced(ctx, func() error { return s.notify.Escalated(ctx, c, rid, pending[rid], to) })
		})
		if err != nil {
			o.errs = append(o.errs, fmt.Errorf("escalate %s: %w", rid, err))
			return
		}
		if !first {
			return
		}
		o.escalated, o.to = true, to
		if err := audit(ctx, s.st, c.TenantID, now, actorSystem, ActionEscalated, AuditCampaign, c.ID, nil,
			map[string]any{"reviewer_id": rid, "pending": pending[rid], "notified": to}); err != nil {
			o.errs = append(o.errs, err)
		}
	})
	var errs []error
	var notified, escalatedTo []string
	for i, o := range out {
		if o.reminded {
			reminded++
			notified = append(notified, reviewers[i])
		}
		if o.escalated {
			escalated++
			escalatedTo = append(escalatedTo, o.to...)
		}
		errs = append(errs, o.errs...)
	}
	if len(notified) > 0 {
		if err := audit(ctx, s.st, c.TenantID, now, actorSystem, ActionReminded, AuditCampaign, c.ID, nil,
			map[string]any{"notified": notified, "overdue": overdue, "day": today.Format(time.DateOnly)}); err != nil {
			errs = append(errs, err)
		}
		s.log.Info().Str("tenant", c.TenantID).Str("campaign", c.ID).Strs("notified", notified).Bool("overdue", overdue).Msg("reviewers reminded")
	}
	if escalated > 0 {
		s.log.Info().Str("tenant", c.TenantID).Str("campaign", c.ID).Strs("to", escalatedTo).Msg("late reviewers escalated")
	}
	return reminded, escalated, errors.Join(errs...)
}

// sendWorkers is how many of a fan-out's DMs are on their way at once.
const sendWorkers = 8

// eachAtOnce calls fn(0) … fn(n-1), up to workers at a time, and returns
// when all have returned.
func eachAtOnce(n, workers int, fn func(i int)) {
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(n, workers) {
		wg.Go(func() {
			for i := range next {
				fn(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// notice sends notice key to rid unless it is marked sent, then marks it;
// first is true for the run whose mark won. The mark follows the send, so a
// failed send or a crash before the mark leaves the notice due and the
// slot's retry sends it; the notifier's delivery outbox keeps that retry
// from posting twice. A send error is returned, so the slot is retried.
func (s *Service) notice(ctx context.Context, c *accessbot.Campaign, rid, key string, now time.Time, send func() error) (first bool, err error) {
	marked, err := s.st.ReviewNoticeMarked(ctx, c.TenantID, c.ID, rid, key)
	if err != nil || marked {
		return false, err
	}
	if err := send(); err != nil {
		return false, err
	}
	return s.st.MarkReviewNotice(ctx, c.TenantID, c.ID, rid, key, now)
}

// escalationTargets is the reviewer's active manager, else the tenant's admins.
func (s *Service) escalationTargets(ctx context.Context, tenantID, reviewerID string, now time.Time) ([]string, error) {
	dir := newDirectory(s.st, tenantID, now)
	u, err := dir.user(ctx, reviewerID)
	if err != nil {
		return nil, err
	}
	if u != nil && u.ManagerID != "" {
		m, err := dir.user(ctx, u.ManagerID)
		if err != nil {
			return nil, err
		}
		if m != nil {
			return []string{m.ID}, nil
		}
	}
	admins, err := dir.adminIDs(ctx)
	if err != nil {
		return nil, err
	}
	out := slices.DeleteFunc(slices.Clone(admins), func(id string) bool { return id == reviewerID })
	if len(out) == 0 {
		out = admins
	}
	return out, nil
}

// LaunchDue launches every tenant's due definitions (for Scheduler.Every).
func (s *Service) LaunchDue(ctx context.Context, now time.Time) (int, error) {
	tenants, err := s.st.ListTenants(ctx)
	if err != nil {
		return 0, fmt.Errorf("launch due campaigns: %w", err)
	}
	var errs []error
	total := 0
	for _, t := range tenants {
		n, err := s.launchDue(ctx, t.ID, now)
		total += n
		errs = append(errs, err)
	}
	return total, errors.Join(errs...)
}

// launchDue launches the tenant's one-off definitions not launched yet and
// the latest due slot of each recurring one. A recurring slot is claimed in
// the scheduler's slot table first, so one replica launches it.
func (s *Service) launchDue(ctx context.Context, tenantID string, now time.Time) (int, error) {
	defs, err := s.st.ListCampaignDefinitions(ctx, tenantID)
	if err != nil {
		return 0, fmt.Errorf("launch due campaigns of %s: %w", tenantID, err)
	}
	var errs []error
	launched := 0
	for _, d := range defs {
		ok, err := s.launchDefinition(ctx, &d, now)
		if err != nil {
			s.log.Error().Err(err).Str("tenant", tenantID).Str("definition", d.Name).Msg("campaign launch failed")
			errs = append(errs, fmt.Errorf("definition %s: %w", d.Name, err))
		}
		if ok {
			launched++
		}
	}
	return launched, errors.Join(errs...)
}

func (s *Service) launchDefinition(ctx context.Context, d *accessbot.CampaignDefinition, now time.Time) (bool, error) {
	in := LaunchInput{TenantID: d.TenantID, Name: d.Name, Scope: d.Scope, Levels: d.Levels, Definition: d.Name}
	if d.Cron == "" {
		if d.DueAt == nil || !d.DueAt.After(now) {
			return false, nil
		}
		switch last, err := s.st.LastCampaignOf(ctx, d.TenantID, d.Name); {
		case err == nil && last.Slot != nil && last.Slot.Equal(*d.DueAt):
			return false, nil
		case err != nil && !errors.Is(err, accessbot.ErrNotFound):
			return false, err
		}
		in.DueAt, in.Slot = *d.DueAt, d.DueAt
		return s.launchOnce(ctx, in)
	}
	spec, err := schedule.Parse(d.Cron, d.TimeZone)
	if err != nil {
		return false, err
	}
	job := launchJobPrefix + d.Name
	var last time.Time
	switch l, err := s.st.LastSlot(ctx, d.TenantID, job); {
	case errors.Is(err, accessbot.ErrNotFound):
	case err != nil:
		return false, err
	case l.Status == store.SlotRunning:
		last = l.At.Add(-time.Nanosecond) // a launch that crashed or failed: retry it
	default:
		last = l.At
	}
	slot, due := spec.Due(last, d.CreatedAt, now)
	if !due {
		return false, nil
	}
	owner := s.owner
	claimed, won, err := s.st.ClaimSlot(ctx, d.TenantID, job, slot, owner, s.now(), launchLease)
	if err != nil || !won {
		return false, err
	}
	in.DueAt, in.Slot = slot.Add(d.DueAfter), &slot
	ok, lerr := s.launchOnce(ctx, in)
	status, msg, retry := store.SlotDone, "", time.Time{}
	if lerr != nil {
		status, msg, retry = store.SlotRunning, lerr.Error(), s.now().Add(time.Minute)
	}
	if err := s.st.FinishSlot(ctx, d.TenantID, job, slot, owner, claimed.Attempts, status, msg, s.now(), retry); err != nil {
		return ok, errors.Join(lerr, err)
	}
	return ok, lerr
}

// launchOnce launches a definition slot; one launched before is not an error.
func (s *Service) launchOnce(ctx context.Context, in LaunchInput) (bool, error) {
	_, err := s.Launch(ctx, in)
	if errors.Is(err, accessbot.ErrConflict) {
		return false, nil
	}
	return err == nil, err
}
