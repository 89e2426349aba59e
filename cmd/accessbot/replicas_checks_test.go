package main

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/provision"
)

// followLogs checks, for every approved request, that the replicas' JSON
// logs tie it together: a "click on a request" line carrying the
// envelope, tenant and request ids, and a "decision recorded" line carrying
// the tenant and request ids. It returns how many were followed, and how
// many of those had lines on more than one replica.
func (w *replicaWorld) followLogs(ids []string) (followed, spread int) {
	type seen struct {
		click, decided bool
		replicas       map[int]bool
	}
	by := map[string]*seen{}
	for _, id := range ids {
		by[id] = &seen{replicas: map[int]bool{}}
	}
	for i, r := range w.replicas {
		b, err := os.ReadFile(r.log)
		if err != nil {
			w.t.Errorf("log of replica %d: %v", i, err)
			continue
		}
		for line := range strings.SplitSeq(string(b), "\n") {
			if !strings.Contains(line, `"request"`) {
				continue
			}
			var l struct{ Message, Request, Tenant, Envelope, Decision string }
			if json.Unmarshal([]byte(line), &l) != nil || by[l.Request] == nil || l.Tenant != w.tenant {
				continue
			}
			s := by[l.Request]
			switch {
			case l.Message == "click on a request" && l.Envelope != "":
				s.click = true
				s.replicas[i] = true
			case l.Message == "decision recorded" && l.Decision == string(accessbot.DecisionApprove):
				s.decided = true
				s.replicas[i] = true
			}
		}
	}
	for _, id := range ids {
		r, err := w.st.GetRequest(context.Background(), w.tenant, id)
		if err != nil || r.Status != accessbot.StatusApproved {
			continue
		}
		s := by[id]
		if !s.click || !s.decided {
			w.t.Errorf("request %s: approved, but the replicas' logs show click line %v, decision line %v", id, s.click, s.decided)
			continue
		}
		followed++
		spread += btoi(len(s.replicas) > 1)
	}
	return followed, spread
}

// stepsOnce checks in f's audit log that it started once and that each of
// its steps that ran was carried out once across the replicas (one
// flow.step_done or flow.step_waiting entry), and counts those steps.
func (w *replicaWorld) stepsOnce(ctx context.Context, f *accessbot.ActionFlow) int {
	entries, err := w.st.ListAudit(ctx, w.tenant, f.ID)
	if err != nil {
		w.t.Errorf("audit of flow %s: %v", f.ID, err)
		return 0
	}
	started, ran := 0, map[int]int{}
	for _, e := range entries {
		switch e.Action {
		case provision.ActionFlowStarted:
			started++
		case provision.ActionStepDone, provision.ActionStepWaiting:
			var s struct{ Index int }
			if err := json.Unmarshal(e.After, &s); err != nil {
				w.t.Errorf("audit %s of flow %s: %v", e.Action, f.ID, err)
				continue
			}
			ran[s.Index]++
		}
	}
	if started != 1 {
		w.t.Errorf("flow %s started %d times, want once", f.ID, started)
	}
	once := 0
	for i, s := range f.Steps {
		want := btoi(s.Status == accessbot.FlowDone || s.Status == accessbot.FlowWaiting)
		if ran[i] != want {
			w.t.Errorf("flow %s step %d (%s, %s) carried out %d times, want %d", f.ID, i, s.Type, s.Status, ran[i], want)
		}
		once += btoi(ran[i] == 1)
	}
	if once == 0 {
		w.t.Errorf("flow %s: no step carried out (%+v)", f.ID, f.Steps)
	}
	return once
}

// socketEnds waits (up to 10 s) until at least want sockets ended since the
// fake had recorded from of them, and says how many of those ended with the
// client's close frame, and how many ended.
func (w *replicaWorld) socketEnds(ctx context.Context, from, want int) (clean, n int) {
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_ = w.fake.WaitFor(wctx, func() bool { return len(w.fake.ConnEnds()) >= from+want })
	for _, e := range w.fake.ConnEnds()[from:] {
		n++
		clean += btoi(e.ByClient && e.Clean)
	}
	return clean, n
}

// logCount counts the lines of every replica's log containing s.
func (w *replicaWorld) logCount(s string) int {
	n := 0
	for _, r := range w.replicas {
		n += r.count(s)
	}
	return n
}

// term sends SIGTERM and waits for the exit (at most 40 s, then SIGKILL):
// its exit code and how long it took.
func (c *child) term() (int, time.Duration) {
	c.mu.Lock()
	cmd, done := c.cmd, c.done
	c.cmd = nil
	c.mu.Unlock()
	if cmd == nil {
		return -1, 0
	}
	start := time.Now()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(40 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
	return cmd.ProcessState.ExitCode(), time.Since(start)
}
