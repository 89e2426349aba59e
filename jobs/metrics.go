package jobs

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"

	"github.com/accessbot/accessbot/internal/metrics"
)

// observe counts the jobs this process finishes, until events is closed.
func observe(events <-chan *river.Event) {
	for ev := range events {
		if ev.Job == nil {
			continue
		}
		outcome := map[river.EventKind]string{river.EventKindJobCompleted: "completed", river.EventKindJobFailed: "failed",
			river.EventKindJobCancelled: "cancelled", river.EventKindJobSnoozed: "snoozed"}[ev.Kind]
		if outcome == "" {
			continue
		}
		metrics.Jobs.WithLabelValues(ev.Job.Kind, outcome).Inc()
		if ev.JobStats != nil {
			metrics.JobWait.WithLabelValues(ev.Job.Kind).Observe(ev.JobStats.QueueWaitDuration.Seconds())
			metrics.JobRun.WithLabelValues(ev.Job.Kind).Observe(ev.JobStats.RunDuration.Seconds())
		}
	}
}

var depthDesc = prometheus.NewDesc("accessbot_jobs_queued", "Durable jobs in the queue (all replicas), by kind and state "+
	"(available, running, retryable, scheduled, discarded).", []string{"kind", "state"}, nil)

// Collector reads the queue's depth from the database at scrape time: the
// same numbers on every replica, since they share the queue.
func (q *Queue) Collector() prometheus.Collector { return depthCollector{db: q.db} }

type depthCollector struct{ db *sql.DB }

func (depthCollector) Describe(ch chan<- *prometheus.Desc) { ch <- depthDesc }

func (c depthCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.collect(ctx, ch); err != nil {
		metrics.StoreErrors.WithLabelValues("jobs_depth").Inc()
		ch <- prometheus.NewInvalidMetric(depthDesc, err)
	}
}

func (c depthCollector) collect(ctx context.Context, ch chan<- prometheus.Metric) error {
	rows, err := c.db.QueryContext(ctx, `SELECT kind, state, count(*) FROM river_job
		WHERE state IN ('available', 'running', 'retryable', 'scheduled', 'discarded') GROUP BY kind, state`)
	if err != nil {
		return fmt.Errorf("count jobs: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var kind, state string
		var n int64
		if err := rows.Scan(&kind, &state, &n); err != nil {
			return fmt.Errorf("count jobs: %w", err)
		}
		ch <- prometheus.MustNewConstMetric(depthDesc, prometheus.GaugeValue, float64(n), kind, state)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("count jobs: %w", err)
	}
	return nil
}
