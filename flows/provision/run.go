package provision

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/internal/metrics"
	"github.com/accessbot/accessbot/jobs"
	"github.com/accessbot/accessbot/store"
)

// errSkip: the step is not this job's to run (finished, answered, cancelled,
// or the flow has moved on): the job ends quietly.
var errSkip = errors.New("nothing to run")

// runStep is one run of a step job. A step already finished is never run
// again; every state change happens under the flow's row lock over the
// version read, and the next step's job is queued in the transaction that
// marks this one done.
func (e *Engine) runStep(ctx context.Context, a StepArgs, attempt int) error {
	script := "unknown"
	failed := func(cause error) error {
		final := IsPermanent(cause) || attempt >= e.cfg.StepAttempts
		countStep(script, map[bool]string{true: "failed", false: "retried"}[final])
		return e.fail(ctx, a, cause, attempt)
	}
	f, step, err := e.claim(ctx, a)
	if errors.Is(err, errSkip) {
		return nil
	}
	if err != nil {
		return err
	}
	kind, provider, op, err := ParseType(step.Type)
	if err == nil {
		script = string(kind)
	}
	if err != nil {
		return failed(Permanent(err))
	}
	var fl Fields
	if err := json.Unmarshal(f.Fields, &fl); err != nil {
		return failed(Permanent(fmt.Errorf("decode flow fields: %w", err)))
	}
	fl.Outputs = maps.Clone(f.Outputs)
	if fl.Outputs == nil {
		fl.Outputs = map[string]string{}
	}
	params, err := RenderParams(step.Params, fl)
	if err != nil {
		return failed(Permanent(err))
	}
	if kind == KindSleep {
		return e.sleep(ctx, a, step, params)
	}
	r := e.runner(kind, provider)
	if r == nil {
		return failed(Permanent(fmt.Errorf("no runner for %q in this accessbot: %w", step.Type, ErrUnknownScript)))
	}
	timeout := step.Timeout
	if timeout <= 0 {
		timeout = e.cfg.StepTimeout
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	res, err := r.Run(rctx, Step{TenantID: f.TenantID, FlowID: f.ID, Index: a.Index, Type: step.Type, Kind: kind,
		Provider: provider, Op: op, Params: params, Key: f.ID + "_" + strconv.Itoa(a.Index), Attempt: attempt, Started: *step.StartedAt, Fields: fl})
	timedOut := errors.Is(rctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil
	cancel()
	if err != nil {
		if _, busy := jobs.BusyFor(err); busy && !timedOut {
			// Nothing failed (Slack's pace is full): the job is snoozed
			// and runs the step again, no attempt spent.
			return err
		}
		if timedOut {
			err = fmt.Errorf("step timed out after %s: %w", timeout, err)
		}
		return failed(err)
	}
	if res.Wait {
		countStep(script, "waiting")
		return e.park(ctx, a, res)
	}
	err = e.complete(ctx, a, res, "", "", ActionStepDone)
	if err == nil {
		countStep(script, "done")
	}
	return err
}

// claim marks the step running (once per attempt) and returns the flow as stored.
func (e *Engine) claim(ctx context.Context, a StepArgs) (*accessbot.ActionFlow, accessbot.ActionFlowStep, error) {
	var f *accessbot.ActionFlow
	var step accessbot.ActionFlowStep
	err := e.st.InTx(ctx, func(q store.Queries) error {
		var err error
		f, err = q.GetActionFlowForUpdate(ctx, a.TenantID, a.FlowID)
		if errors.Is(err, accessbot.ErrNotFound) {
			return errSkip
		}
		if err != nil {
			return err
		}
		if !runnable(f, a.Index) {
			return errSkip
		}
		s := &f.Steps[a.Index]
		if s.Status != accessbot.FlowRunning || f.Status != accessbot.FlowRunning {
			now := e.now()
			s.Status, f.Status = accessbot.FlowRunning, accessbot.FlowRunning
			if s.StartedAt == nil { // the first run's start, kept across retries (Step.Started)
				s.StartedAt = &now
			}
			s.LastError = ""
			if err := e.save(ctx, q, f); err != nil {
				return err
			}
		}
		step = *s
		return nil
	})
	return f, step, err
}

// runnable: index is the flow's current step, and neither it nor the flow is finished or waiting.
func runnable(f *accessbot.ActionFlow, index int) bool {
	if f.Status.Finished() || f.Status == accessbot.FlowFailed || f.Status == accessbot.FlowWaiting {
		return false
	}
	if index != f.Current || index >= len(f.Steps) {
		return false
	}
	switch f.Steps[index].Status {
	case accessbot.FlowPending, accessbot.FlowRunning:
		return true
	}
	return false
}

// lockRunning locks the flow and checks its step index still runs.
func lockRunning(ctx context.Context, q store.Queries, a StepArgs) (*accessbot.ActionFlow, error) {
	f, err := q.GetActionFlowForUpdate(ctx, a.TenantID, a.FlowID)
	if errors.Is(err, accessbot.ErrNotFound) {
		return nil, errSkip
	}
	if err != nil {
		return nil, err
	}
	if f.Current != a.Index || a.Index >= len(f.Steps) || f.Steps[a.Index].Status != accessbot.FlowRunning || f.Status != accessbot.FlowRunning {
		return nil, errSkip
	}
	return f, nil
}

// sleep parks a sleep step without holding a worker: its job is queued
// again for the end of the sleep, which then completes it.
func (e *Engine) sleep(ctx context.Context, a StepArgs, step accessbot.ActionFlowStep, params map[string]string) error {
	d, err := SleepDuration(params["duration"])
	if err != nil {
		return e.fail(ctx, a, Permanent(err), 1)
	}
	end := step.StartedAt.Add(d)
	if !e.now().Before(end) {
		return e.complete(ctx, a, Result{Note: "slept " + d.String()}, "", "", ActionStepDone)
	}
	err = e.st.InTx(ctx, func(q store.Queries) error {
		if _, err := lockRunning(ctx, q, a); err != nil {
			return err
		}
		next := a
		next.Wake = end.Unix()
		return e.enqueue(ctx, q, next, end)
	})
	if errors.Is(err, errSkip) {
		return nil
	}
	return err
}

// park records that the step waits for an answer (Resolver.Resolve).
func (e *Engine) park(ctx context.Context, a StepArgs, res Result) error {
	err := e.st.InTx(ctx, func(q store.Queries) error {
		f, err := lockRunning(ctx, q, a)
		if err != nil {
			return err
		}
		s := &f.Steps[a.Index]
		s.Status, f.Status = accessbot.FlowWaiting, accessbot.FlowWaiting
		s.Attempts++
		s.Note = res.Note
		s.Outputs = res.Outputs
		mergeOutputs(f, res.Outputs)
		if err := e.audit(ctx, q, f, SystemActor, ActionStepWaiting, stepAudit{Index: a.Index, Type: s.Type, Note: res.Note}); err != nil {
			return err
		}
		return e.save(ctx, q, f)
	})
	if errors.Is(err, errSkip) {
		return nil
	}
	return err
}

func mergeOutputs(f *accessbot.ActionFlow, out map[string]string) {
	if len(out) == 0 {
		return
	}
	if f.Outputs == nil {
		f.Outputs = map[string]string{}
	}
	maps.Copy(f.Outputs, out)
}

// complete marks the step done (from a run, or an answer by actor) and
// queues the next step, or finishes the flow, in one transaction.
func (e *Engine) complete(ctx context.Context, a StepArgs, res Result, actor, reason, action string) error {
	err := e.st.InTx(ctx, func(q store.Queries) error {
		f, err := lockRunning(ctx, q, a)
		if err != nil {
			return err
		}
		return e.advance(ctx, q, f, res, actor, reason, action)
	})
	if errors.Is(err, errSkip) {
		return nil
	}
	return err
}

// advance marks f's current step done and moves on, inside q with f locked.
func (e *Engine) advance(ctx context.Context, q store.Queries, f *accessbot.ActionFlow, res Result, actor, reason, action string) error {
	now := e.now()
	i := f.Current
	s := &f.Steps[i]
	if s.Status == accessbot.FlowRunning {
		s.Attempts++
	}
	s.Status, s.FinishedAt, s.LastError = accessbot.FlowDone, &now, ""
	if res.Note != "" {
		s.Note = res.Note
	}
	if actor != "" {
		s.AnsweredBy = actor
	}
	if res.Outputs != nil {
		s.Outputs = res.Outputs
	}
	mergeOutputs(f, res.Outputs)
	if err := e.audit(ctx, q, f, actor, action, stepAudit{Index: i, Type: s.Type, Attempt: s.Attempts, Note: s.Note,
		Outputs: res.Outputs, Reason: reason}); err != nil {
		return err
	}
	if i+1 < len(f.Steps) {
		f.Current, f.Status = i+1, accessbot.FlowRunning
		if err := e.save(ctx, q, f); err != nil {
			return err
		}
		return e.enqueue(ctx, q, StepArgs{TenantID: f.TenantID, FlowID: f.ID, Index: i + 1}, time.Time{})
	}
	f.Status, f.FinishedAt = accessbot.FlowDone, &now
	if err := e.finish(ctx, q, f); err != nil {
		return err
	}
	if err := e.audit(ctx, q, f, actor, ActionFlowDone, map[string]any{"key": f.Key, "outputs": f.Outputs}); err != nil {
		return err
	}
	return e.save(ctx, q, f)
}

// fail records a failed attempt. A permanent error, or the last attempt,
// fails the step and the flow (admins can retry it); any other is retried
// by River with backoff.
func (e *Engine) fail(ctx context.Context, a StepArgs, cause error, attempt int) error {
	final := IsPermanent(cause) || attempt >= e.cfg.StepAttempts
	err := e.st.InTx(ctx, func(q store.Queries) error {
		f, err := lockRunning(ctx, q, a)
		if err != nil {
			return err
		}
		s := &f.Steps[a.Index]
		s.Attempts++
		s.LastError = cause.Error()
		if !final {
			if err := e.audit(ctx, q, f, SystemActor, ActionStepRetried, stepAudit{Index: a.Index, Type: s.Type, Attempt: s.Attempts, Error: s.LastError}); err != nil {
				return err
			}
			return e.save(ctx, q, f)
		}
		now := e.now()
		s.Status, s.FinishedAt, f.Status = accessbot.FlowFailed, &now, accessbot.FlowFailed
		if err := e.audit(ctx, q, f, SystemActor, ActionStepFailed, stepAudit{Index: a.Index, Type: s.Type, Attempt: s.Attempts, Error: s.LastError}); err != nil {
			return err
		}
		return e.save(ctx, q, f)
	})
	switch {
	case errors.Is(err, errSkip):
		return nil
	case err != nil:
		return errors.Join(cause, fmt.Errorf("record the failure: %w", err))
	case final:
		e.log.Warn().Err(cause).Str("tenant", a.TenantID).Str("flow", a.FlowID).Int("step", a.Index).Msg("step failed for good")
		return nil
	}
	return cause
}

// countStep counts a step run in accessbot_flow_steps_total by its script
// kind (webhook, gitlab, sleep, manual...) and outcome: done, waiting (for an
// answer), retried, failed.
func countStep(script, outcome string) { metrics.FlowSteps.WithLabelValues(script, outcome).Inc() }
