package playbooks_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/playbooks"
	"github.com/accessbot/accessbot/flows/provision"
	"github.com/accessbot/accessbot/jobs"
)

// The provisioning engine queues request.provisioned in the transaction
// that marks a request's flow done: once per request (a repeated Provision
// finds the flow), to the request playbooks only, and a deprovisioning
// flow sends nothing.
func TestProvisionedFromEngine(t *testing.T) {
	f := newFixture(t, "sqlite", fixtureOpts{noStart: true})
	ctx := context.Background()
	owner := &accessbot.User{TenantID: f.tenant.ID, Email: "owner@acme.test", Name: "owner", Role: accessbot.RoleMember, Status: accessbot.UserActive}
	requester := &accessbot.User{TenantID: f.tenant.ID, Email: "req@acme.test", Name: "req", Role: accessbot.RoleMember, Status: accessbot.UserActive}
	for _, u := range []*accessbot.User{owner, requester} {
		if err := f.st.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	none := []accessbot.ActionScript{{Type: "none"}}
	app := &accessbot.Application{TenantID: f.tenant.ID, Name: "GitLab", Connector: "manual", PrimaryOwnerID: owner.ID,
		Provisioning: map[string]accessbot.ActionChain{"group": {Provision: none, Deprovision: none}}}
	if err := f.st.CreateApplication(ctx, app); err != nil {
		t.Fatal(err)
	}
	conn := &accessbot.Connection{TenantID: f.tenant.ID, AppID: app.ID, Name: "devs", Type: "group"}
	if err := f.st.CreateConnection(ctx, conn); err != nil {
		t.Fatal(err)
	}
	f.playbook("provisioned", accessbot.PlaybookRequest, f.recv.URL(), nil)
	f.playbook("findings", accessbot.PlaybookFinding, f.recv.URL(), nil)

	eng := provision.New(provision.Config{Store: f.st, StepAttempts: 2, OnProvisioned: f.svc.Provisioned, Log: zerolog.Nop()})
	workers := river.NewWorkers()
	f.svc.AddWorkers(workers)
	eng.AddWorkers(workers)
	q, err := jobs.New(jobs.Config{Driver: f.driver, DB: f.st.(interface{ DB() *sql.DB }).DB(), Workers: workers,
		PollInterval: 20 * time.Millisecond, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	f.svc.SetEnqueuer(q)
	eng.SetQueue(q)
	f.start(q)

	now := time.Now().UTC()
	r := &accessbot.AccessRequest{TenantID: f.tenant.ID, Kind: accessbot.RequestUserAccess, RequesterID: requester.ID,
		AppID: app.ID, ConnectionID: conn.ID, Justification: "deploys", Status: accessbot.StatusApproved, DecidedAt: &now,
		Levels: []accessbot.ApprovalLevel{{Approvers: []accessbot.Approver{{Kind: accessbot.ApproverOwners}}, Rule: accessbot.RuleAny}}}
	if err := f.st.CreateRequest(ctx, r); err != nil {
		t.Fatal(err)
	}
	for range 2 { // a retried provision job finds the flow
		if err := eng.Provision(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	waitDeliveries(t, f, 1)
	d := f.recv.Deliveries()[0]
	var env struct {
		Data struct {
			playbooks.Body
			Object playbooks.RequestObject `json:"object"`
		} `json:"data"`
	}
	if err := json.Unmarshal(d.Body, &env); err != nil {
		t.Fatal(err)
	}
	if env.Data.Type != playbooks.RequestProvisioned || env.Data.Playbook.Name != "provisioned" || env.Data.ObjectID != r.ID ||
		env.Data.Object.ConnectionID != conn.ID || env.Data.Trigger.Kind != playbooks.TriggerEvent || d.Rejected != "" {
		t.Fatalf("delivery %s (rejected %q); want request.provisioned of %s to the request playbook", d.Body, d.Rejected, r.ID)
	}
	fl, err := f.st.GetActionFlowByKey(ctx, f.tenant.ID, provision.FlowKey(provision.Provision, r.ID))
	if err != nil || fl.Status != accessbot.FlowDone || fl.EntitlementID == "" {
		t.Fatalf("flow %+v, %v; want done with a grant", fl, err)
	}

	// Taking the grant away again is no provisioning: nothing more is sent.
	if _, err := eng.Deprovision(ctx, f.tenant.ID, fl.EntitlementID, owner.ID, "review revoke"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := f.st.GetEntitlement(ctx, f.tenant.ID, fl.EntitlementID); err != nil {
			break // removed: the deprovisioning flow is done
		}
		if time.Now().After(deadline) {
			t.Fatal("the deprovisioning flow did not finish")
		}
		time.Sleep(20 * time.Millisecond)
	}
	waitDeliveries(t, f, 1)
}
