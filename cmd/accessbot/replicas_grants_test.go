package main

import (
	"context"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/slackapi"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/flows/grants"
	"github.com/accessbot/accessbot/flows/provision"
	"github.com/accessbot/accessbot/handlers/views"
)

// The first replicaShortGrants requests ask for replicaGrantFor: once
// approved and fulfilled, their grants end during the test, started by a
// replica's grants tick (every 30 s), which must happen once per grant.
const (
	replicaShortGrants = 12
	replicaGrantFor    = 30 * time.Second
)

func replicaDuration(i int) time.Duration {
	if i < replicaShortGrants {
		return replicaGrantFor
	}
	return time.Hour
}

// fulfil has Olly, the application's owner, click Done over Slack on the
// manual step of each approved request's provisioning flow once its DM is
// out and the step waits: the flow finishes and the grant exists.
func (w *replicaWorld) fulfil(ctx context.Context) {
	for ctx.Err() == nil {
		posts := w.fake.DeliveryPosts(slackapi.DeliveryEventType)
		w.mu.Lock()
		var todo []string
		for _, id := range w.created {
			if !w.fulfilled[id] && posts["request:"+id+":fulfilment:"+w.olly.ID] > 0 {
				todo = append(todo, id)
			}
		}
		w.mu.Unlock()
		for _, id := range todo {
			f, err := w.st.GetActionFlowByKey(ctx, w.tenant, provision.FlowKey(provision.Provision, id))
			if err != nil {
				continue
			}
			idx := -1
			for i, s := range f.Steps {
				if s.Status == accessbot.FlowWaiting {
					idx = i
					break
				}
			}
			if idx < 0 {
				continue
			}
			w.mu.Lock()
			w.fulfilled[id] = true
			w.mu.Unlock()
			w.sent(w.fake.SendInteractive(w.fake.BlockAction(w.team.ID, "UOLLY", slackfake.Action{ActionID: views.ActionStepDone,
				BlockID: views.BlockStepActions, Value: views.StepRef(f.ID, idx), Type: "button"})))
		}
		sleep(ctx, 200*time.Millisecond)
	}
}

// grantsOf lists the grants request id (of the i-th person) made.
func (w *replicaWorld) grantsOf(ctx context.Context, id string, i int) []accessbot.Entitlement {
	ents, err := w.st.ListEntitlements(ctx, w.tenant, w.people[i].ID)
	if err != nil {
		w.t.Errorf("grants of %s: %v", id, err)
		return nil
	}
	var out []accessbot.Entitlement
	for _, e := range ents {
		if e.RequestID == id {
			out = append(out, e)
		}
	}
	return out
}

// grantsDue counts the test's grants past their end whose deprovisioning
// has not started: the replicas' grants tick owes them.
func (w *replicaWorld) grantsDue(ctx context.Context) int {
	w.mu.Lock()
	ids := append([]string(nil), w.created...)
	w.mu.Unlock()
	due := 0
	for _, id := range ids {
		w.mu.Lock()
		i := w.requester[id]
		w.mu.Unlock()
		for _, g := range w.grantsOf(ctx, id, i) {
			if g.ExpiresAt != nil && time.Now().After(*g.ExpiresAt) && !g.Ending() {
				due++
			}
		}
	}
	return due
}

// grantEnds records, for request id, each grant's end as an operation of
// the replicas (invoked at its expiry, outcome unknown) in the history,
// and returns how many grants it made, how many times they were ended (the
// grants' audit: grant.expired or grant.revoked), and the deprovisioning
// flows that end them.
func (w *replicaWorld) grantEnds(ctx context.Context, id string, i int) (made, ends int, flows []*accessbot.ActionFlow) {
	for _, g := range w.grantsOf(ctx, id, i) {
		made++
		if g.ExpiresAt != nil {
			w.hist.maybe(5, id, "grant_end", *g.ExpiresAt)
		}
		entries, err := w.st.ListAudit(ctx, w.tenant, g.ID)
		if err != nil {
			w.t.Errorf("audit of grant %s: %v", g.ID, err)
			continue
		}
		for _, e := range entries {
			if e.Action == grants.ActionExpired || e.Action == grants.ActionRevoked {
				ends++
			}
		}
		if g.Ending() {
			f, err := w.st.GetActionFlow(ctx, w.tenant, g.EndingFlowID)
			if err != nil {
				w.t.Errorf("deprovisioning flow %s of grant %s: %v", g.EndingFlowID, g.ID, err)
				continue
			}
			flows = append(flows, f)
		}
	}
	return made, ends, flows
}
