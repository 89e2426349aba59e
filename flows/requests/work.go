package requests

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

// JobKind names a piece of work a state change causes: one Notifier call, or provisioning.
type JobKind string

const (
	JobRequestCreated  JobKind = "request_created"  // Notifier.RequestCreated
	JobApprovalNeeded  JobKind = "approval_needed"  // Notifier.ApprovalNeeded(Level, ApproverIDs)
	JobLevelDecided    JobKind = "level_decided"    // Notifier.LevelDecided(Level, decisions up to DecisionID)
	JobRequestFinished JobKind = "request_finished" // Notifier.RequestFinished
	JobRemind          JobKind = "remind"           // Notifier.Remind(Level, ApproverIDs)
	JobProvision       JobKind = "provision"        // Provisioner.Provision of an approved request
)

// JobKinds lists every kind, for registering workers.
func JobKinds() []JobKind {
	return []JobKind{JobRequestCreated, JobApprovalNeeded, JobLevelDecided, JobRequestFinished, JobRemind, JobProvision}
}

// Job is work caused by a committed state change. It carries ids only:
// RunJob re-reads the request, so a job run late (after a retry or a
// restart) acts on what is stored then.
type Job struct {
	Kind      JobKind `json:"kind"`
	TenantID  string  `json:"tenant_id"`
	RequestID string  `json:"request_id"`
	// Level is 0-based (approval_needed, level_decided, remind).
	Level       int      `json:"level"`
	ApproverIDs []string `json:"approver_ids,omitempty"`
	// DecisionID is the decision that caused a level_decided job.
	DecisionID string `json:"decision_id,omitempty"`
}

// ErrRequestGone: a job's request no longer exists (its tenant was
// deleted); no retry can do the job.
var ErrRequestGone = errors.New("the job's request no longer exists")

// Enqueuer queues jobs durably in the store transaction q of the state
// change that causes them, so they exist exactly when that change commits
// and are run later by something that calls Service.RunJob (package
// requestjobs does, on River).
type Enqueuer interface {
	Enqueue(ctx context.Context, q store.Queries, jobs []Job) error
}

// Option configures a Service.
type Option func(*Service)

// WithEnqueuer makes the Service enqueue its jobs with e, in the
// transaction of each change. Without it jobs run in process right after
// the commit and a failure is only logged: fine for tests and CLIs, not for
// production, where a crash or a Slack outage would lose them.
func WithEnqueuer(e Enqueuer) Option { return func(s *Service) { s.enq = e } }

// inTx runs fn in one store transaction. The jobs fn adds are enqueued in
// that transaction, or, without an Enqueuer, run once it committed.
func (s *Service) inTx(ctx context.Context, fn func(q store.Queries, add func(...Job)) error) error {
	var pending []Job
	err := s.st.InTx(ctx, func(q store.Queries) error {
		pending = nil
		if err := fn(q, func(j ...Job) { pending = append(pending, j...) }); err != nil {
			return err
		}
		if s.enq == nil || len(pending) == 0 {
			return nil
		}
		if err := s.enq.Enqueue(ctx, q, pending); err != nil {
			return fmt.Errorf("enqueue %d job(s): %w", len(pending), err)
		}
		return nil
	})
	if err != nil || s.enq != nil {
		return err
	}
	for _, j := range pending {
		if err := s.RunJob(ctx, j); err != nil {
			s.log.Error().Err(err).Str("tenant", j.TenantID).Str("request", j.RequestID).Str("job", string(j.Kind)).Msg("job failed")
		}
	}
	return nil
}

// RunJob does j: it re-reads the request and calls the Notifier or the
// Provisioner. A request_created job, once the confirmation is sent, adds
// the approval_needed job of level 1 (see askFirstLevel). A request gone from the store answers ErrRequestGone, which
// no retry fixes. Work made pointless by a later change (approvals
// or reminders for a level already closed, provisioning of a request no
// longer approved) is skipped.
func (s *Service) RunJob(ctx context.Context, j Job) error {
	req, err := s.st.GetRequest(ctx, j.TenantID, j.RequestID)
	if errors.Is(err, accessbot.ErrNotFound) {
		return fmt.Errorf("%s job: request %s: %w (%v)", j.Kind, j.RequestID, ErrRequestGone, err)
	}
	if err != nil {
		return fmt.Errorf("%s job: load request %s: %w", j.Kind, j.RequestID, err)
	}
	switch j.Kind {
	case JobRequestCreated:
		err = s.notify.RequestCreated(ctx, req)
		if err == nil || s.enq == nil {
			// In process nothing retries the confirmation: ask level 1 anyway.
			err = errors.Join(err, s.askFirstLevel(ctx, req))
		}
	case JobApprovalNeeded:
		if LevelClosed(req, j.Level) {
			return nil // LevelDecided or RequestFinished updates the level's messages
		}
		err = s.notify.ApprovalNeeded(ctx, req, j.Level, j.ApproverIDs)
	case JobLevelDecided:
		var decisions []accessbot.Decision
		if decisions, err = s.decisionsThrough(ctx, req, j.Level, j.DecisionID); err == nil {
			err = s.notify.LevelDecided(ctx, req, j.Level, decisions)
		}
	case JobRequestFinished:
		err = s.notify.RequestFinished(ctx, req)
	case JobRemind:
		if LevelClosed(req, j.Level) {
			return nil
		}
		err = s.notify.Remind(ctx, req, j.Level, j.ApproverIDs)
	case JobProvision:
		if req.Status != accessbot.StatusApproved {
			return nil
		}
		err = s.prov.Provision(ctx, req)
	default:
		return fmt.Errorf("run job: unknown kind %q: %w", j.Kind, accessbot.ErrInvalid)
	}
	if err != nil {
		return fmt.Errorf("%s job for request %s: %w", j.Kind, j.RequestID, err)
	}
	return nil
}

// GiveUpJob is called when j failed for good (a final error, or its last
// attempt): the work that waited for it goes ahead without it. A
// confirmation that never arrives must not keep level 1 from being asked.
func (s *Service) GiveUpJob(ctx context.Context, j Job) error {
	if j.Kind != JobRequestCreated {
		return nil
	}
	req, err := s.st.GetRequest(ctx, j.TenantID, j.RequestID)
	if errors.Is(err, accessbot.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("give up %s job: load request %s: %w", j.Kind, j.RequestID, err)
	}
	return s.askFirstLevel(ctx, req)
}

// askFirstLevel is the job asking level 1's approvers, added once the
// requester's confirmation exists so the approvers' news can go in its
// thread: a per-request order River alone does not give, since it works
// jobs concurrently. With an Enqueuer it is inserted (once: identical jobs
// are deduplicated, so a retried confirmation adds nothing); without one it
// runs now.
func (s *Service) askFirstLevel(ctx context.Context, req *accessbot.AccessRequest) error {
	if LevelClosed(req, 0) {
		return nil
	}
	j := Job{Kind: JobApprovalNeeded, TenantID: req.TenantID, RequestID: req.ID, Level: 0, ApproverIDs: LevelApprovers(req, 0)}
	if s.enq == nil {
		return s.RunJob(ctx, j)
	}
	if err := s.st.InTx(ctx, func(q store.Queries) error { return s.enq.Enqueue(ctx, q, []Job{j}) }); err != nil {
		return fmt.Errorf("enqueue level 1 of request %s: %w", req.ID, err)
	}
	return nil
}

// decisionsThrough returns the decisions at level, in order, up to and
// including decisionID (all of them when it is not found).
func (s *Service) decisionsThrough(ctx context.Context, req *accessbot.AccessRequest, level int, decisionID string) ([]accessbot.Decision, error) {
	all, err := s.st.ListDecisions(ctx, req.TenantID, req.ID)
	if err != nil {
		return nil, fmt.Errorf("list decisions: %w", err)
	}
	at := decisionsAt(all, level)
	if i := slices.IndexFunc(at, func(d accessbot.Decision) bool { return d.ID == decisionID }); i >= 0 {
		at = at[:i+1]
	}
	return at, nil
}
