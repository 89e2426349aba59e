package provision_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/provision"
)

// TestStepTimeoutAndBackoff: a step that hangs is cancelled after its
// script's timeout, each attempt, and tried again only after the backoff;
// after the last attempt it fails with the timeout in its error (which the
// requester and the admins see), every retry audited.
func TestStepTimeoutAndBackoff(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const timeout = 200 * time.Millisecond
	f := newFixture(t, "sqlite", accessbot.ActionChain{Provision: []accessbot.ActionScript{
		{Type: "slow_webhook_add", Params: map[string]string{"user": "{{.Target.Email}}"}, Timeout: timeout},
	}})
	var mu sync.Mutex
	var starts, ends []time.Time
	var budgets []time.Duration
	f.eng.RegisterProvider(provision.KindWebhook, "slow", provision.RunnerFunc(func(ctx context.Context, _ provision.Step) (provision.Result, error) {
		now := time.Now()
		dl, ok := ctx.Deadline()
		mu.Lock()
		starts = append(starts, now)
		if ok {
			budgets = append(budgets, dl.Sub(now))
		}
		mu.Unlock()
		<-ctx.Done() // hangs until cancelled
		mu.Lock()
		ends = append(ends, time.Now())
		mu.Unlock()
		return provision.Result{}, ctx.Err()
	}))
	req := f.approved(t, 0)
	must(t, f.eng.Provision(ctx, req))
	fl := f.waitFlow(t, provision.FlowKey(provision.Provision, req.ID), accessbot.FlowFailed)
	if s := fl.Steps[0]; s.Attempts != 3 || !strings.Contains(s.LastError, "step timed out after 200ms") {
		t.Fatalf("step %+v, want 3 attempts and the timeout as its error", s)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(starts) != 3 || len(budgets) != 3 || len(ends) != 3 {
		t.Fatalf("runs %d, deadlines %d, ends %d: want 3 each", len(starts), len(budgets), len(ends))
	}
	for i := range starts {
		if budgets[i] > timeout || budgets[i] < timeout/2 {
			t.Errorf("attempt %d ran with %s to its deadline, want the script's %s", i+1, budgets[i], timeout)
		}
		if took := ends[i].Sub(starts[i]); took > timeout+time.Second {
			t.Errorf("attempt %d was cancelled after %s, want about %s", i+1, took, timeout)
		}
		if i > 0 && starts[i].Sub(ends[i-1]) < 10*time.Millisecond {
			t.Errorf("attempt %d started %s after the last one ended, want the backoff (10ms) between", i+1, starts[i].Sub(ends[i-1]))
		}
	}
	audit, err := f.st.ListAudit(ctx, f.ten.ID, fl.ID)
	must(t, err)
	retries := 0
	for _, a := range audit {
		if a.Action == provision.ActionStepRetried && strings.Contains(string(a.After), "timed out") {
			retries++
		}
	}
	if retries != 2 {
		t.Fatalf("%d timed-out retries audited, want 2: %+v", retries, audit)
	}
}
