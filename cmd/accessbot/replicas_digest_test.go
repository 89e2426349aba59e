package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/flows/digest"
	"github.com/accessbot/accessbot/flows/schedule"
	"github.com/accessbot/accessbot/store"
)

// The replicas' findings digest: every minute, to replicaAlerts, with the
// all-clear on, so every slot posts (a digest, or the all-clear when
// nothing opened since the last one) and a slot never posted is visible.
const (
	replicaAlerts     = "CREPALERTS"
	replicaDigestCron = "* * * * *"
	replicaFindRule   = "replica.test"
	// A slot nobody claimed is not yet owed within a scheduler tick (30 s)
	// and a margin of the replicas' stop.
	replicaDigestInFlight = 40 * time.Second
)

// setupDigest gives the tenant its alert channel, the minute digest and
// a few open findings (high, not critical: critical ones alert at once,
// outside the digest), so the first digest has content.
func (w *replicaWorld) setupDigest(ctx context.Context) {
	t := w.t
	w.fake.AddChannel(slackfake.Channel{ID: replicaAlerts, TeamID: w.team.ID, Name: "access-alerts", BotMember: true})
	now := time.Now().UTC().Truncate(time.Microsecond)
	w.digestSince = now
	must(t, w.st.PutAlertSettings(ctx, &store.AlertSettings{TenantID: w.tenant, Channels: []string{replicaAlerts}, AllClear: true, Since: now}))
	must(t, w.st.PutSchedule(ctx, &store.Schedule{TenantID: w.tenant, Job: digest.Job, Cron: replicaDigestCron, TimeZone: "UTC", Since: now}))
	for range 3 {
		w.reportFinding(ctx)
	}
}

// reportFinding opens one more finding, as an external tool reports it,
// so later digests have content too.
func (w *replicaWorld) reportFinding(ctx context.Context) {
	w.mu.Lock()
	i := w.findings
	w.findings++
	w.mu.Unlock()
	m := accessbot.FindingMatch{Severity: accessbot.SeverityHigh, Subject: accessbot.Subject{Kind: accessbot.SubjectIdentity,
		ID: fmt.Sprintf("replica-acct-%d", i), Display: fmt.Sprintf("replica-acct-%d@acme.test", i)}}
	if _, err := w.st.ReportFindings(ctx, w.tenant, replicaFindRule, []accessbot.FindingMatch{m}, time.Now()); err != nil && ctx.Err() == nil {
		w.t.Errorf("report finding %d: %v", i, err)
	}
}

// digestKey is the delivery key of part of the digest of slot in the
// alert channel (flows/digest: job, slot, channel, part).
func digestKey(slot time.Time, part int) string {
	return fmt.Sprintf("%s:%s:%s:%04d", digest.Job, slot.UTC().Format(time.RFC3339), replicaAlerts, part)
}

// digestPosted counts, from the fake Slack's posts by delivery key, the
// digest slots whose first part went out, and the digest parts posted
// more than once.
func digestPosted(posts map[string]int) (slots, twice int) {
	for k, n := range posts {
		if !strings.HasPrefix(k, digest.Job+":") {
			continue
		}
		if strings.HasSuffix(k, ":0000") {
			slots++
		}
		if n > 1 {
			twice++
		}
	}
	return slots, twice
}

// digestCounts checks each minute slot from the schedule's start to the
// replicas' stop: none posted twice, and each posted once, or closed as
// skipped (flows/schedule only retries a job's latest slot: a failed slot
// a later one overtook is skipped by housekeeping, and the later digest
// lists its findings), unless it is still in flight: claimed and not
// overtaken (being sent, waiting for its retry, or held by a killed
// replica's lease until a later slot overtakes it), or the last slot or
// one within a tick of the stop, not claimed yet. A slot nobody claimed
// before that, or one given up, was lost.
func (w *replicaWorld) digestCounts(ctx context.Context, posts map[string]int, stopped time.Time) {
	t := w.t
	spec, err := schedule.Parse(replicaDigestCron, "UTC")
	must(t, err)
	var slots []time.Time
	for at := spec.Next(w.digestSince.Add(-time.Nanosecond)); !at.IsZero() && !at.After(stopped); at = spec.Next(at) {
		slots = append(slots, at)
	}
	type row struct {
		at     time.Time
		status store.SlotStatus // "" when never claimed
	}
	rows := make([]row, len(slots))
	for i, at := range slots {
		rows[i].at = at
		switch sl, err := w.st.GetSlot(ctx, w.tenant, digest.Job, at); {
		case errors.Is(err, accessbot.ErrNotFound):
		case err != nil:
			t.Errorf("digest slot %s: %v", at.Format(time.RFC3339), err)
		default:
			rows[i].status = sl.Status
		}
	}
	overtaken := func(i int) bool {
		for _, r := range rows[i+1:] {
			if r.status != "" {
				return true
			}
		}
		return false
	}
	checked, once, twice, skipped, awaiting, inFlight, lost := 0, 0, 0, 0, 0, 0, 0
	for i, r := range rows {
		first := posts[digestKey(r.at, 0)]
		for part := 0; posts[digestKey(r.at, part)] > 0; part++ {
			if n := posts[digestKey(r.at, part)]; n > 1 {
				twice++
				t.Errorf("digest slot %s: part %d posted %d times, want once", r.at.Format(time.RFC3339), part, n)
			}
		}
		last := i == len(rows)-1
		switch {
		case first == 1:
			once++
		case first > 1: // counted in twice above
		case r.status == store.SlotSkipped:
			skipped++
		case r.status == store.SlotRunning && overtaken(i):
			skipped++ // a failed attempt a later slot overtook: housekeeping closes it
			awaiting++
		case r.status == store.SlotRunning,
			r.status == "" && (last || stopped.Sub(r.at) < replicaDigestInFlight):
			inFlight++
			t.Logf("digest slot %s in flight at the stop, %s later: status %q", r.at.Format(time.RFC3339), stopped.Sub(r.at).Round(time.Second), r.status)
			continue
		default:
			lost++
			t.Errorf("digest slot %s (%s before the replicas stopped) was never posted; slot status %q",
				r.at.Format(time.RFC3339), stopped.Sub(r.at).Round(time.Second), r.status)
		}
		checked++
	}
	// Posts of slots outside the run (none should exist) still count as doubles.
	_, dup := digestPosted(posts)
	listed, allClear := w.digestKinds()
	t.Logf("[counts] replicas digest: slots %d, posted once %d, twice %d, skipped %d (of them overtaken and awaiting housekeeping %d), "+
		"lost %d, in flight at the stop %d (every minute from %s to %s, to %s: %d listing findings, %d all clear; findings reported %d)",
		checked, once, max(twice, dup), skipped, awaiting, lost, inFlight, w.digestSince.Format(time.TimeOnly), stopped.UTC().Format(time.TimeOnly),
		replicaAlerts, listed, allClear, w.findings)
	if listed == 0 {
		t.Errorf("no digest listed findings (%d all clear), though %d were reported", allClear, w.findings)
	}
	if checked == 0 || once+twice == 0 { // twice is an error of its own
		t.Errorf("no digest slot was owed and posted between %s and %s (%d in flight): the run is too short to check the digest",
			w.digestSince.Format(time.TimeOnly), stopped.UTC().Format(time.TimeOnly), inFlight)
	}
}

// digestKinds counts the digests' top-level posts in the alert channel
// that list findings, and the all-clears.
func (w *replicaWorld) digestKinds() (listed, allClear int) {
	for _, m := range w.fake.Messages(replicaAlerts) {
		if m.ThreadTS != "" && m.ThreadTS != m.TS {
			continue
		}
		switch {
		case strings.HasPrefix(m.Text, "Findings digest: "):
			listed++
		case strings.Contains(m.Text, "All clear: no new findings"):
			allClear++
		}
	}
	return listed, allClear
}
