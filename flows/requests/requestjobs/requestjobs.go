// Package requestjobs runs the access-request jobs (requests.Job) on River
// through package jobs: one River kind per Notifier method plus provision,
// inserted in the transaction of the state change that causes them, and
// worked by calling requests.Service.RunJob, retried with backoff.
//
// Wiring (the workers need the service, the service needs the queue):
//
//	var svc *requests.Service
//	workers := river.NewWorkers()
//	requestjobs.AddWorkers(workers, func(ctx context.Context, j requests.Job) error { return svc.RunJob(ctx, j) }, final, log,
//		requestjobs.WithGiveUp(func(ctx context.Context, j requests.Job) error { return svc.GiveUpJob(ctx, j) }))
//	q, _ := jobs.New(jobs.Config{Driver: driver, DB: db, Workers: workers, Log: log})
//	svc = requests.New(st, notifier, prov, clock, policy, log, requests.WithEnqueuer(requestjobs.NewEnqueuer(q)))
package requestjobs

import (
	"context"
	"fmt"

	"github.com/riverqueue/river"
	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/jobs"
	"github.com/accessbot/accessbot/store"
)

// River kinds, one per requests.JobKind. Stored in river_job.kind: never rename.
const (
	KindRequestCreated  = "request_created"
	KindApprovalNeeded  = "request_approval_needed"
	KindLevelDecided    = "request_level_decided"
	KindRequestFinished = "request_finished"
	KindRemind          = "request_remind"
	KindProvision       = "request_provision"
)

// Each args type is one River kind carrying a requests.Job, embedded so
// river_job.args reads {"kind":…,"tenant_id":…,"request_id":…}. The Kind
// method (River's) shadows the embedded Kind field.
type (
	requestCreatedArgs  struct{ requests.Job }
	approvalNeededArgs  struct{ requests.Job }
	levelDecidedArgs    struct{ requests.Job }
	requestFinishedArgs struct{ requests.Job }
	remindArgs          struct{ requests.Job }
	provisionArgs       struct{ requests.Job }
)

func (requestCreatedArgs) Kind() string  { return KindRequestCreated }
func (approvalNeededArgs) Kind() string  { return KindApprovalNeeded }
func (levelDecidedArgs) Kind() string    { return KindLevelDecided }
func (requestFinishedArgs) Kind() string { return KindRequestFinished }
func (remindArgs) Kind() string          { return KindRemind }
func (provisionArgs) Kind() string       { return KindProvision }

func (a requestCreatedArgs) job() requests.Job  { return a.Job }
func (a approvalNeededArgs) job() requests.Job  { return a.Job }
func (a levelDecidedArgs) job() requests.Job    { return a.Job }
func (a requestFinishedArgs) job() requests.Job { return a.Job }
func (a remindArgs) job() requests.Job          { return a.Job }
func (a provisionArgs) job() requests.Job       { return a.Job }

// argsOf maps a job to its River args.
func argsOf(j requests.Job) (river.JobArgs, error) {
	switch j.Kind {
	case requests.JobRequestCreated:
		return requestCreatedArgs{j}, nil
	case requests.JobApprovalNeeded:
		return approvalNeededArgs{j}, nil
	case requests.JobLevelDecided:
		return levelDecidedArgs{j}, nil
	case requests.JobRequestFinished:
		return requestFinishedArgs{j}, nil
	case requests.JobRemind:
		return remindArgs{j}, nil
	case requests.JobProvision:
		return provisionArgs{j}, nil
	}
	return nil, fmt.Errorf("no River kind for request job %q: %w", j.Kind, accessbot.ErrInvalid)
}

// Enqueuer inserts request jobs with a jobs.Queue, in the caller's store transaction.
type Enqueuer struct{ q *jobs.Queue }

var _ requests.Enqueuer = (*Enqueuer)(nil)

// NewEnqueuer returns the requests.Enqueuer of q.
func NewEnqueuer(q *jobs.Queue) *Enqueuer { return &Enqueuer{q: q} }

// Enqueue inserts every job in tx. Identical jobs (same kind and ids) that
// are still waiting, running or done are inserted once.
func (e *Enqueuer) Enqueue(ctx context.Context, tx store.Queries, js []requests.Job) error {
	for _, j := range js {
		args, err := argsOf(j)
		if err != nil {
			return err
		}
		if _, err := e.q.InsertTx(ctx, tx, args, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}}); err != nil {
			return fmt.Errorf("request %s: %w", j.RequestID, err)
		}
	}
	return nil
}

// RunFunc does one job; requests.Service.RunJob.
type RunFunc func(ctx context.Context, j requests.Job) error

// Option configures AddWorkers.
type Option func(*options)

type options struct{ giveUp RunFunc }

// WithGiveUp calls fn (requests.Service.GiveUpJob) when a job fails for
// good, final or out of attempts, so work that waited for it still happens
// (level 1 is asked even when the requester's confirmation cannot be sent).
// Production passes it.
func WithGiveUp(fn RunFunc) Option { return func(o *options) { o.giveUp = fn } }

// AddWorkers registers a worker for every request job kind on w. An error
// that jobs.AllFinal finds final, with requests.ErrRequestGone or what final
// says (handlers.FinalSlackError) as final leaves, is logged and the job
// cancelled; any other error (a workspace not bound yet, Slack down) is
// retried with backoff until MaxAttempts. final may be nil. A job that
// fails for good calls WithGiveUp's function first.
func AddWorkers(w *river.Workers, run RunFunc, final func(error) bool, log zerolog.Logger, opts ...Option) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	log = log.With().Str("component", "request_jobs").Logger()
	isFinal := func(err error) bool {
		return jobs.AllFinal(err, func(e error) bool {
			return e == requests.ErrRequestGone || (final != nil && final(e))
		})
	}
	river.AddWorker(w, &worker[requestCreatedArgs]{run: run, giveUp: o.giveUp, final: isFinal, log: log})
	river.AddWorker(w, &worker[approvalNeededArgs]{run: run, giveUp: o.giveUp, final: isFinal, log: log})
	river.AddWorker(w, &worker[levelDecidedArgs]{run: run, giveUp: o.giveUp, final: isFinal, log: log})
	river.AddWorker(w, &worker[requestFinishedArgs]{run: run, giveUp: o.giveUp, final: isFinal, log: log})
	river.AddWorker(w, &worker[remindArgs]{run: run, giveUp: o.giveUp, final: isFinal, log: log})
	river.AddWorker(w, &worker[provisionArgs]{run: run, giveUp: o.giveUp, final: isFinal, log: log})
}

type jobArgs interface {
	river.JobArgs
	job() requests.Job
}

type worker[T jobArgs] struct {
	river.WorkerDefaults[T]
	run    RunFunc
	giveUp RunFunc
	final  func(error) bool
	log    zerolog.Logger
}

func (w *worker[T]) Work(ctx context.Context, rj *river.Job[T]) error {
	j := rj.Args.job()
	err := w.run(ctx, j)
	if err == nil {
		return nil
	}
	if _, busy := jobs.BusyFor(err); busy {
		// Slack's pace is full, nothing failed: the jobs middleware snoozes
		// it without spending an attempt (and before its last one, no give-up).
		return err
	}
	final := w.final(err)
	if !final && rj.Attempt < rj.MaxAttempts {
		return err
	}
	if w.giveUp != nil {
		if gerr := w.giveUp(ctx, j); gerr != nil {
			// The job is retried (or discarded) so the give-up runs again.
			return fmt.Errorf("%w; and after giving up: %w", err, gerr)
		}
	}
	w.log.Error().Err(err).Str("tenant", j.TenantID).Str("request", j.RequestID).Str("job", string(j.Kind)).
		Int64("river_job", rj.ID).Int("attempt", rj.Attempt).Msg("job failed for good; not retried")
	if final {
		return jobs.Final(err)
	}
	return err
}
