package jobs

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/accessbot/accessbot/internal/metrics"
	"github.com/accessbot/accessbot/internal/waitbudget"
)

// WaitBudget is how long a job may block inside for a shared pace (Slack's
// rate limits) before the call gives up with a Busy error: every job runs
// with it (waitbudget). A longer wait would hold one of the few worker
// slots doing nothing, and enough such jobs (a burst of flow-message
// updates at Slack's one a second) hold them all while other kinds of
// jobs wait; snoozed instead, the job gives its slot back.
const WaitBudget = time.Second

// Busy is an error saying that nothing failed: something the job needs is
// full for now (Slack's pace for the workspace), and running the job again
// after BusyFor makes sense. A job whose error is Busy (through wrapping;
// every error joined in it, for errors.Join) is snoozed for about that
// long instead of failing, so waiting spends none of its attempts and a
// busy workspace discards no work. An error that joins a Busy one with a
// real failure is a failure: the attempt is spent, as it would be without
// the busy part, and the retry does that part too (else a failure that
// keeps coming back beside a full pace was retried for ever). Workers that
// count or give up on failures themselves check BusyFor first.
type Busy interface {
	error
	BusyFor() time.Duration
}

// BusyFor reports how long to wait when err is Busy: every error joined in
// it is, or wraps, a Busy error. The wait is the longest they ask.
func BusyFor(err error) (time.Duration, bool) {
	d, ok := busyFor(err)
	if !ok {
		return 0, false
	}
	return max(d, 10*time.Millisecond), true
}

func busyFor(err error) (time.Duration, bool) {
	for err != nil {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			errs := j.Unwrap()
			var longest time.Duration
			for _, e := range errs {
				d, ok := busyFor(e)
				if !ok {
					return 0, false
				}
				longest = max(longest, d)
			}
			return longest, len(errs) > 0
		}
		if b, ok := err.(Busy); ok {
			return b.BusyFor(), true
		}
		err = errors.Unwrap(err)
	}
	return 0, false
}

// rescuedError is the error River's rescuer records on a job it found
// stuck (River v0.51: maintenance.JobRescuer).
const rescuedError = "Stuck job rescued by JobRescuer"

// Rescued reports whether this run of job follows a rescue: the last
// attempt's error is the rescuer's.
func Rescued(job *rivertype.JobRow) bool {
	n := len(job.Errors)
	return n > 0 && job.Errors[n-1].Error == rescuedError
}

// middleware runs around every job of a Queue: it gives the job its writes
// of earlier runs (Wrote) and its WaitBudget, and snoozes it when its
// error is Busy.
type middleware struct {
	river.MiddlewareDefaults
}

var _ rivertype.WorkerMiddleware = (*middleware)(nil)

func (m *middleware) Work(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
	if Rescued(job) {
		metrics.JobRescues.WithLabelValues(job.Kind).Inc()
	}
	err := doInner(waitbudget.With(withWrites(ctx, job), WaitBudget))
	if err == nil {
		return nil
	}
	var snooze *rivertype.JobSnoozeError
	var cancel *rivertype.JobCancelError
	if errors.As(err, &snooze) || errors.As(err, &cancel) {
		return err // the worker decided already
	}
	if d, ok := BusyFor(err); ok {
		// Up to half as long again at random, so the jobs one full pace
		// refused together do not all come back together.
		return river.JobSnooze(d + rand.N(d/2+1))
	}
	return err
}
