package jobs

import (
	"context"
	"encoding/json"
	"sync"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// writes remembers, across the runs of one job (a retry after a failed or
// snoozed attempt), what the job last wrote to each target it rewrites in
// place (a Slack message it updates), so a new run skips the writes an
// earlier run already made. Without it a job with several paced writes
// spent its pace slots again on every run; while the workspace's update
// pace stayed full, the later writes of each run were always refused (the
// pace admits no wait past the job's deadline), and such jobs never
// finished (TestReplicasUnderFaults: 13 request_finished jobs snoozing for
// ever).
//
// Only the job's own writes count: if another job wrote something else to
// the target since, that job's own re-check (or its retry) writes the
// current state, which is why skipping here is safe.
type writes struct {
	mu   sync.Mutex
	last map[string]string // target → digest of what this job last wrote there
}

type writesKey struct{}

// output is the job's River output: its writes, kept in the job's metadata
// whenever it is snoozed, retried or completed.
type output struct {
	Writes map[string]string `json:"writes,omitempty"`
}

// withWrites gives ctx the writes the job made in its earlier runs.
func withWrites(ctx context.Context, job *rivertype.JobRow) context.Context {
	w := &writes{last: map[string]string{}}
	if raw := job.Output(); len(raw) > 0 {
		var out output
		if json.Unmarshal(raw, &out) == nil && out.Writes != nil {
			w.last = out.Writes
		}
	}
	return context.WithValue(ctx, writesKey{}, w)
}

// Wrote reports whether digest is what the job running in ctx last wrote
// to target (in this run or an earlier one). Outside a job it is false.
func Wrote(ctx context.Context, target, digest string) bool {
	w, _ := ctx.Value(writesKey{}).(*writes)
	if w == nil {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last[target] == digest
}

// NoteWrite records that the job running in ctx wrote digest to target. It
// is kept with the job's next state (snoozed, retryable or completed; a
// killed run's writes are not, and are made again). Outside a job it does
// nothing.
func NoteWrite(ctx context.Context, target, digest string) {
	w, _ := ctx.Value(writesKey{}).(*writes)
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.last[target] = digest
	_ = river.RecordOutput(ctx, output{Writes: w.last})
}
