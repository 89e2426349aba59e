package schedule

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/internal/metrics"
	"github.com/accessbot/accessbot/store"
)

// Run is one slot handed to a Job.
type Run struct {
	TenantID string
	Job      string
	Slot     time.Time // the scheduled instant, UTC
	Attempt  int       // 1 for the first try
	Now      time.Time // when the scheduler claimed it
}

// Job runs one slot of one tenant. A failed run is retried with the same
// Run.Slot, so a job must not repeat what an earlier attempt finished
// (deliveries go through the store's outbox for that).
type Job interface {
	Run(ctx context.Context, r Run) error
}

// JobFunc adapts a function to Job.
type JobFunc func(ctx context.Context, r Run) error

func (f JobFunc) Run(ctx context.Context, r Run) error { return f(ctx, r) }

// Store is what the scheduler reads and claims; store.Store has it.
type Store interface {
	ListTenants(ctx context.Context) ([]accessbot.Tenant, error)
	ListSchedules(ctx context.Context, tenantID string) ([]store.Schedule, error)
	LastSlot(ctx context.Context, tenantID, job string) (*store.Slot, error)
	ClaimSlot(ctx context.Context, tenantID, job string, at time.Time, owner string, now time.Time, lease time.Duration) (*store.Slot, bool, error)
	FinishSlot(ctx context.Context, tenantID, job string, at time.Time, owner string, attempt int, status store.SlotStatus, lastError string, now, retryAt time.Time) error
}

// Config configures a Scheduler. Zero values pick the defaults.
type Config struct {
	Store Store
	// Owner names this replica in claims; default a fresh UUID.
	Owner string
	// Interval between ticks in Run; default 30s.
	Interval time.Duration
	// Lease is how long a claim holds; a run is cancelled before its lease
	// ends so no other replica can start the same slot meanwhile. Default 10m.
	Lease time.Duration
	// MaxAttempts before a slot is given up (failed); default 20.
	MaxAttempts int
	// Backoff is the wait before retry n (1-based); default 30s doubling up to 10m.
	Backoff func(attempt int) time.Duration
	Clock   func() time.Time
	Log     zerolog.Logger
}

// Scheduler evaluates every tenant's schedules on each tick and runs each
// due slot that it wins. Any number of schedulers may share a store: the
// slot row decides who runs it.
type Scheduler struct {
	cfg      Config
	jobs     map[string]Job
	each     []named
	defaults []fallback
	log      zerolog.Logger
}

// fallback is a job's schedule in tenants that declare none for it.
type fallback struct {
	job, cron, tz string
	applies       AppliesFunc
}

// AppliesFunc says whether a default schedule applies to a tenant now, and
// since when (its slots before since do not fire).
type AppliesFunc func(ctx context.Context, tenantID string) (since time.Time, ok bool, err error)

type named struct {
	name string
	fn   func(ctx context.Context, now time.Time) error
}

// New builds a scheduler with no jobs registered.
func New(cfg Config) (*Scheduler, error) {
	if cfg.Store == nil {
		return nil, errors.New("new scheduler: no store")
	}
	if cfg.Owner == "" {
		cfg.Owner = uuid.Must(uuid.NewV7()).String()
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 30 * time.Second
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 10 * time.Minute
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 20
	}
	if cfg.Backoff == nil {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	return &Scheduler{
		cfg:  cfg,
		jobs: map[string]Job{},
		log:  cfg.Log.With().Str("component", "scheduler").Str("owner", cfg.Owner).Logger(),
	}, nil
}

// DefaultBackoff waits 30s before the first retry, doubling up to 10m.
func DefaultBackoff(attempt int) time.Duration {
	d := 30 * time.Second
	for i := 1; i < attempt && d < 10*time.Minute; i++ {
		d *= 2
	}
	return min(d, 10*time.Minute)
}

// Register makes kind runnable by tenant schedules. A kind that ends in
// ":" is a family: it runs every schedule whose job starts with it
// ("connector_sync:" runs "connector_sync:Entra ID"), each with its own
// slots. Registering a kind twice fails.
func (s *Scheduler) Register(kind string, j Job) error {
	if kind == "" || j == nil {
		return errors.New("register job: empty kind or nil job")
	}
	if _, dup := s.jobs[kind]; dup {
		return fmt.Errorf("register job %q: already registered", kind)
	}
	s.jobs[kind] = j
	return nil
}

// job is the Job that runs schedules named name: its own, else its family's.
func (s *Scheduler) job(name string) Job {
	if j := s.jobs[name]; j != nil {
		return j
	}
	if i := strings.IndexByte(name, ':'); i > 0 {
		return s.jobs[name[:i+1]]
	}
	return nil
}

// kindOf is a job's metrics label: a family member counts under its
// family ("connector_sync:"), so application names never become labels.
func kindOf(name string) string {
	if i := strings.IndexByte(name, ':'); i > 0 {
		return name[:i+1]
	}
	return name
}

// Default runs the registered job kind on cron in the IANA zone tz for
// every tenant that has no schedule of that kind and for which applies
// says so (access-review reminders run daily for a tenant with campaigns
// though it scheduled none). A default slot is claimed, retried and given
// up like a stored schedule's, under the same job name, so a tenant that
// adds or removes its own schedule never gets one slot twice.
func (s *Scheduler) Default(kind, cron, tz string, applies AppliesFunc) error {
	if s.jobs[kind] == nil || applies == nil {
		return fmt.Errorf("default schedule of %q: register the job first, and give applies", kind)
	}
	if _, err := Parse(cron, tz); err != nil {
		return fmt.Errorf("default schedule of %q: %w", kind, err)
	}
	s.defaults = append(s.defaults, fallback{job: kind, cron: cron, tz: tz, applies: applies})
	return nil
}

// Kinds lists the registered job kinds, sorted.
func (s *Scheduler) Kinds() []string {
	out := make([]string, 0, len(s.jobs))
	for k := range s.jobs {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Every runs fn on every tick, in every replica, with no slot claim: fn must
// be safe to run concurrently and repeatedly (requests.Service.Tick is: each
// step is a conditional transition).
func (s *Scheduler) Every(name string, fn func(ctx context.Context, now time.Time) error) {
	s.each = append(s.each, named{name: name, fn: fn})
}

// Run ticks every Interval until ctx ends. A failing tick is logged; the loop goes on.
func (s *Scheduler) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		if err := s.Tick(ctx); err != nil && ctx.Err() == nil {
			s.log.Error().Err(err).Msg("scheduler tick")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Tick evaluates every schedule once at the clock's now: it re-reads the
// schedules (so a changed cron or time zone applies at once), claims each
// due slot and runs the ones it won. It returns every error joined.
func (s *Scheduler) Tick(ctx context.Context) error {
	now := s.cfg.Clock().UTC()
	var errs []error
	for _, e := range s.each {
		if err := e.fn(ctx, now); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", e.name, err))
		}
	}
	tenants, err := s.cfg.Store.ListTenants(ctx)
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("list tenants: %w", err))...)
	}
	for _, t := range tenants {
		scheds, err := s.cfg.Store.ListSchedules(ctx, t.ID)
		if err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: list schedules: %w", t.ID, err))
			continue
		}
		scheds, err = s.withDefaults(ctx, t.ID, scheds)
		if err != nil {
			errs = append(errs, err)
		}
		for _, sc := range scheds {
			if err := s.tickOne(ctx, sc, now); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// withDefaults adds the default schedules that apply to the tenant.
func (s *Scheduler) withDefaults(ctx context.Context, tenantID string, scheds []store.Schedule) ([]store.Schedule, error) {
	var errs []error
	for _, d := range s.defaults {
		if slices.ContainsFunc(scheds, func(sc store.Schedule) bool { return sc.Job == d.job }) {
			continue
		}
		since, ok, err := d.applies(ctx, tenantID)
		if err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: default schedule of %s: %w", tenantID, d.job, err))
			continue
		}
		if ok {
			scheds = append(scheds, store.Schedule{TenantID: tenantID, Job: d.job, Cron: d.cron, TimeZone: d.tz, Since: since})
		}
	}
	return scheds, errors.Join(errs...)
}

// RunNow runs the registered job for a tenant at once, as a slot at the
// clock's now (an operator's "send the digest now"). The slot is claimed,
// retried and finished like a scheduled one, so the next scheduled slot's
// window starts here and no other replica runs it too.
func (s *Scheduler) RunNow(ctx context.Context, tenantID, job string) error {
	j := s.job(job)
	if j == nil {
		return fmt.Errorf("run %s now: no such job (registered: %v)", job, s.Kinds())
	}
	now := s.cfg.Clock().UTC().Truncate(time.Microsecond) // the store keeps microseconds
	claimed, won, err := s.cfg.Store.ClaimSlot(ctx, tenantID, job, now, s.cfg.Owner, now, s.cfg.Lease)
	if err != nil {
		return fmt.Errorf("run %s now for tenant %s: %w", job, tenantID, err)
	}
	if !won {
		return fmt.Errorf("run %s now for tenant %s: slot %s is taken; try again", job, tenantID, now.Format(time.RFC3339Nano))
	}
	log := s.log.With().Str("tenant", tenantID).Str("job", job).Time("slot", now).Bool("now", true).Logger()
	return s.run(ctx, j, claimed, now, log)
}

func (s *Scheduler) tickOne(ctx context.Context, sc store.Schedule, now time.Time) error {
	log := s.log.With().Str("tenant", sc.TenantID).Str("job", sc.Job).Logger()
	job := s.job(sc.Job)
	if job == nil {
		log.Debug().Msg("no job registered for this kind in this build; skipped")
		return nil
	}
	spec, err := Parse(sc.Cron, sc.TimeZone)
	if err != nil {
		// apply refuses these; a row written another way is reported, not run.
		return fmt.Errorf("tenant %s job %s: %w", sc.TenantID, sc.Job, err)
	}
	var last time.Time
	switch l, err := s.cfg.Store.LastSlot(ctx, sc.TenantID, sc.Job); {
	case errors.Is(err, accessbot.ErrNotFound):
	case err != nil:
		return fmt.Errorf("tenant %s job %s: %w", sc.TenantID, sc.Job, err)
	case l.Status == store.SlotRunning:
		last = l.At.Add(-time.Nanosecond) // still due: it may need a retry
	default:
		last = l.At
	}
	slot, due := spec.Due(last, sc.Since, now)
	if !due {
		return nil
	}
	claimed, won, err := s.cfg.Store.ClaimSlot(ctx, sc.TenantID, sc.Job, slot, s.cfg.Owner, now, s.cfg.Lease)
	if err != nil {
		metrics.StoreErrors.WithLabelValues("claim_slot").Inc()
		return fmt.Errorf("tenant %s job %s: %w", sc.TenantID, sc.Job, err)
	}
	if !won {
		metrics.Slots.WithLabelValues(kindOf(sc.Job), "skipped").Inc() // another replica has it
		return nil
	}
	log = log.With().Time("slot", slot).Int("attempt", claimed.Attempts).Logger()
	if claimed.Attempts > s.cfg.MaxAttempts {
		log.Error().Str("last_error", claimed.LastError).Msg("slot given up")
		metrics.Slots.WithLabelValues(kindOf(sc.Job), "given_up").Inc()
		return s.finish(ctx, claimed, store.SlotFailed, fmt.Sprintf("gave up after %d attempts: %s", claimed.Attempts-1, claimed.LastError), time.Time{})
	}
	return s.run(ctx, job, claimed, now, log)
}

func (s *Scheduler) run(ctx context.Context, job Job, sl *store.Slot, now time.Time, log zerolog.Logger) error {
	// End the run before the lease does, so no other replica can take the
	// slot over while this one may still be sending.
	runCtx, cancel := context.WithTimeout(ctx, s.cfg.Lease*9/10)
	defer cancel()
	err := runSafely(runCtx, job, Run{TenantID: sl.TenantID, Job: sl.Job, Slot: sl.At, Attempt: sl.Attempts, Now: now})
	if err != nil {
		metrics.Slots.WithLabelValues(kindOf(sl.Job), "failed").Inc()
		retry := s.cfg.Clock().UTC().Add(s.cfg.Backoff(sl.Attempts))
		log.Warn().Err(err).Time("retry_at", retry).Msg("slot failed; will retry")
		if ferr := s.finish(ctx, sl, store.SlotRunning, err.Error(), retry); ferr != nil {
			return errors.Join(err, ferr)
		}
		return fmt.Errorf("tenant %s job %s slot %s: %w", sl.TenantID, sl.Job, sl.At.Format(time.RFC3339), err)
	}
	log.Info().Msg("slot done")
	metrics.Slots.WithLabelValues(kindOf(sl.Job), "run").Inc()
	return s.finish(ctx, sl, store.SlotDone, "", time.Time{})
}

func (s *Scheduler) finish(ctx context.Context, sl *store.Slot, st store.SlotStatus, msg string, retry time.Time) error {
	// A cancelled run context must not stop the bookkeeping.
	ctx = context.WithoutCancel(ctx)
	return s.cfg.Store.FinishSlot(ctx, sl.TenantID, sl.Job, sl.At, s.cfg.Owner, sl.Attempts, st, msg, s.cfg.Clock().UTC(), retry)
}

// runSafely turns a job's panic into an error, so one bad job cannot stop the loop.
func runSafely(ctx context.Context, j Job, r Run) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("job panicked: %v", p)
		}
	}()
	return j.Run(ctx, r)
}
