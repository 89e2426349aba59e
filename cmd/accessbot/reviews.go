package main

import (
	"github.com/accessbot/accessbot/flows/reviews"
	"github.com/accessbot/accessbot/flows/schedule"
	"github.com/accessbot/accessbot/handlers"
)

// reviewParts is the access-review runtime: the service (whose jobs the
// scheduler runs) and the Slack handlers.
type reviewParts struct {
	Service  *reviews.Service
	Handlers *handlers.Reviews
}

// buildReviews wires reviews.Service with the Slack review notifier (a
// no-op without Slack) and the default reminder policy (7, 3 and 1 days
// before the due date, escalation 2 days after).
func (m *Main) buildReviews(rt *Runtime) *reviewParts {
	var notifier reviews.Notifier
	if clients := rt.chatClients(); clients != nil {
		notifier = handlers.NewReviewNotifier(handlers.ReviewNotifierConfig{Store: rt.Store, Clients: clients,
			Now: rt.Now, Lease: rt.Config.Jobs.DeliveryLease, Log: rt.Log})
	}
	svc := reviews.New(rt.Store, notifier, rt.Now, reviews.DefaultPolicy(), rt.Log)
	if rt.Requests != nil && rt.Requests.queue != nil {
		// Launch answers once the campaign commits; its DMs are durable
		// jobs committed with it, sent at Slack's pace.
		svc.WithQueue(rt.Requests.queue)
	}
	if rt.Requests != nil && rt.Requests.Grants != nil {
		svc.WithRevoker(rt.Requests.Grants) // a Revoke runs the deprovisioning chain
	}
	if rt.Playbooks != nil {
		svc.OnDecided(rt.Playbooks.ReviewDecided)
	}
	return &reviewParts{Service: svc, Handlers: handlers.NewReviews(svc, rt.Store, rt.Now, rt.Log).WithPlaybooks(rt.playbookMenus())}
}

// reviewHandlers are the Slack handlers of access reviews, nil when run built none.
func (rt *Runtime) reviewHandlers() *handlers.Reviews {
	if rt.Reviews == nil {
		return nil
	}
	return rt.Reviews.Handlers
}

// registerReviews adds the review jobs (review_reminders on tenant
// schedules, definition launches on every tick) to s.
func (rt *Runtime) registerReviews(s *schedule.Scheduler) error {
	if rt.Reviews == nil {
		return nil
	}
	return rt.Reviews.Service.Register(s)
}
