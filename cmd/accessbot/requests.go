package main

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/flows/requests/requestjobs"
	"github.com/accessbot/accessbot/handlers"
	"github.com/accessbot/accessbot/jobs"
)

// jobsStopTimeout bounds how long a stopping `run` waits for running jobs;
// unfinished ones stay in the database for the next start.
const jobsStopTimeout = 10 * time.Second

// requestParts is the access-request runtime: the service (whose Tick the
// scheduler runs), its Slack notifier and the Slack handlers.
type requestParts struct {
	Service  *requests.Service
	Notifier *handlers.Notifier
	Handlers *handlers.Requests
}

// buildRequests wires requests.Service with the Slack notifier, the default
// provisioner (manual fulfilment: the application owners are asked by DM,
// until the provisioning engine lands) and the approvals.* policy. Without Slack configured the notifier is a no-op.
// Notifications and provisioning are durable jobs on River in the store's
// database (package jobs), enqueued in the transaction of each change and
// worked by the "jobs" goroutine, so a send that fails or a crash after the
// commit is retried instead of lost.
func (m *Main) buildRequests(rt *Runtime) *requestParts {
	var notifier requests.Notifier
	var slackNotifier *handlers.Notifier
	if clients := rt.chatClients(); clients != nil {
		// Inline sends (no Workers): the job queue runs them and retries errors.
		slackNotifier = handlers.NewNotifier(handlers.NotifierConfig{Store: rt.Store, Clients: clients,
			Now: rt.Now, IdentityTTL: rt.Config.Slack.IdentityCacheTTL, Lease: rt.Config.Jobs.DeliveryLease, Log: rt.Log})
		notifier = slackNotifier
	}
	var svc *requests.Service
	workers := river.NewWorkers()
	requestjobs.AddWorkers(workers, func(ctx context.Context, j requests.Job) error { return svc.RunJob(ctx, j) },
		handlers.FinalSlackError, rt.Log,
		requestjobs.WithGiveUp(func(ctx context.Context, j requests.Job) error { return svc.GiveUpJob(ctx, j) }))
	var opts []requests.Option
	if q, err := rt.jobQueue(workers); err != nil {
		rt.Go("jobs", func(context.Context) error { return err }) // stops run with the reason
	} else {
		opts = append(opts, requests.WithEnqueuer(requestjobs.NewEnqueuer(q)))
		rt.Go("jobs", func(ctx context.Context) error { return q.Run(ctx, jobsStopTimeout) })
	}
	// Until a provisioning engine lands, the application owners are asked
	// to grant approved requests by hand (Fulfilment); without Slack nobody
	// can be asked, and approved requests are only recorded.
	var prov requests.Provisioner = requests.RecordOnly{}
	if slackNotifier != nil {
		prov = slackNotifier.Fulfilment()
	}
	svc = requests.New(rt.Store, notifier, prov, rt.Now, requests.Policy(rt.Config.Approvals), rt.Log, opts...)
	h := handlers.NewRequests(svc, rt.Store, rt.Log)
	if slackNotifier != nil {
		h.WithSlackIDCache(slackNotifier) // user_change drops its cached Slack ids
	}
	return &requestParts{Service: svc, Notifier: slackNotifier, Handlers: h}
}

// jobQueue opens River on the store's database (its tables were migrated
// with the store's).
func (rt *Runtime) jobQueue(workers *river.Workers) (*jobs.Queue, error) {
	db, ok := rt.Store.(interface{ DB() *sql.DB })
	if !ok {
		return nil, fmt.Errorf("durable jobs need a SQL store, not %T", rt.Store)
	}
	jc := rt.Config.Jobs
	cfg := jobs.Config{Driver: rt.Config.Store.Driver, DB: db.DB(), Workers: workers, Timeout: jc.Timeout, RescueAfter: jc.RescueAfter, Log: rt.Log}
	if jc.MaxBackoff > 0 {
		cfg.Backoff = func(attempt int) time.Duration {
			return min(time.Duration(attempt*attempt*attempt*attempt)*time.Second, jc.MaxBackoff)
		}
	}
	q, err := jobs.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("durable jobs (store.driver %s): %w", rt.Config.Store.Driver, err)
	}
	return q, nil
}

// requestHandlers are the Slack handlers of access requests, nil when run
// built none (tests that start only the Slack runtime).
func (rt *Runtime) requestHandlers() *handlers.Requests {
	if rt.Requests == nil {
		return nil
	}
	return rt.Requests.Handlers
}
