package main

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/accessbot/accessbot/flows/grants"
	"github.com/accessbot/accessbot/flows/playbooks"
	"github.com/accessbot/accessbot/flows/provision"
	"github.com/accessbot/accessbot/flows/purposes"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/flows/requests/requestjobs"
	"github.com/accessbot/accessbot/flows/reviews"
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
	// Provisioning is the engine that carries out approved requests
	// (requests.Provisioner), answers waiting steps (provision.Resolver)
	// and ends grants (provision.Deprovisioner); connectors register
	// their runners on it.
	Provisioning *provision.Engine
	// Flows are the admins' buttons on failed flows, nil without Slack.
	Flows *handlers.Flows
	// Steps answer the buttons of manual and slack_approval steps, nil without Slack.
	Steps *handlers.Steps
	// Grants ends time-bound and revoked access through the engine's
	// deprovisioning chains, and sends expiry notices.
	Grants *grants.Service
	// Purposes starts and ends purpose sessions (docs/purposes.md); its
	// Tick ends sessions past their end.
	Purposes *purposes.Service
	// PurposeHandlers are the Slack side of purposes, nil without Slack.
	PurposeHandlers *handlers.Purposes
	// queue is the durable job queue, nil when it could not be opened;
	// startJobs starts it once the review service exists.
	queue *jobs.Queue
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
			Now: rt.Now, Lease: rt.Config.Jobs.DeliveryLease, Log: rt.Log})
		notifier = slackNotifier
	}
	// Playbooks hear of request events through the notifier's durable jobs.
	rt.Playbooks = newPlaybooks(rt.Config, rt.Store, rt.keys(), rt.Now, rt.Log)
	notifier = rt.Playbooks.Requests(notifier)
	if slackNotifier != nil { // "Run playbook" on the approval and requester messages
		slackNotifier.WithPlaybooks(rt.playbookMenus())
	}
	if clients := rt.chatClients(); clients != nil { // failed runs: the admins hear once
		rt.Playbooks.SetReporter(handlers.NewPlaybookReporter(rt.Store, handlers.ReviewNotifierConfig{Clients: clients, Now: rt.Now,
			Lease: rt.Config.Jobs.DeliveryLease, Log: rt.Log}))
	}
	var svc *requests.Service
	workers := river.NewWorkers()
	jc := rt.Config.Jobs
	// jobs.timeout bounds every job, a step's run included.
	pc := provision.Config{Store: rt.Store, StepTimeout: min(jc.StepTimeout, jc.Timeout), StepAttempts: jc.StepAttempts, Clock: rt.Now, Log: rt.Log,
		OnProvisioned: rt.Playbooks.Provisioned} // request.provisioned, queued as the flow is marked done
	if jc.MaxBackoff > 0 {
		pc.Backoff = func(attempt int) time.Duration {
			return min(time.Duration(attempt*attempt*attempt*attempt)*time.Second, jc.MaxBackoff)
		}
	}
	eng := provision.New(pc)
	eng.AddWorkers(workers)
	rt.Playbooks.AddWorkers(workers)
	requestjobs.AddWorkers(workers, func(ctx context.Context, j requests.Job) error { return svc.RunJob(ctx, j) },
		handlers.FinalSlackError, rt.Log,
		requestjobs.WithGiveUp(func(ctx context.Context, j requests.Job) error { return svc.GiveUpJob(ctx, j) }))
	// A review launch's DMs; buildReviews makes the service before startJobs.
	reviews.AddWorkers(workers, func() *reviews.Service { return rt.Reviews.Service }, handlers.FinalSlackError)
	var opts []requests.Option
	var queue *jobs.Queue
	if q, err := rt.jobQueue(workers); err != nil {
		rt.Go("jobs", func(context.Context) error { return err }) // stops run with the reason
	} else {
		opts = append(opts, requests.WithEnqueuer(requestjobs.NewEnqueuer(q)))
		if err := rt.HTTP.Registry().Register(q.Collector()); err != nil {
			rt.Log.Warn().Err(err).Msg("job queue metrics not registered")
		}
		if db, ok := rt.Store.(interface{ DB() *sql.DB }); ok {
			if err := rt.HTTP.Registry().Register(requests.StateCollector(db.DB())); err != nil {
				rt.Log.Warn().Err(err).Msg("request state metrics not registered")
			}
		}
		eng.SetQueue(q)
		rt.Playbooks.SetEnqueuer(q)
		queue = q
	}
	// Approved requests run their application's action chain
	// (docs/provisioning.md); the default chain is one manual step, which
	// asks the application's owners by DM (Fulfilment). Without Slack a
	// manual step waits until it is resolved another way.
	var flows *handlers.Flows
	if slackNotifier != nil {
		eng.Register(provision.KindManual, slackNotifier.Fulfilment())
		eng.SetNotifier(slackNotifier.Flows())
		flows = handlers.NewFlows(eng, rt.Store)
	} else {
		eng.Register(provision.KindManual, provision.RunnerFunc(func(context.Context, provision.Step) (provision.Result, error) {
			return provision.Result{Wait: true, Note: "waiting for the owners (Slack is not configured to ask them)"}, nil
		}))
	}
	// Grants end through the engine's deprovisioning chains (at their end,
	// on a review's or a finding's Revoke, when their connection is
	// deleted); Extender carries out approved extensions by moving the end.
	var prov requests.Provisioner = eng
	var expiryNotes grants.Notifier // nil without Slack: no notices
	if slackNotifier != nil {
		expiryNotes = slackNotifier
	}
	gs, err := grants.New(grants.Config{Store: rt.Store, Deprovisioner: eng, Notifier: expiryNotes, Clock: rt.Now, Log: rt.Log})
	if err != nil {
		rt.Go("grants", func(context.Context) error { return err })
	} else {
		prov = gs.Extender(eng)
	}
	// Purposes: approved assignments and starts are carried out by the
	// purposes service; a session's connections run through the engine and
	// end through the grants service.
	var ps *purposes.Service
	if gs != nil {
		var perr error
		ps, perr = purposes.New(purposes.Config{Store: rt.Store, Provisioner: eng, Revoker: gs, Clock: rt.Now, Log: rt.Log})
		if perr != nil {
			rt.Go("purposes", func(context.Context) error { return perr })
		} else {
			if slackNotifier != nil {
				ps.SetNotifier(slackNotifier.Purposes(rt.Store))
			}
			prov = ps.Approvals(prov)
		}
	}
	steps := rt.registerConnectors(eng, eng, slackNotifier) // docs/connectors.md
	svc = requests.New(rt.Store, notifier, prov, rt.Now, requests.Policy(rt.Config.Approvals), rt.Log, opts...)
	h := handlers.NewRequests(svc, rt.Store, rt.Log).WithClock(rt.Now)
	if slackNotifier != nil {
		h.WithClickedMessages(slackNotifier) // an Approve click shows on its message at once
	}
	rt.mountStepUp(svc, h) // stepup.go: high-risk approvals need re-authentication
	parts := &requestParts{Service: svc, Notifier: slackNotifier, Handlers: h, Provisioning: eng, Flows: flows, Grants: gs, Steps: steps, Purposes: ps,
		queue: queue}
	if ps != nil && slackNotifier != nil {
		parts.PurposeHandlers = handlers.NewPurposes(ps, svc, rt.Store, rt.Now, rt.Log)
	}
	return parts
}

// startJobs works the durable jobs ("jobs" goroutine) once every kind's
// worker has what it runs: the review service is built after the queue.
func (rt *Runtime) startJobs() {
	if rt.Requests == nil || rt.Requests.queue == nil {
		return
	}
	q := rt.Requests.queue
	rt.Go("jobs", func(ctx context.Context) error { return q.Run(ctx, jobsStopTimeout) })
}

// keys is the keyring as playbooks.Keys, nil (not a typed nil) when unset.
func (rt *Runtime) keys() playbooks.Keys {
	if rt.Keyring == nil {
		return nil
	}
	return rt.Keyring
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
	if cfg.Driver == jobs.Postgres {
		cfg.ListenDSN = rt.Config.Store.DSN.Reveal() // new jobs start at once, not at the next poll
	}
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

// digestActions are the finding buttons: Acknowledge, Resolve and, when
// grants can end, Revoke on a terminated employee's finding.
func (rt *Runtime) digestActions() *handlers.ItemActions {
	a := handlers.DefaultItemActions()
	if rt.Requests != nil && rt.Requests.Grants != nil {
		if err := a.Add(handlers.RevokeItemAction(rt.Requests.Grants)); err != nil {
			panic(err) // a fixed, distinct id
		}
	}
	return a
}

// flowHandlers are the admins' buttons on failed provisioning flows, nil
// when run built no request runtime or has no Slack.
func (rt *Runtime) flowHandlers() *handlers.Flows {
	if rt.Requests == nil {
		return nil
	}
	return rt.Requests.Flows
}

// stepHandlers are the buttons of flow steps, nil when run built no
// request runtime or has no Slack.
func (rt *Runtime) stepHandlers() *handlers.Steps {
	if rt.Requests == nil {
		return nil
	}
	return rt.Requests.Steps
}

// purposeHandlers are the Slack side of purposes, nil when run built no
// request runtime or has no Slack.
func (rt *Runtime) purposeHandlers() *handlers.Purposes {
	if rt.Requests == nil {
		return nil
	}
	return rt.Requests.PurposeHandlers
}
