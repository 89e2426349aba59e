package requests_test

import (
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/internal/metrics"
)

// TestMetricsCountOperationsAndStates: the service's own operations move
// accessbot_requests_total by op and outcome (a refused second decision is
// "refused", not "ok"), and accessbot_requests reads the store's requests
// by state, every state present. Not parallel: the counters are the
// process's, and parallel tests of this package wait for this one.
func TestMetricsCountOperationsAndStates(t *testing.T) {
	f := newFixture(t, "sqlite", requests.Policy{})
	f.chain("gitlab", true, "", level(accessbot.RuleAny, kind(accessbot.ApproverOwners)))
	count := func(op, outcome string) float64 {
		var m dto.Metric
		f.must(metrics.Requests.WithLabelValues(op, outcome).Write(&m))
		return m.GetCounter().GetValue()
	}
	type key struct{ op, outcome string }
	keys := []key{{"create", "ok"}, {"approve", "ok"}, {"approve", "refused"}, {"deny", "ok"}, {"cancel", "ok"}, {"cancel", "refused"}}
	before := map[key]float64{}
	for _, k := range keys {
		before[k] = count(k.op, k.outcome)
	}
	approved := f.create(f.userAccess())
	_, err := f.decide(approved, "owner1", 0, accessbot.DecisionApprove, "")
	f.must(err)
	if _, err := f.decide(approved, "owner2", 0, accessbot.DecisionApprove, ""); err == nil {
		t.Fatal("a second approval was accepted")
	}
	bob := f.userAccess()
	bob.RequesterID = f.u["bob"].ID
	denied := f.create(bob)
	_, err = f.decide(denied, "owner1", 0, accessbot.DecisionDeny, "Not this quarter.")
	f.must(err)
	cancelled := f.create(f.userAccess())
	_, err = f.svc.Cancel(f.ctx, f.tenant.ID, cancelled.ID, f.u["alice"].ID)
	f.must(err)
	if _, err := f.svc.Cancel(f.ctx, f.tenant.ID, cancelled.ID, f.u["alice"].ID); err == nil {
		t.Fatal("a second cancel was accepted")
	}
	carol := f.userAccess()
	carol.RequesterID = f.u["carol"].ID
	f.create(carol) // stays pending

	want := map[key]float64{{"create", "ok"}: 4, {"approve", "ok"}: 1, {"approve", "refused"}: 1, {"deny", "ok"}: 1,
		{"cancel", "ok"}: 1, {"cancel", "refused"}: 1}
	for _, k := range keys {
		if got := count(k.op, k.outcome) - before[k]; got != want[k] {
			t.Errorf("accessbot_requests_total{op=%q,outcome=%q} moved by %v, want %v", k.op, k.outcome, got, want[k])
		}
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(requests.StateCollector(f.st.(interface{ DB() *sql.DB }).DB()))
	mfs, err := reg.Gather()
	f.must(err)
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			got[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
		}
	}
	wantStates := map[string]float64{"pending": 1, "approved": 1, "denied": 1, "cancelled": 1, "expired": 0}
	if fmt.Sprint(got) != fmt.Sprint(wantStates) {
		t.Errorf("accessbot_requests by state = %v, want %v", got, wantStates)
	}
}

// TestMetricsCountTicks: the tick's reminder, escalation and expiry each
// count once in accessbot_requests_total, as remind, escalate and expire.
// Not parallel, as above.
func TestMetricsCountTicks(t *testing.T) {
	f := newFixture(t, "sqlite", tickPolicy)
	f.chain("gitlab", true, "", level(accessbot.RuleAny, kind(accessbot.ApproverOwners)))
	count := func(op string) float64 {
		var m dto.Metric
		f.must(metrics.Requests.WithLabelValues(op, "ok").Write(&m))
		return m.GetCounter().GetValue()
	}
	before := map[string]float64{"remind": count("remind"), "escalate": count("escalate"), "expire": count("expire")}
	f.create(f.userAccess())
	for _, d := range []time.Duration{25 * time.Hour, 48 * time.Hour, 96 * time.Hour, time.Hour} {
		_, err := f.svc.Tick(f.ctx, f.clock.Advance(d))
		f.must(err)
	}
	for op, b := range before {
		if got := count(op) - b; got != 1 {
			t.Errorf("accessbot_requests_total{op=%q,outcome=ok} moved by %v, want 1", op, got)
		}
	}
}
