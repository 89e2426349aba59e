// Package jobs runs durable background work on River
// (github.com/riverqueue/river) in the store's own database. A job is
// inserted in the store transaction whose state change causes it, so it
// exists exactly when that change committed, and it survives crashes and
// restarts until a worker finishes it: retried with backoff, discarded after
// MaxAttempts, cancelled at once when the worker says the failure is final.
//
// SQLite uses River's riversqlite driver and PostgreSQL its riverdatabasesql
// driver, both on the store's *sql.DB, so River's tables (river_job, …) live
// beside the store's. Migrate creates them; store/backend runs it whenever it
// migrates the store. SQLite stays single-process.
package jobs

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"
	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/internal/metrics"
	"github.com/accessbot/accessbot/store"
)

// Store drivers, as named by store.driver.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// ErrNoTx: the Queries handed to InsertTx are not those of a SQL store
// transaction, so the job could not commit with the change.
var ErrNoTx = errors.New("not inside a SQL store transaction")

// Config builds a Queue.
type Config struct {
	// Driver is the store driver: "sqlite" or "postgres".
	Driver string
	// DB is the store's database handle (sqlstore.Store.DB()).
	DB *sql.DB
	// Workers are the job kinds this process works; every kind inserted
	// must be registered. Required.
	Workers *river.Workers
	// MaxWorkers is how many jobs run at once in this process; 0 means 4.
	MaxWorkers int
	// MaxAttempts is how many times a job runs before it is discarded; 0
	// means 12 (about 11 hours of River's default backoff, attempt⁴ seconds).
	MaxAttempts int
	// Backoff, when set, is the wait after failed attempt n (1-based)
	// instead of River's default.
	Backoff func(attempt int) time.Duration
	// PollInterval is how often idle workers look for new jobs; 0 means 1s.
	// On SQLite it is also how often an idle queue checks River's
	// notification table (jobs inserted here wake it at once).
	PollInterval time.Duration
	// ListenDSN, PostgreSQL only, is the store's DSN: the queue keeps one
	// more connection on it that LISTENs for new jobs, so a job committed
	// by any process starts at once rather than at the next poll (up to
	// PollInterval later). Jobs inserted outside a transaction, and every
	// job on SQLite, are started at once anyway.
	ListenDSN string
	// Timeout bounds one run of a job (its context is cancelled then); 0
	// means DefaultTimeout. It must cover the longest step: a notification
	// job posting to every admin, each post holding its delivery lease.
	Timeout time.Duration
	// RescueAfter is how long a job may stay running before it is taken for
	// dead (its process crashed) and retried; 0 means Timeout plus a minute.
	// At least Timeout. River checks every 30 s, on the leader.
	RescueAfter time.Duration
	Log         zerolog.Logger
}

// DefaultTimeout is Config.Timeout's default: River's own is one minute
// and its stuck-job rescue one hour, so a job of a crashed process waited an
// hour; these bound the wait to minutes.
const DefaultTimeout = 5 * time.Minute

// Queue is a River client on the store's database.
type Queue struct {
	client *river.Client[*sql.Tx]
	db     *sql.DB
	listen *pgxpool.Pool // ListenDSN's connection, nil without
	waker  *waker        // SQLite: wakes the listeners on an insert
	log    zerolog.Logger
	unsub  func()
	// startWait is Run's wait after its first failed start, doubled after
	// each further one.
	startWait time.Duration
}

// New builds the queue; Start (or Run) works jobs, InsertTx needs neither.
func New(cfg Config) (*Queue, error) {
	if cfg.DB == nil || cfg.Workers == nil {
		return nil, fmt.Errorf("new job queue: DB and Workers are required: %w", accessbot.ErrInvalid)
	}
	driver, err := newDriver(cfg.Driver, cfg.DB)
	if err != nil {
		return nil, fmt.Errorf("new job queue: %w", err)
	}
	var wk *waker
	if cfg.Driver == SQLite {
		wk = wakerFor(cfg.DB)
		driver = &sqliteDriver{Driver: driver.(*riversqlite.Driver), waker: wk, idle: cmp.Or(cfg.PollInterval, time.Second)}
	}
	pool, err := listenPool(cfg)
	if err != nil {
		return nil, err
	}
	if pool != nil {
		driver = newPgDriver(cfg.DB, pool)
	}
	log := cfg.Log.With().Str("component", "jobs").Logger()
	rc := &river.Config{
		Queues:       map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: orInt(cfg.MaxWorkers, 4)}},
		Workers:      cfg.Workers,
		MaxAttempts:  orInt(cfg.MaxAttempts, 12),
		Logger:       slog.New(zerolog.NewSlogHandler(log.Level(max(log.GetLevel(), zerolog.WarnLevel)))),
		ErrorHandler: &errorLogger{log: log},
		// Every job: a Busy error snoozes it; its writes are remembered across runs.
		Middleware: []rivertype.Middleware{&middleware{}},
	}
	rc.JobTimeout = cfg.Timeout
	if rc.JobTimeout <= 0 {
		rc.JobTimeout = DefaultTimeout
	}
	rc.RescueStuckJobsAfter = cfg.RescueAfter
	if rc.RescueStuckJobsAfter <= 0 {
		rc.RescueStuckJobsAfter = rc.JobTimeout + time.Minute
	}
	if rc.RescueStuckJobsAfter < rc.JobTimeout {
		return nil, fmt.Errorf("new job queue: rescue after %s is shorter than the job timeout %s: %w",
			rc.RescueStuckJobsAfter, rc.JobTimeout, accessbot.ErrInvalid)
	}
	if cfg.PollInterval > 0 {
		rc.FetchPollInterval = cfg.PollInterval
		rc.FetchCooldown = min(cfg.PollInterval, 100*time.Millisecond)
	}
	if cfg.Backoff != nil {
		rc.RetryPolicy = backoffPolicy(cfg.Backoff)
	}
	client, err := river.NewClient(driver, rc)
	if err != nil {
		if pool != nil {
			pool.Close()
		}
		return nil, fmt.Errorf("new job queue on %s: %w", cfg.Driver, err)
	}
	return &Queue{client: client, db: cfg.DB, listen: pool, waker: wk, log: log, startWait: time.Second}, nil
}

func newDriver(name string, db *sql.DB) (riverdriver.Driver[*sql.Tx], error) {
	switch name {
	case SQLite:
		return riversqlite.New(db), nil
	case Postgres:
		return riverdatabasesql.New(db), nil
	}
	return nil, fmt.Errorf("unknown store driver %q (want sqlite or postgres): %w", name, accessbot.ErrInvalid)
}

// listenPool is Config.ListenDSN's pool: one connection, opened on first use.
func listenPool(cfg Config) (*pgxpool.Pool, error) {
	if cfg.Driver != Postgres || cfg.ListenDSN == "" {
		return nil, nil
	}
	pc, err := pgxpool.ParseConfig(cfg.ListenDSN)
	if err != nil {
		// Not wrapped: pgx's error may quote the DSN, password included.
		return nil, fmt.Errorf("new job queue: the store DSN does not parse for listening for new jobs: %w", accessbot.ErrInvalid)
	}
	pc.MaxConns = 1
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		return nil, fmt.Errorf("new job queue: listen for new jobs: %w", err)
	}
	return pool, nil
}

func orInt(v, dflt int) int {
	if v > 0 {
		return v
	}
	return dflt
}

// Start works jobs in the background until Stop.
func (q *Queue) Start(ctx context.Context) error {
	events, unsub := q.client.Subscribe(river.EventKindJobCompleted, river.EventKindJobFailed,
		river.EventKindJobCancelled, river.EventKindJobSnoozed)
	if err := q.client.Start(ctx); err != nil {
		unsub()
		return fmt.Errorf("start job queue: %w", err)
	}
	q.unsub = unsub
	go observe(events)
	return nil
}

// Stop waits for running jobs to finish (or ctx to end), then stops.
// Unfinished jobs stay in the database for the next start to work.
func (q *Queue) Stop(ctx context.Context) error {
	err := q.client.Stop(ctx)
	if q.unsub != nil && err == nil {
		q.unsub()
	}
	if q.listen != nil && err == nil {
		q.listen.Close()
	}
	if err != nil {
		return fmt.Errorf("stop job queue: %w", err)
	}
	return nil
}

// Run works jobs until ctx ends, then stops: running jobs get stopTimeout
// to finish (their contexts are not cancelled: a send in flight completes),
// then they are cancelled. River would cancel them at once if ctx were its
// own, so it gets one that is not cancelled. A start that fails (the
// database went away while River started) is tried again, startAttempts
// times in all, before Run gives up with the error.
func (q *Queue) Run(ctx context.Context, stopTimeout time.Duration) error {
	if err := q.startAgain(ctx); err != nil {
		if q.listen != nil {
			q.listen.Close()
		}
		return err
	}
	<-ctx.Done()
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
	defer cancel()
	if err := q.Stop(stopCtx); err != nil {
		hardCtx, cancelHard := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancelHard()
		q.log.Warn().Err(err).Dur("waited", stopTimeout).Msg("jobs still running at shutdown; cancelling them")
		herr := q.client.StopAndCancel(hardCtx)
		if q.listen != nil {
			q.listen.Close()
		}
		if herr != nil {
			return fmt.Errorf("stop job queue: %w", herr)
		}
	}
	return nil
}

// startAttempts bounds Run's starts: waiting 1, 2, 4 and 8 s between them,
// a database that went away while River started is back, and a start that
// cannot succeed still ends run with its reason.
const startAttempts = 5

// startAgain starts River, again after a failure, until it starts, ctx
// ends (nil) or startAttempts failed (the last error).
func (q *Queue) startAgain(ctx context.Context) error {
	wait := q.startWait
	for attempt := 1; ; attempt++ {
		err := q.Start(context.WithoutCancel(ctx))
		if err == nil {
			return nil
		}
		if attempt == startAttempts {
			q.log.Error().Err(err).Int("attempts", attempt).Msg("job queue did not start; giving up")
			return fmt.Errorf("%w (gave up after %d starts)", err, attempt)
		}
		metrics.JobStartRetries.Inc()
		q.log.Warn().Err(err).Int("attempt", attempt).Dur("retry_in", wait).
			Msg("job queue did not start (database or its listener's connection lost while starting); starting it again")
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		wait *= 2
	}
}

// InsertTx inserts a job in the store transaction tx (the Queries InTx hands
// to its fn): it is only ever worked if that transaction commits.
func (q *Queue) InsertTx(ctx context.Context, tx store.Queries, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	sqlTx, err := Tx(tx)
	if err != nil {
		return nil, fmt.Errorf("insert %s job: %w", args.Kind(), err)
	}
	res, err := q.client.InsertTx(ctx, sqlTx, args, opts)
	if err != nil {
		return nil, fmt.Errorf("insert %s job: %w", args.Kind(), err)
	}
	q.wake()
	return res, nil
}

// InsertManyTx inserts jobs in the store transaction tx in one go (a
// campaign launch's DMs, one per reviewer): only worked if tx commits.
func (q *Queue) InsertManyTx(ctx context.Context, tx store.Queries, params []river.InsertManyParams) error {
	if len(params) == 0 {
		return nil
	}
	sqlTx, err := Tx(tx)
	if err != nil {
		return fmt.Errorf("insert %d %s jobs: %w", len(params), params[0].Args.Kind(), err)
	}
	if _, err := q.client.InsertManyTx(ctx, sqlTx, params); err != nil {
		return fmt.Errorf("insert %d %s jobs: %w", len(params), params[0].Args.Kind(), err)
	}
	q.wake()
	return nil
}

// wake has SQLite's listeners look for the job just inserted.
func (q *Queue) wake() {
	if q.waker != nil {
		q.waker.wake()
	}
}

// Client is the River client, for listing jobs in tests and tools.
func (q *Queue) Client() *river.Client[*sql.Tx] { return q.client }

// Tx returns the *sql.Tx behind the Queries of a SQL store transaction.
func Tx(q store.Queries) (*sql.Tx, error) {
	t, ok := q.(interface{ Tx() *sql.Tx })
	if !ok {
		return nil, fmt.Errorf("%T: %w", q, ErrNoTx)
	}
	tx := t.Tx()
	if tx == nil {
		return nil, ErrNoTx
	}
	return tx, nil
}

// Final marks err as a failure no retry can fix (a Slack user that does not
// exist, a deleted request): the job is cancelled instead of retried.
func Final(err error) error { return river.JobCancel(err) }

type backoffPolicy func(attempt int) time.Duration

func (b backoffPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	return time.Now().Add(b(max(job.Attempt, 1)))
}

// errorLogger logs failed attempts with the job's identity; River retries them.
type errorLogger struct{ log zerolog.Logger }

func (e *errorLogger) HandleError(_ context.Context, job *rivertype.JobRow, err error) *river.ErrorHandlerResult {
	e.log.Warn().Err(err).Str("tenant", tenantOf(job)).Str("kind", job.Kind).Int64("job", job.ID).Int("attempt", job.Attempt).
		Int("max_attempts", job.MaxAttempts).RawJSON("args", job.EncodedArgs).Msg("job attempt failed")
	return nil
}

func (e *errorLogger) HandlePanic(_ context.Context, job *rivertype.JobRow, v any, trace string) *river.ErrorHandlerResult {
	e.log.Error().Str("tenant", tenantOf(job)).Str("kind", job.Kind).Int64("job", job.ID).Int("attempt", job.Attempt).
		Str("panic", fmt.Sprint(v)).Str("trace", trace).Msg("job panicked")
	return nil
}

// tenantOf reads the tenant_id that job args carry by convention.
func tenantOf(job *rivertype.JobRow) string {
	var a struct {
		TenantID string `json:"tenant_id"`
	}
	_ = json.Unmarshal(job.EncodedArgs, &a)
	return a.TenantID
}

// AllFinal reports whether err is one no retry fixes: every error joined in
// it (errors.Join, or fmt.Errorf with several %w) is final, and a single
// error is final when leaf says so of it or of an error it wraps. One
// transient error among several failures means the job is retried.
func AllFinal(err error, leaf func(error) bool) bool {
	for err != nil {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			errs := j.Unwrap()
			if len(errs) == 0 {
				return false
			}
			for _, e := range errs {
				if !AllFinal(e, leaf) {
					return false
				}
			}
			return true
		}
		if leaf(err) {
			return true
		}
		err = errors.Unwrap(err)
	}
	return false
}
