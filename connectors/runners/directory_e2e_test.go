package runners

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/connectors/azuread"
	"github.com/accessbot/accessbot/connectors/azuread/graphfake"
	"github.com/accessbot/accessbot/connectors/dirsource"
	"github.com/accessbot/accessbot/connectors/outbound"
	"github.com/accessbot/accessbot/connectors/scim"
	"github.com/accessbot/accessbot/connectors/scim/scimfake"
	"github.com/accessbot/accessbot/flows/dirsync"
	"github.com/accessbot/accessbot/flows/grants"
	"github.com/accessbot/accessbot/flows/provision"
	"github.com/accessbot/accessbot/jobs"
	"github.com/accessbot/accessbot/store/backend"
)

// startEngine runs a provisioning engine on e's store (River step jobs)
// with the directory runners a running accessbot registers.
func startEngine(t *testing.T, e *env) *provision.Engine {
	t.Helper()
	ctx := context.Background()
	eng := provision.New(provision.Config{Store: e.st, StepAttempts: 3, Backoff: func(int) time.Duration { return 10 * time.Millisecond }, Log: e.log})
	eng.RegisterProvider(provision.KindProviderAPI, azuread.Provider, azuread.NewRunner(e.st, e.keys, e.log))
	eng.RegisterProvider(provision.KindProviderAPI, scim.Provider, scim.NewRunner(e.st, e.keys, e.log))
	workers := river.NewWorkers()
	eng.AddWorkers(workers)
	q, err := jobs.New(jobs.Config{Driver: backend.SQLite, DB: e.st.(interface{ DB() *sql.DB }).DB(), Workers: workers, PollInterval: 20 * time.Millisecond, Log: e.log})
	if err != nil {
		t.Fatal(err)
	}
	eng.SetQueue(q)
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = q.Stop(sctx)
	})
	return eng
}

// directory is one fake directory as the test drives it.
type directory struct {
	name         string
	typ          string // connector type and script provider
	connector    func(e *env)
	user         func(email string) string // creates the account, returns its id
	group        func(name string) string
	isMember     func(group, user string) bool
	removeMember func(group, user string) // outside accessbot
	lose         func(n int)              // the next n changes are applied, their answers lost
	requests     func() int               // membership changes sent
}

func directories(t *testing.T) []directory {
	g := graphfake.New()
	t.Cleanup(g.Close)
	s := scimfake.New()
	t.Cleanup(s.Close)
	return []directory{{
		name: "entra", typ: azuread.Type,
		connector: func(e *env) {
			e.connector("entra", azuread.Type, map[string]string{"tenant_id": g.TenantID, "client_id": g.ClientID, "authority_url": g.URL(), "graph_url": g.GraphURL()},
				map[string]string{"client_secret": g.ClientSecret})
		},
		user: func(email string) string {
			return g.PutUser(graphfake.User{UPN: email, Mail: email, DisplayName: email, AccountEnabled: true})
		},
		group:        func(name string) string { return g.PutGroup(graphfake.Group{DisplayName: name}) },
		isMember:     g.IsMember,
		removeMember: g.RemoveMember,
		lose:         g.LoseResponses,
		requests: func() int {
			return g.Count("POST /groups/{id}/members/$ref") + g.Count("DELETE /groups/{id}/members/{id}/$ref")
		},
	}, {
		name: "wiki", typ: scim.Type,
		connector: func(e *env) {
			e.connector("wiki", scim.Type, map[string]string{"base_url": s.URL()}, map[string]string{"token": s.Token})
		},
		user:         func(email string) string { return s.PutUser(scimfake.User{UserName: email, Active: true}) },
		group:        s.PutGroup,
		isMember:     s.IsMember,
		removeMember: s.RemoveMember,
		lose:         s.LoseResponses,
		requests:     func() int { return s.Count("PATCH /Groups/{id}") },
	}}
}

// TestDirectoryGrantLifecycle is the "done means" against both
// fakes: an approved user-in-group request on an application whose
// connector is Entra ID (then SCIM) adds the member through the engine;
// a step whose answer was lost is retried and meets "already a member",
// which is success; when the time-bound grant ends, the member is removed.
func TestDirectoryGrantLifecycle(t *testing.T) {
	for _, d := range directories(t) {
		t.Run(d.name, func(t *testing.T) {
			ctx := context.Background()
			e := newEnv(t, outbound.Options{})
			e.allow("127.0.0.1")
			d.connector(e)
			eng := startEngine(t, e)
			owner := e.user("owner-" + e.tenant.Slug + "@example.com")
			for _, lost := range []bool{false, true} {
				who := "ada"
				if lost {
					who = "bea"
				}
				requester := e.user(who + "-" + e.tenant.Slug + "@example.com")
				uid := d.user(requester.Email)
				gid := d.group("Sales-" + who)
				app := &accessbot.Application{TenantID: e.tenant.ID, Name: "Directory " + who, Connector: d.name, PrimaryOwnerID: owner.ID,
					Provisioning: map[string]accessbot.ActionChain{"group": {
						Provision:   []accessbot.ActionScript{{Type: d.typ + "_api_add_user_to_group", Params: map[string]string{"group": "{{.Connection.Name}}"}}},
						Deprovision: []accessbot.ActionScript{{Type: d.typ + "_api_remove_user_from_group"}},
					}}}
				must(t, e.st.CreateApplication(ctx, app))
				conn := &accessbot.Connection{TenantID: e.tenant.ID, AppID: app.ID, Name: "Sales-" + who, Type: "group"}
				must(t, e.st.CreateConnection(ctx, conn))
				now := time.Now().UTC()
				req := &accessbot.AccessRequest{TenantID: e.tenant.ID, Kind: accessbot.RequestUserAccess, RequesterID: requester.ID, TargetUserID: requester.ID,
					AppID: app.ID, ConnectionID: conn.ID, Justification: "pipeline", Status: accessbot.StatusApproved, DecidedAt: &now, Duration: time.Hour,
					Levels: []accessbot.ApprovalLevel{{Approvers: []accessbot.Approver{{Kind: accessbot.ApproverOwners}}, Rule: accessbot.RuleAny}}}
				must(t, e.st.CreateRequest(ctx, req))
				before := d.requests()
				if lost {
					d.lose(1)
				}
				must(t, eng.Provision(ctx, req))
				fl := waitFlow(t, e, provision.FlowKey(provision.Provision, req.ID), accessbot.FlowDone)
				if !d.isMember(gid, uid) {
					t.Fatalf("lost=%v: not a member after the flow", lost)
				}
				wantSent := 1
				if lost {
					wantSent = 2 // the first answer lost, the retried step met the member already there
				}
				if n := d.requests() - before; n != wantSent || fl.Steps[0].Attempts != wantSent {
					t.Fatalf("lost=%v: %d membership requests, %d attempts; want %d", lost, n, fl.Steps[0].Attempts, wantSent)
				}
				ents, err := e.st.ListEntitlements(ctx, e.tenant.ID, requester.ID)
				must(t, err)
				if len(ents) != 1 || ents[0].ExpiresAt == nil {
					t.Fatalf("grants = %+v", ents)
				}
				// The grant ends: the expiry sweep starts its deprovisioning.
				gs, err := grants.New(grants.Config{Store: e.st, Deprovisioner: eng, Clock: time.Now, Log: zerolog.Nop()})
				must(t, err)
				must(t, gs.Tick(ctx, ents[0].ExpiresAt.Add(time.Minute)))
				waitFlow(t, e, provision.FlowKey(provision.Deprovision, ents[0].ID), accessbot.FlowDone)
				if d.isMember(gid, uid) {
					t.Fatalf("lost=%v: still a member after the grant ended", lost)
				}
				if ents, _ := e.st.ListEntitlements(ctx, e.tenant.ID, requester.ID); len(ents) != 0 {
					t.Fatalf("grant kept: %+v", ents)
				}
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestRevocationThatDidNotStick: a grant ends through a deprovisioning
// flow that does not remove the membership (its only step is none, as an
// owner answering "Done" without doing it would be); the next sync finds
// the directory still showing it and raises a
// connector_revocation_not_applied finding, while a revocation that did
// remove the member raises none. Once the member is gone, the next sync
// resolves the finding.
func TestRevocationThatDidNotStick(t *testing.T) {
	for _, d := range directories(t) {
		t.Run(d.name, func(t *testing.T) {
			ctx := context.Background()
			e := newEnv(t, outbound.Options{})
			e.allow("127.0.0.1")
			d.connector(e)
			eng := startEngine(t, e)
			owner := e.user("owner-" + e.tenant.Slug + "@example.com")
			app := &accessbot.Application{TenantID: e.tenant.ID, Name: "Directory", Connector: d.name, PrimaryOwnerID: owner.ID,
				Provisioning: map[string]accessbot.ActionChain{
					"group": {Provision: []accessbot.ActionScript{{Type: d.typ + "_api_add_user_to_group"}},
						Deprovision: []accessbot.ActionScript{{Type: d.typ + "_api_remove_user_from_group"}}},
					"role": {Provision: []accessbot.ActionScript{{Type: d.typ + "_api_add_user_to_group"}},
						Deprovision: []accessbot.ActionScript{{Type: "none"}}}, // "revoked" without touching the directory
				}}
			must(t, e.st.CreateApplication(ctx, app))
			type holder struct {
				user      *accessbot.User
				uid, gid  string
				connector *accessbot.Connection
			}
			grant := func(who, typ string) holder {
				u := e.user(who + "-" + e.tenant.Slug + "@example.com")
				h := holder{user: u, uid: d.user(u.Email), gid: d.group("G-" + who)}
				h.connector = &accessbot.Connection{TenantID: e.tenant.ID, AppID: app.ID, Name: "G-" + who, Type: typ}
				must(t, e.st.CreateConnection(ctx, h.connector))
				now := time.Now().UTC()
				req := &accessbot.AccessRequest{TenantID: e.tenant.ID, Kind: accessbot.RequestUserAccess, RequesterID: u.ID, TargetUserID: u.ID,
					AppID: app.ID, ConnectionID: h.connector.ID, Justification: "x", Status: accessbot.StatusApproved, DecidedAt: &now,
					Levels: []accessbot.ApprovalLevel{{Approvers: []accessbot.Approver{{Kind: accessbot.ApproverOwners}}, Rule: accessbot.RuleAny}}}
				must(t, e.st.CreateRequest(ctx, req))
				must(t, eng.Provision(ctx, req))
				waitFlow(t, e, provision.FlowKey(provision.Provision, req.ID), accessbot.FlowDone)
				return h
			}
			revoke := func(h holder) {
				ents, err := e.st.ListEntitlements(ctx, e.tenant.ID, h.user.ID)
				must(t, err)
				if len(ents) != 1 {
					t.Fatalf("grants of %s: %+v", h.user.Email, ents)
				}
				_, err = eng.Deprovision(ctx, e.tenant.ID, ents[0].ID, owner.ID, "review: revoke")
				must(t, err)
				waitFlow(t, e, provision.FlowKey(provision.Deprovision, ents[0].ID), accessbot.FlowDone)
			}
			stuck := grant("ann", "group") // revoked properly
			sticky := grant("ben", "role") // "revoked" by a step that does nothing
			if !d.isMember(stuck.gid, stuck.uid) || !d.isMember(sticky.gid, sticky.uid) {
				t.Fatal("not provisioned")
			}
			revoke(stuck)
			revoke(sticky)
			if d.isMember(stuck.gid, stuck.uid) || !d.isMember(sticky.gid, sticky.uid) {
				t.Fatal("the deprovisioning flows did not do what the test needs")
			}

			src, _, err := dirsource.For(ctx, e.st, e.keys, app, e.log)
			must(t, err)
			sy := dirsync.New(e.st, nil, time.Now, e.log)
			res, err := sy.Sync(ctx, e.tenant.ID, app, src, dirsync.Options{TempDir: t.TempDir()})
			must(t, err)
			if res.Unrevoked != 1 || !strings.Contains(res.Summary(), "1 revocation(s) not applied") {
				t.Fatalf("sync: %s", res.Summary())
			}
			fs, err := e.st.ListFindings(ctx, e.tenant.ID, accessbot.FindingFilter{Rule: dirsync.RuleRevocationNotApplied})
			must(t, err)
			if len(fs) != 1 || !strings.Contains(fs[0].Subject.Display, sticky.user.Email) || !strings.Contains(string(fs[0].Details), `"G-ben"`) ||
				fs[0].Status != accessbot.FindingOpen {
				t.Fatalf("findings = %+v", fs)
			}

			d.removeMember(sticky.gid, sticky.uid) // the owner fixes it in the application
			res, err = sy.Sync(ctx, e.tenant.ID, app, src, dirsync.Options{TempDir: t.TempDir()})
			must(t, err)
			fs, err = e.st.ListFindings(ctx, e.tenant.ID, accessbot.FindingFilter{Rule: dirsync.RuleRevocationNotApplied})
			must(t, err)
			if res.Unrevoked != 0 || len(fs) != 1 || fs[0].Status != accessbot.FindingResolved {
				t.Fatalf("after the fix: %s; findings %+v", res.Summary(), fs)
			}
		})
	}
}
