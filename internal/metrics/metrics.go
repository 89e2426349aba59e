// Package metrics holds accessbot's Prometheus metrics: one set per
// process, registered on the HTTP server's registry by `accessbot run`
// (Register) and served on /metrics. docs/operations.md describes each one
// and deploy/grafana/accessbot.json charts them.
//
// They are process-wide on purpose, like the process itself: the packages
// that count (bot, slackapi, jobs, handlers, requests, schedule) record
// here, whether or not anything serves them.
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

const ns = "accessbot"

// Latency buckets, in seconds: Slack wants an ack within 3 s.
var fastBuckets = []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2, 3, 5, 10}

var (
	// Envelopes counts Socket Mode envelopes by type (events_api,
	// slash_commands, interactive, or what Slack sent) and outcome: acked,
	// ack_failed (the ack could not be written; Slack redelivers), no_id
	// (no envelope_id: cannot be acked).
	Envelopes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Name: "slack_envelopes_total",
		Help: "Socket Mode envelopes, by type and outcome (acked, ack_failed, no_id).",
	}, []string{"type", "outcome"})
	// AckLatency is how long an envelope waited for its ack.
	AckLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: ns, Name: "slack_ack_seconds",
		Help:    "Time from receiving a Socket Mode envelope to acking it, by type.",
		Buckets: fastBuckets,
	}, []string{"type"})
	// Duplicates counts redelivered envelopes and events handled once.
	Duplicates = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: ns, Name: "slack_duplicates_total",
		Help: "Redelivered envelopes and events recognised and not handled again.",
	})
	// HandlerLatency is how long routed handlers ran, by route
	// ("command:/access request", "action:approval_approve", "view:request_form", "event:app_home_opened").
	HandlerLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: ns, Name: "slack_handler_seconds",
		Help:    "Time routed Slack handlers ran, by route and outcome (ok, error, panic).",
		Buckets: fastBuckets,
	}, []string{"route", "outcome"})

	// SlackCalls counts Web API attempts by method and outcome: ok,
	// rate_limited (a 429), error, paced_out (gave up waiting for pacing).
	SlackCalls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Name: "slack_api_calls_total",
		Help: "Slack Web API call attempts, by method and outcome (ok, rate_limited, error, paced_out).",
	}, []string{"method", "outcome"})
	// SlackCallLatency is how long each attempt took.
	SlackCallLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: ns, Name: "slack_api_call_seconds",
		Help:    "Slack Web API call attempt latency, by method.",
		Buckets: fastBuckets,
	}, []string{"method"})
	// SlackRetryWait is the time spent waiting out Retry-After (this
	// caller's 429 or another caller's hold of the method).
	SlackRetryWait = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Name: "slack_api_retry_wait_seconds_total",
		Help: "Seconds spent waiting out Slack Retry-After, by method.",
	}, []string{"method"})

	// Jobs counts durable jobs finished by this process, by kind and
	// outcome: completed, failed (will retry or is discarded), cancelled
	// (final failure), snoozed.
	Jobs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Name: "jobs_finished_total",
		Help: "Durable jobs worked by this process, by kind and outcome (completed, failed, cancelled, snoozed).",
	}, []string{"kind", "outcome"})
	// JobWait is how long a job waited between becoming due and running.
	JobWait = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: ns, Name: "jobs_wait_seconds",
		Help:    "Time a job waited from due to running, by kind.",
		Buckets: []float64{.01, .05, .1, .5, 1, 2, 5, 10, 30, 60, 300, 900},
	}, []string{"kind"})
	// JobRun is how long a job's work took.
	JobRun = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: ns, Name: "jobs_run_seconds",
		Help:    "Time a job ran, by kind.",
		Buckets: []float64{.01, .05, .1, .5, 1, 2, 5, 10, 30, 60, 300},
	}, []string{"kind"})

	// JobRescues counts jobs run again after River's rescuer found them
	// stuck: their process died (or hung) while running them, and
	// jobs.rescue_after passed.
	JobRescues = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Name: "jobs_rescued_total",
		Help: "Jobs run again by this process after the rescuer found them stuck (their runner died or hung past jobs.rescue_after), by kind.",
	}, []string{"kind"})

	// JobStartRetries counts River starts that failed and were tried again:
	// the database went away while the queue started (jobs.Queue.Run).
	JobStartRetries = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: ns, Name: "jobs_start_retries_total",
		Help: "Job queue (River) starts that failed and were tried again, e.g. the database or the listener's connection lost while starting.",
	})

	// Requests counts access-request changes by kind (create, approve,
	// deny, cancel, and the ticks remind, escalate, expire) and outcome (ok,
	// refused, error).
	Requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Name: "requests_total",
		Help: "Access-request operations, by op (create, approve, deny, cancel, remind, escalate, expire) and outcome (ok, refused, error).",
	}, []string{"op", "outcome"})

	// Notifications counts Slack notifications by outcome: sent, deduplicated
	// (the outbox or Slack's history showed it was already sent), failed.
	Notifications = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Name: "notifications_total",
		Help: "Slack notifications (exactly-once outbox), by outcome (sent, deduplicated, failed).",
	}, []string{"outcome"})

	// Slots counts scheduled slots (digests, reminders, escalations, expiry
	// sweeps) by kind and outcome: run (this replica took it), skipped
	// (another replica had it, or it was already done).
	Slots = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Name: "schedule_slots_total",
		Help: "Scheduled slots (digests and other per-tenant schedules), by job and outcome (run, skipped: another replica has it, failed: retried, given_up).",
	}, []string{"kind", "outcome"})

	// StoreErrors counts store failures seen by the request flows and jobs.
	StoreErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Name: "store_errors_total",
		Help: "Store (database) errors, by operation.",
	}, []string{"op"})

	// FlowSteps counts provisioning steps by script type and outcome.
	FlowSteps = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Name: "flow_steps_total",
		Help: "Provisioning flow steps, by script type and outcome.",
	}, []string{"script", "outcome"})
	// HomeOpens counts Home tab opens by what they cost:
	// unchanged (the shown view is current: no render), same (rendered,
	// same blocks as shown: no publish), published, failed, coalesced
	// (came while the same user's Home was being opened: done after it).
	HomeOpens = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Name: "home_opens_total",
		Help: "Home tab opens, by result (unchanged, same, published, failed, coalesced).",
	}, []string{"result"})
	// HomeVersionReads counts the Home versions a PostgreSQL store was
	// asked for, by where the answer came from: memory (kept, nothing
	// written since) or database.
	HomeVersionReads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Name: "home_version_reads_total",
		Help: "Home versions answered by a store that keeps them in memory, by source (memory, database).",
	}, []string{"from"})
	// HomeVersionDrops counts the drops of Home versions kept in memory,
	// by what was dropped: all (a write of this process, a reconnect, a
	// notification that could not be read), or the part a notification
	// named: everyone (one tenant's), admins (one tenant's), user (one
	// user's).
	HomeVersionDrops = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Name: "home_version_drops_total",
		Help: "Drops of the Home versions kept in memory, by part (all, everyone, admins, user).",
	}, []string{"part"})
)

// All is every metric of this package.
func All() []prometheus.Collector {
	return []prometheus.Collector{Envelopes, AckLatency, Duplicates, HandlerLatency, SlackCalls, SlackCallLatency,
		SlackRetryWait, Jobs, JobWait, JobRun, JobRescues, JobStartRetries, Requests, Notifications, Slots, StoreErrors, FlowSteps, HomeOpens,
		HomeVersionReads, HomeVersionDrops}
}

// Register registers every metric on reg (the HTTP server's registry).
func Register(reg prometheus.Registerer) error {
	for _, c := range All() {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// Since observes the seconds since start on h.
func Since(h prometheus.Observer, start time.Time) { h.Observe(time.Since(start).Seconds()) }
