package bot

import "github.com/prometheus/client_golang/prometheus"

// Collectors are the dispatcher's Prometheus metrics, read at scrape time.
func (d *Dispatcher) Collectors() []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "accessbot_slack_work_queued",
			Help: "Acked Slack envelopes whose work waits for a worker.",
		}, func() float64 { return float64(d.queue.len()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "accessbot_slack_work_running",
			Help: "Acked Slack envelopes whose work is running.",
		}, func() float64 { return float64(d.running.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "accessbot_slack_workers_admitted",
			Help: "Workers that may run at once now: slack.workers, lowered while goroutines wait for CPU so acks are not late.",
		}, func() float64 { return float64(d.gate.admitted()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "accessbot_slack_work_dropped_total",
			Help: "Acked Slack envelopes whose work was dropped because the work queue was full.",
		}, func() float64 { return float64(d.dropped.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "accessbot_slack_busy_total",
			Help: "Slash commands, view submissions and suggestions answered busy because too many handlers were in flight.",
		}, func() float64 { return float64(d.busy.Load()) }),
	}
}
