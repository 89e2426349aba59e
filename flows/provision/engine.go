package provision

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/jobs"
	"github.com/accessbot/accessbot/store"
)

// Defaults of an Engine's Config.
const (
	DefaultStepTimeout  = 2 * time.Minute
	DefaultStepAttempts = 8
)

// SystemActor is the audit actor of what the engine does by itself.
const SystemActor = "system"

// Notifier shows a flow's state to people: the requester's one message per
// flow, and the tenant admins' news of a failed step. It is called from a
// durable job after every change, with the flow as stored then, so it may be
// called more than once for one state (it must be idempotent: post once,
// then update).
type Notifier interface {
	FlowChanged(ctx context.Context, f *accessbot.ActionFlow) error
}

// Config builds an Engine.
type Config struct {
	Store store.Store
	// StepTimeout bounds one run of a step whose script sets no timeout.
	StepTimeout time.Duration
	// StepAttempts is how often a step runs before it fails for good.
	StepAttempts int
	// Backoff is the wait after failed attempt n; nil means River's.
	Backoff  func(attempt int) time.Duration
	Notifier Notifier // nil: nobody is told
	// OnProvisioned, when set, runs in the transaction that marks a
	// request's provisioning flow done (playbooks queue request.provisioned).
	OnProvisioned func(ctx context.Context, q store.Queries, r *accessbot.AccessRequest) error
	Clock         func() time.Time
	Log           zerolog.Logger
}

// Engine creates ActionFlows and runs their steps as River jobs. It is the
// requests.Provisioner, the Resolver and the Deprovisioner.
type Engine struct {
	st       store.Store
	cfg      Config
	log      zerolog.Logger
	mu       sync.RWMutex
	runners  map[string]Runner
	q        *jobs.Queue
	now      func() time.Time
	notifier Notifier
}

var (
	_ Resolver      = (*Engine)(nil)
	_ Deprovisioner = (*Engine)(nil)
)

// New builds an engine; AddWorkers and SetQueue wire it to River.
func New(cfg Config) *Engine {
	if cfg.StepTimeout <= 0 {
		cfg.StepTimeout = DefaultStepTimeout
	}
	if cfg.StepAttempts <= 0 {
		cfg.StepAttempts = DefaultStepAttempts
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	e := &Engine{st: cfg.Store, cfg: cfg, log: cfg.Log.With().Str("component", "provision").Logger(),
		runners: map[string]Runner{}, now: func() time.Time { return cfg.Clock().UTC() }, notifier: cfg.Notifier}
	e.Register(KindNone, RunnerFunc(func(context.Context, Step) (Result, error) { return Result{Note: "nothing to do"}, nil }))
	return e
}

// SetQueue is the queue step jobs go to (the workers need the engine, the
// queue needs the workers).
func (e *Engine) SetQueue(q *jobs.Queue) { e.q = q }

// SetNotifier sets who is told about flows (the Slack layer, built later).
func (e *Engine) SetNotifier(n Notifier) { e.notifier = n }

// Register makes r run every step of kind k (manual, slack, email,
// gitlab_issue). For api and webhook steps, use RegisterProvider.
func (e *Engine) Register(k Kind, r Runner) { e.setRunner(string(k), r) }

// RegisterProvider makes r run the steps of kind k (api or webhook) of one
// provider; provider "" runs every provider's steps of that kind that has
// no runner of its own.
func (e *Engine) RegisterProvider(k Kind, provider string, r Runner) {
	e.setRunner(string(k)+":"+provider, r)
}

func (e *Engine) setRunner(key string, r Runner) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.runners[key] = r
}

func (e *Engine) runner(k Kind, provider string) Runner {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if k == KindProviderAPI || k == KindWebhook {
		if r := e.runners[string(k)+":"+provider]; r != nil {
			return r
		}
		return e.runners[string(k)+":"]
	}
	return e.runners[string(k)]
}

// River job kinds. Stored in river_job.kind: never rename.
const (
	KindStepJob    = "provision_step"
	KindChangedJob = "provision_flow_changed"
)

// StepArgs is one run of a flow's step.
type StepArgs struct {
	TenantID string `json:"tenant_id"`
	FlowID   string `json:"flow_id"`
	Index    int    `json:"index"`
	// Wake marks the job a sleep step queues for its end (unix seconds).
	Wake int64 `json:"wake,omitempty"`
	// Try counts an admin's retries of a failed step.
	Try int `json:"try,omitempty"`
}

func (StepArgs) Kind() string { return KindStepJob }

// ChangedArgs tells people about a flow at one version.
type ChangedArgs struct {
	TenantID string `json:"tenant_id"`
	FlowID   string `json:"flow_id"`
	Version  int    `json:"version"`
}

func (ChangedArgs) Kind() string { return KindChangedJob }

// unique: one waiting or running job per args; a finished one may be run again (an admin's retry).
var unique = river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
	rivertype.JobStateRetryable, rivertype.JobStateScheduled,
}}

// AddWorkers registers the engine's job kinds on w.
func (e *Engine) AddWorkers(w *river.Workers) {
	river.AddWorker(w, &stepWorker{e: e})
	river.AddWorker(w, &changedWorker{e: e})
}

type stepWorker struct {
	river.WorkerDefaults[StepArgs]
	e *Engine
}

func (w *stepWorker) NextRetry(j *river.Job[StepArgs]) time.Time {
	if w.e.cfg.Backoff == nil {
		return time.Time{}
	}
	return time.Now().Add(w.e.cfg.Backoff(max(j.Attempt, 1)))
}

func (w *stepWorker) Work(ctx context.Context, j *river.Job[StepArgs]) error {
	return w.e.runStep(ctx, j.Args, j.Attempt)
}

type changedWorker struct {
	river.WorkerDefaults[ChangedArgs]
	e *Engine
}

// Work shows the flow. A full Slack pace (a jobs.Busy error) snoozes it
// through the jobs middleware.
func (w *changedWorker) Work(ctx context.Context, j *river.Job[ChangedArgs]) error {
	if w.e.notifier == nil {
		return nil
	}
	// Jobs of one flow may run side by side: each shows the flow as stored
	// when it ran, and shows it again if it changed meanwhile, so the last
	// update people see is never an older state.
	seen := -1
	for range 3 {
		f, err := w.e.st.GetActionFlow(ctx, j.Args.TenantID, j.Args.FlowID)
		if errors.Is(err, accessbot.ErrNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("load flow %s: %w", j.Args.FlowID, err)
		}
		if f.Version == seen || (seen < 0 && f.Version > j.Args.Version) {
			return nil // shown, or a later change's own job shows it
		}
		if err := w.e.notifier.FlowChanged(ctx, f); err != nil {
			return err
		}
		seen = f.Version
	}
	return nil
}

// enqueue inserts a job in the store transaction q.
func (e *Engine) enqueue(ctx context.Context, q store.Queries, args river.JobArgs, at time.Time) error {
	if e.q == nil {
		return fmt.Errorf("insert %s job: the engine has no job queue: %w", args.Kind(), accessbot.ErrInvalid)
	}
	opts := &river.InsertOpts{UniqueOpts: unique, MaxAttempts: e.cfg.StepAttempts + 2}
	if !at.IsZero() {
		opts.ScheduledAt = at
	}
	if _, err := e.q.InsertTx(ctx, q, args, opts); err != nil {
		return err
	}
	return nil
}

// changed saves f over the version read and queues the news of it, in q.
func (e *Engine) save(ctx context.Context, q store.Queries, f *accessbot.ActionFlow) error {
	if err := q.SaveActionFlow(ctx, f); err != nil {
		return err
	}
	return e.queueChanged(ctx, q, f)
}

func (e *Engine) queueChanged(ctx context.Context, q store.Queries, f *accessbot.ActionFlow) error {
	if e.notifier == nil {
		return nil
	}
	return e.enqueue(ctx, q, ChangedArgs{TenantID: f.TenantID, FlowID: f.ID, Version: f.Version}, time.Time{})
}

// audit appends one entry about flow f.
func (e *Engine) audit(ctx context.Context, q store.Queries, f *accessbot.ActionFlow, actor, action string, detail any) error {
	after, err := json.Marshal(detail)
	if err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	if actor == "" {
		actor = SystemActor
	}
	if err := q.AppendAudit(ctx, &accessbot.AuditEntry{TenantID: f.TenantID, At: e.now(), ActorID: actor, Action: action,
		ObjectType: AuditObject, ObjectID: f.ID, After: after}); err != nil {
		return fmt.Errorf("audit %s of flow %s: %w", action, f.ID, err)
	}
	return nil
}

// Audit actions, all with ObjectType AuditObject and ObjectID the flow id.
const (
	AuditObject       = "action_flow"
	ActionFlowStarted = "flow.started"
	ActionStepDone    = "flow.step_done"
	ActionStepWaiting = "flow.step_waiting"
	ActionStepFailed  = "flow.step_failed"
	ActionStepRetried = "flow.step_retry" // an attempt failed; retried
	ActionStepAnswer  = "flow.step_answered"
	ActionFlowDone    = "flow.done"
	ActionFlowFailed  = "flow.failed"
	ActionFlowCancel  = "flow.cancelled"
	ActionAdminRetry  = "flow.retried"
	ActionMarkedDone  = "flow.step_marked_done"
)

type stepAudit struct {
	Index   int               `json:"index"`
	Type    string            `json:"type"`
	Attempt int               `json:"attempt,omitempty"`
	Note    string            `json:"note,omitempty"`
	Error   string            `json:"error,omitempty"`
	Outputs map[string]string `json:"outputs,omitempty"`
	Reason  string            `json:"reason,omitempty"`
}
