package requests

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/internal/metrics"
)

// stepOps names the tick steps in accessbot_requests_total.
var stepOps = map[tickStep]string{stepRemind: "remind", stepEscalate: "escalate", stepExpire: "expire"}

// countOp counts one request operation: ok, refused (the request or the
// actor did not allow it: bad input, forbidden, already decided) or error.
func countOp(op string, err error) {
	outcome := "ok"
	var already *AlreadyDecidedError
	var fields *FieldErrors
	switch {
	case err == nil:
	case errors.As(err, &already), errors.As(err, &fields), errors.Is(err, errAlready), errors.Is(err, ErrForbidden),
		errors.Is(err, accessbot.ErrInvalid), errors.Is(err, accessbot.ErrNotFound), errors.Is(err, accessbot.ErrConflict):
		outcome = "refused"
	default:
		outcome = "error"
		metrics.StoreErrors.WithLabelValues("request_" + op).Inc()
	}
	metrics.Requests.WithLabelValues(op, outcome).Inc()
}

var statesDesc = prometheus.NewDesc("accessbot_requests", "Access requests in the store (all tenants, all replicas), by state "+
	"(pending, approved, denied, cancelled, expired).", []string{"state"}, nil)

// StateCollector counts the store's access requests by state at scrape
// time (one indexed count): the same numbers on every replica, so take the
// max, not the sum. A pending count that only grows says approvers are not
// answering, or reminders and escalations are not reaching them.
func StateCollector(db *sql.DB) prometheus.Collector { return stateCollector{db: db} }

type stateCollector struct{ db *sql.DB }

func (stateCollector) Describe(ch chan<- *prometheus.Desc) { ch <- statesDesc }

func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	counts, err := c.count(ctx)
	if err != nil {
		metrics.StoreErrors.WithLabelValues("requests_by_state").Inc()
		ch <- prometheus.NewInvalidMetric(statesDesc, err)
		return
	}
	// Every state, 0 included, so a panel or alert sees the series.
	for _, s := range []accessbot.RequestStatus{accessbot.StatusPending, accessbot.StatusApproved, accessbot.StatusDenied,
		accessbot.StatusCancelled, accessbot.StatusExpired} {
		ch <- prometheus.MustNewConstMetric(statesDesc, prometheus.GaugeValue, float64(counts[string(s)]), string(s))
		delete(counts, string(s))
	}
	for s, n := range counts {
		ch <- prometheus.MustNewConstMetric(statesDesc, prometheus.GaugeValue, float64(n), s)
	}
}

func (c stateCollector) count(ctx context.Context) (map[string]int64, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT status, count(*) FROM access_requests GROUP BY status`)
	if err != nil {
		return nil, fmt.Errorf("count requests: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var s string
		var n int64
		if err := rows.Scan(&s, &n); err != nil {
			return nil, fmt.Errorf("count requests: %w", err)
		}
		out[s] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count requests: %w", err)
	}
	return out, nil
}
