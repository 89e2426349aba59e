package handlers_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/accessbot/accessbot/internal/metrics"
	"github.com/accessbot/accessbot/store/backend"
)

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// TestNotificationMetrics: the exactly-once outbox counts what it does in
// accessbot_notifications_total: a post is "sent", a retried job's post
// found in Slack after its record was lost is "deduplicated", a post Slack
// refuses is "failed".
// Not parallel: the counters are the process's.
func TestNotificationMetrics(t *testing.T) {
	e := newOnceEnv(t, backend.SQLite, 400*time.Millisecond)
	n := func(outcome string) float64 { return counterValue(t, metrics.Notifications.WithLabelValues(outcome)) }
	sent, dedup, failed := n("sent"), n("deduplicated"), n("failed")
	req := e.create(t, 0)
	rqMust(t, e.n.RequestCreated(e.ctx, req))
	if d := n("sent") - sent; d < 1 {
		t.Errorf("the requester's confirmation moved sent by %v", d)
	}
	// The database goes away after Slack took the approver's DM: the
	// retried job finds the post in the conversation, not a new one.
	approvers := []string{e.users["owen"].ID}
	e.st.set(-1)
	if err := e.n.ApprovalNeeded(e.ctx, req, 0, approvers); err == nil {
		t.Fatal("ApprovalNeeded succeeded with the database down")
	}
	e.st.set(0)
	e.clock.Set(e.clock.Now().Add(time.Second)) // the claims expired
	rqMust(t, e.n.ApprovalNeeded(e.ctx, req, 0, approvers))
	if d := n("deduplicated") - dedup; d < 1 {
		t.Errorf("a post found after a lost record moved deduplicated by %v", d)
	}
	other := e.create(t, 1)
	e.fake.FailNext("chat.postMessage", 100, http.StatusInternalServerError, 0)
	if err := e.n.ApprovalNeeded(e.ctx, other, 0, approvers); err == nil {
		t.Fatal("ApprovalNeeded succeeded while Slack answered 500")
	}
	if d := n("failed") - failed; d < 1 {
		t.Errorf("a post Slack refused moved failed by %v", d)
	}
}
