package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// checkMetrics scrapes every replica's /metrics and checks they moved with
// the traffic: summed over the replicas, envelopes acked, Slack calls,
// notifications sent and jobs completed.
func (w *replicaWorld) checkMetrics(ctx context.Context, when string) {
	w.t.Helper()
	acksLo, postsLo := float64(len(w.fake.Acks())), float64(w.fake.CallCount("chat.postMessage"))
	var bodies []string
	for i, a := range w.admin {
		body, err := scrape(ctx, "http://"+a+"/metrics")
		if err != nil {
			w.t.Errorf("%s: scrape replica %d: %v", when, i, err)
			continue
		}
		bodies = append(bodies, body)
	}
	sum := func(name string, labels ...string) float64 {
		total := 0.0
		for _, body := range bodies {
			total += metricSum(body, name, labels...)
		}
		return total
	}
	got := map[string]float64{
		"envelopes acked":   sum("accessbot_slack_envelopes_total", `outcome="acked"`),
		"ack latency count": sum("accessbot_slack_ack_seconds_count"),
		"handler runs":      sum("accessbot_slack_handler_seconds_count"),
		"postMessage ok":    sum("accessbot_slack_api_calls_total", `method="chat.postMessage"`, `outcome="ok"`),
		"postMessage calls": sum("accessbot_slack_api_calls_total", `method="chat.postMessage"`) -
			sum("accessbot_slack_api_calls_total", `method="chat.postMessage"`, `outcome="paced_out"`),
		"slack 429s":            sum("accessbot_slack_api_calls_total", `outcome="rate_limited"`),
		"slack errors":          sum("accessbot_slack_api_calls_total", `outcome="error"`),
		"retry wait seconds":    sum("accessbot_slack_api_retry_wait_seconds_total"),
		"notifications sent":    sum("accessbot_notifications_total", `outcome="sent"`),
		"jobs completed":        sum("accessbot_jobs_finished_total", `outcome="completed"`),
		"approvals":             sum("accessbot_requests_total", `op="approve"`, `outcome="ok"`),
		"flow steps":            sum("accessbot_flow_steps_total"),
		"job runs timed":        sum("accessbot_jobs_run_seconds_count"),
		"jobs queued (gauge)":   sum("accessbot_jobs_queued"),
		"sockets (work queued)": sum("accessbot_slack_work_queued"),
	}
	w.t.Logf("[counts] replicas metrics %s: %v", when, got)
	if len(bodies) < len(w.admin) {
		return // reported above
	}
	if when == "after baseline" {
		for _, k := range []string{"envelopes acked", "ack latency count", "handler runs", "postMessage ok", "notifications sent", "jobs completed"} {
			if got[k] <= 0 {
				w.t.Errorf("metrics %s: %s did not move (%v)", when, k, got[k])
			}
		}
		// No replica restarted yet: their counts add up to the fake's, which
		// moved on a little while they were scraped.
		acksHi, postsHi := float64(len(w.fake.Acks())), float64(w.fake.CallCount("chat.postMessage"))
		if a := got["envelopes acked"]; a < acksLo || a > acksHi {
			w.t.Errorf("metrics %s: %v envelopes acked, the fake Slack saw %v to %v acks", when, a, acksLo, acksHi)
		}
		// A call that failed on our side (a cancelled context, a reset
		// connection) counts as an error but never reaches the fake.
		failed := sum("accessbot_slack_api_calls_total", `method="chat.postMessage"`, `outcome="error"`)
		if p := got["postMessage calls"]; p < postsLo || p > postsHi+failed {
			w.t.Errorf("metrics %s: %v chat.postMessage calls (%v failed), the fake Slack answered %v to %v", when, p, failed, postsLo, postsHi)
		}
		if ok := got["postMessage ok"]; ok < postsLo-failed || ok > postsHi {
			w.t.Errorf("metrics %s: %v chat.postMessage ok (%v failed), the fake Slack answered %v to %v", when, ok, failed, postsLo, postsHi)
		}
	} else if got["slack 429s"] <= 0 || got["slack errors"] <= 0 || got["retry wait seconds"] <= 0 {
		w.t.Errorf("metrics %s: 429s %v, errors %v, retry wait %v: the Slack faults do not show", when, got["slack 429s"], got["slack errors"], got["retry wait seconds"])
	}
	if when == "after baseline" {
		return
	}
	// Approve clicks reach the replicas over Slack, and each approval
	// starts a provisioning flow whose manual step the replicas run.
	// The queue's depth is read from the database at scrape time: jobs
	// wait in it (reminders, escalations and expiry sweeps are scheduled).
	for _, k := range []string{"approvals", "flow steps", "job runs timed", "jobs queued (gauge)"} {
		if got[k] <= 0 {
			w.t.Errorf("metrics %s: %s did not move (%v)", when, k, got[k])
		}
	}
	for i, body := range bodies {
		if n := metricSum(body, "accessbot_slack_sockets_connected"); n < 1 {
			w.t.Errorf("metrics %s: replica %d reports %v Socket Mode connections", when, i, n)
		}
	}
}

func scrape(ctx context.Context, u string) (string, error) {
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	return string(b), err
}

// metricSum adds the samples of name (exactly, with or without labels)
// whose labels contain every one of labels.
func metricSum(body, name string, labels ...string) float64 {
	total := 0.0
	for line := range strings.SplitSeq(body, "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(line, l)
		}
		if !ok {
			continue
		}
		f := strings.Fields(line)
		if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
			total += v
		}
	}
	return total
}
