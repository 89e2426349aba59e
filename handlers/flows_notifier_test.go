package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/provision"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/handlers"
	"github.com/accessbot/accessbot/store/storetest"
)

// TestFlowMessagePostedWhateverRanFirst: the flow's one message in the
// requester's thread is posted exactly once and ends showing the flow's
// last state, whether the flow-changed job runs before or after the flow's
// manual step asked the owners. The step's DMs are remembered under the
// flow's id too (to update every owner's copy on an answer); when they were
// remembered first, FlowChanged took them for its own message, posted
// nothing and updated nothing, so most flows in the crash test never got
// a thread message.
func TestFlowMessagePostedWhateverRanFirst(t *testing.T) {
	t.Parallel()
	// Each event: "step" runs the manual step (DMs the owners), "pending",
	// "running" and "waiting" save the flow in that state and call
	// FlowChanged with it, as the flow-changed job of that version does.
	// updates: chat.update calls on the flow message (Slack paces them at
	// one a second per workspace): none for the news that posts it.
	cases := []struct {
		name    string
		events  []string
		updates int
	}{
		{"step asks before any news of the flow", []string{"step", "running", "waiting"}, 1},
		{"only the last version's news runs (older ones saw a newer version)", []string{"step", "waiting"}, 0},
		{"news of the new flow first", []string{"pending", "step", "waiting"}, 1},
		{"every version's news, one retried", []string{"pending", "running", "step", "waiting", "waiting"}, 3},
	}
	for _, driver := range storetest.Drivers(t) {
		for _, c := range cases {
			t.Run(driver+"/"+c.name, func(t *testing.T) {
				t.Parallel()
				fx := newNotifyFixture(t, driver)
				req := fx.create(t, 0)
				chat := &scriptChat{}
				n := handlers.NewNotifier(handlers.NotifierConfig{Store: fx.st, Log: zerolog.Nop(),
					Clients: handlers.ChatClientsFunc(func(context.Context, string) (handlers.ChatAPI, error) { return chat, nil })})
				rqMust(t, n.RequestCreated(fx.ctx, req))
				_, err := fx.svc.Decide(fx.ctx, requests.DecideInput{TenantID: req.TenantID, RequestID: req.ID,
					ActorID: fx.users["owen"].ID, Decision: accessbot.DecisionApprove})
				rqMust(t, err)
				f, step := newManualFlow(t, fx, req)
				for _, ev := range c.events {
					switch ev {
					case "step":
						res, err := n.Fulfilment().Run(fx.ctx, step)
						rqMust(t, err)
						if !res.Wait {
							t.Fatalf("manual step did not wait: %+v", res)
						}
						continue
					case "pending":
					case "running":
						f.Status, f.Steps[0].Status = accessbot.FlowRunning, accessbot.FlowRunning
					case "waiting":
						f.Status, f.Steps[0].Status, f.Steps[0].Note = accessbot.FlowWaiting, accessbot.FlowWaiting, "asked 2 owner(s) to do it by hand"
					}
					if ev != "pending" {
						rqMust(t, fx.st.SaveActionFlow(fx.ctx, f))
					}
					stored, err := fx.st.GetActionFlow(fx.ctx, f.TenantID, f.ID)
					rqMust(t, err)
					rqMust(t, n.Flows().FlowChanged(fx.ctx, stored))
				}

				thread := "D-URITA"
				if got := chat.count(thread, true, "Granting GitLab / Developers"); got != 1 {
					t.Fatalf("flow message posted %d times in the requester's thread, want 1", got)
				}
				if got := chat.count("D-UOWEN", false, "GitLab"); got != 1 {
					t.Fatalf("owner asked %d times, want 1", got)
				}
				text, updates := flowMessageText(chat, thread)
				if want := "Granting GitLab / Developers: waiting"; !strings.Contains(text, want) {
					t.Fatalf("flow message reads %q, want the last state %q", text, want)
				}
				if updates != c.updates {
					t.Fatalf("flow message updated %d times, want %d", updates, c.updates)
				}
			})
		}
	}
}

// newManualFlow stores the provisioning flow of the approved req: one
// manual step, pending. It returns the step as its runner gets it.
func newManualFlow(t *testing.T, fx *notifyFixture, req *accessbot.AccessRequest) (*accessbot.ActionFlow, provision.Step) {
	t.Helper()
	var fl provision.Fields
	fl.Requester = provision.Person{ID: fx.users["rita"].ID, Name: "Rita", Email: "rita@acme.test"}
	fl.Target = fl.Requester
	fl.Application.ID, fl.Application.Name, fl.Application.Connector = fx.app.ID, fx.app.Name, fx.app.Connector
	fl.Connection.ID, fl.Connection.Name, fl.Connection.Type = fx.conns[0].ID, fx.conns[0].Name, fx.conns[0].Type
	fl.Request.ID, fl.Request.Kind = req.ID, string(req.Kind)
	b, err := json.Marshal(fl)
	rqMust(t, err)
	f := &accessbot.ActionFlow{TenantID: req.TenantID, Key: provision.FlowKey(provision.Provision, req.ID), RequestID: req.ID,
		AppID: fx.app.ID, ConnectionID: fx.conns[0].ID, UserID: fx.users["rita"].ID, Relationship: "group",
		Direction: string(provision.Provision), Status: accessbot.FlowPending, Fields: b, ActorID: provision.SystemActor,
		Steps: []accessbot.ActionFlowStep{{Type: "manual", Status: accessbot.FlowPending}}}
	rqMust(t, fx.st.CreateActionFlow(fx.ctx, f))
	return f, provision.Step{TenantID: f.TenantID, FlowID: f.ID, Index: 0, Type: "manual", Kind: provision.KindManual,
		Params: map[string]string{}, Key: f.ID + "_0", Attempt: 1, Fields: fl}
}

// flowMessageText is the flow message's text as Slack shows it now (its
// last update, or its post) and how often it was updated.
func flowMessageText(c *scriptChat, channel string) (string, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, p := range c.posts {
		if p.channel == channel && p.ThreadTS != "" && strings.Contains(p.Text, "Granting") {
			at := channel + "/" + fmt.Sprintf("1700000000.%06d", i+1)
			if u, ok := c.updated[at]; ok {
				return u, c.updates[at]
			}
			return p.Text, 0
		}
	}
	return "", 0
}
