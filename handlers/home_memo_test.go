package handlers_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/identity"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/handlers"
	"github.com/accessbot/accessbot/internal/metrics"
	"github.com/accessbot/accessbot/internal/testenv"
	"github.com/accessbot/accessbot/store"
)

// homesHandled is how many app_home_opened handlers have finished in this
// process (every replica of a test shares the metric).
func homesHandled(t *testing.T) uint64 {
	t.Helper()
	var m dto.Metric
	if err := metrics.HandlerLatency.WithLabelValues("event:app_home_opened", "ok").(interface{ Write(*dto.Metric) error }).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount()
}

// homeReads counts the Home's store reads: the version, and the reads of
// its sections (the admins' connector status, the one section the e2e
// harness shows).
type homeReads struct {
	store.Queries
	versions, sections atomic.Int64
}

func (c *homeReads) HomeVersion(ctx context.Context, tenantID, userID string, admin bool) (store.HomeVersion, error) {
	c.versions.Add(1)
	return c.Queries.HomeVersion(ctx, tenantID, userID, admin)
}

func (c *homeReads) ListApplications(ctx context.Context, tenantID, q string, limit int) ([]accessbot.Application, error) {
	c.sections.Add(1)
	return c.Queries.ListApplications(ctx, tenantID, q, limit)
}

func (c *homeReads) ListConnectorSyncs(ctx context.Context, tenantID string) ([]accessbot.ConnectorSync, error) {
	c.sections.Add(1)
	return c.Queries.ListConnectorSyncs(ctx, tenantID)
}

func (c *homeReads) ListConnectors(ctx context.Context, tenantID string) ([]store.Connector, error) {
	c.sections.Add(1)
	return c.Queries.ListConnectors(ctx, tenantID)
}

func (c *homeReads) ListSchedules(ctx context.Context, tenantID string) ([]store.Schedule, error) {
	c.sections.Add(1)
	return c.Queries.ListSchedules(ctx, tenantID)
}

// homeTester opens Homes and counts what they cost.
type homeTester struct {
	t     *testing.T
	e     *e2e
	reads *homeReads
}

func (h *homeTester) open(user string, n int) {
	h.t.Helper()
	before := homesHandled(h.t)
	for range n {
		h.e.fake.SendEvent(h.e.fake.AppHomeOpened(h.e.team.ID, user))
		// One at a time: opens at the same moment would both render.
		if err := h.e.fake.WaitFor(h.e.ctx, func() bool { return homesHandled(h.t) >= before+1 }); err != nil {
			h.t.Fatalf("Home open of %s not handled: %v", user, err)
		}
		before++
	}
}

func (h *homeTester) published(user string) int {
	n := 0
	for _, c := range h.e.fake.Calls("views.publish") {
		if c.Param("user_id") == user {
			n++
		}
	}
	return n
}

// TestE2EAppHomeUnchangedNotPublishedAgain: opening a Home whose view
// carries the current Home version reads nothing but the version and
// publishes nothing; a Home-hidden write changes nothing; a Home-visible
// write that leaves this Home as it was costs one render and no publish
// (then the memo answers, across replicas with Redis); one that changes it
// is published at the next open.
func TestE2EAppHomeUnchangedNotPublishedAgain(t *testing.T) {
	for _, tc := range []struct {
		name     string
		replicas int
		redis    bool
	}{
		{"memory, 1 replica", 1, false},
		{"redis, 2 replicas", 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var memo handlers.Memo = identity.NewMemoryCache(0, nil)
			if tc.redis {
				c, _ := testenv.Redis(t)
				memo = identity.NewRedisCache(c, fmt.Sprintf("test:%s:%d:", t.Name(), time.Now().UnixNano()))
			}
			reads := &homeReads{}
			e := start(t, e2eOpts{replicas: tc.replicas, redis: tc.redis, published: memo, connectors: true, homeReads: reads})
			reads.Queries = e.st
			h := &homeTester{t: t, e: e, reads: reads}
			ten, err := e.st.GetTenantBySlug(e.ctx, "acme")
			must(t, err)
			ada, err := e.st.GetUserByEmail(e.ctx, ten.ID, "ada@acme.test")
			must(t, err)

			h.open("UADA", 1)
			e.home("UADA", "Acme Corp", "Linked")
			h.open("UEVE", 1)
			e.home("UEVE", "not linked")
			if ada, eve := h.published("UADA"), h.published("UEVE"); ada != 1 || eve != 1 {
				t.Fatalf("first opens: %d and %d publishes, want 1 each", ada, eve)
			}

			// Unchanged: only the version is read.
			v0, s0 := reads.versions.Load(), reads.sections.Load()
			h.open("UADA", 4)
			h.open("UEVE", 1) // unlinked: rendered, same blocks, not published
			if n := h.published("UADA") + h.published("UEVE"); n != 2 {
				t.Fatalf("views.publish %d times after unchanged opens, want 2 in all", n)
			}
			if v, s := reads.versions.Load()-v0, reads.sections.Load()-s0; v != 4 || s != 0 {
				t.Fatalf("4 unchanged opens read the version %d times and the sections %d times, want 4 and 0", v, s)
			}

			// A write no Home shows moves nothing.
			must(t, e.st.AppendAudit(e.ctx, &accessbot.AuditEntry{TenantID: ten.ID, ActorID: "system", Action: "test.noop", ObjectID: "x"}))
			h.open("UADA", 1)
			if s := reads.sections.Load() - s0; s != 0 {
				t.Fatalf("an audit entry made the Home render (%d section reads)", s)
			}

			// A Home-visible write that leaves ada's Home as it is: one
			// render, no publish; the next opens find the memo.
			must(t, e.st.CreateApplication(e.ctx, &accessbot.Application{TenantID: ten.ID, Name: "GitLab", Connector: "gitlab", PrimaryOwnerID: ada.ID}))
			h.open("UADA", 1)
			s1 := reads.sections.Load()
			if s1 == s0 {
				t.Fatalf("a new application did not make the Home render")
			}
			h.open("UADA", 3)
			if s := reads.sections.Load(); s != s1 {
				t.Fatalf("opens after a same-blocks render rendered again (%d more section reads)", s-s1)
			}
			if n := h.published("UADA"); n != 1 {
				t.Fatalf("views.publish for ada %d times, want 1 (the blocks did not change)", n)
			}

			// A write that changes it is published at the next open.
			must(t, e.st.CreateApplication(e.ctx, &accessbot.Application{TenantID: ten.ID, Name: "Entra ID", Connector: "azuread", PrimaryOwnerID: ada.ID}))
			h.open("UADA", 1)
			if n := h.published("UADA"); n != 2 {
				t.Fatalf("after a new directory application, views.publish for ada %d times, want 2", n)
			}
			e.home("UADA", "Directory connectors", "Entra ID")
			h.open("UADA", 2)
			if n := h.published("UADA"); n != 2 {
				t.Fatalf("unchanged opens after the publish: views.publish for ada %d times, want 2", n)
			}
		})
	}
}

// TestE2EAppHomeEveryWriteKind: a write to each kind of Home-visible
// record makes the next open of ada (an admin, who the writes name) render
// (her version moved); a Home-hidden one does not. Bob, a member none of
// the writes name, renders only after those every Home shows (the tenant,
// users, connections, settings): requests, decisions and grants of ada,
// connector syncs and flows leave his version alone (migration 00300). The
// database's triggers keep the version (migrations 00285, 00300); the store
// conformance test HomeVersion checks every table has one. On PostgreSQL
// the store keeps versions in memory (store/sqlstore/homecache.go): its
// own writes drop them at once.
func TestE2EAppHomeEveryWriteKind(t *testing.T) {
	for _, driver := range []string{"sqlite", "postgres"} {
		t.Run(driver, func(t *testing.T) { testEveryWriteKind(t, driver) })
	}
}

func testEveryWriteKind(t *testing.T, driver string) {
	reads := &homeReads{}
	var skew atomic.Int64 // how far the bot's clock is ahead
	now := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	e := start(t, e2eOpts{connections: 1, connectors: true, homeReads: reads, now: now, driver: driver})
	reads.Queries = e.st
	h := &homeTester{t: t, e: e, reads: reads}
	ctx := e.ctx
	ten, err := e.st.GetTenantBySlug(ctx, "acme")
	must(t, err)
	ada, err := e.st.GetUserByEmail(ctx, ten.ID, "ada@acme.test")
	must(t, err)
	app := &accessbot.Application{TenantID: ten.ID, Name: "Wiki", Connector: "manual", PrimaryOwnerID: ada.ID}
	must(t, e.st.CreateApplication(ctx, app))
	conn := &accessbot.Connection{TenantID: ten.ID, AppID: app.ID, Name: "editors", Type: "group"}
	must(t, e.st.CreateConnection(ctx, conn))
	// Bob is a linked member: his Home has no section the harness counts,
	// and no memo is set, so each of his renders is a publish.
	_, err = e.fake.AddUser(slackfake.User{ID: "UBOB", TeamID: "T1", Name: "bob", Email: "bob@acme.test"})
	must(t, err)
	must(t, e.st.CreateUser(ctx, &accessbot.User{TenantID: ten.ID, Email: "bob@acme.test", Name: "Bob", Status: accessbot.UserActive}))
	var req *accessbot.AccessRequest
	var flow *accessbot.ActionFlow
	for _, tc := range []struct {
		name    string
		visible bool // ada's Home renders again
		member  bool // bob's too
		write   func() error
	}{
		{"tenant renamed", true, true, func() error {
			tn := *ten
			tn.Name = "Acme Corp"
			return e.st.UpdateTenant(ctx, &tn)
		}},
		{"user added", true, true, func() error {
			return e.st.CreateUser(ctx, &accessbot.User{TenantID: ten.ID, Email: "mo@acme.test", Name: "Mo", Status: accessbot.UserActive})
		}},
		{"connection added", true, true, func() error {
			return e.st.CreateConnection(ctx, &accessbot.Connection{TenantID: ten.ID, AppID: app.ID, Name: "readers", Type: "group"})
		}},
		{"request filed", true, false, func() error {
			req = &accessbot.AccessRequest{TenantID: ten.ID, Kind: accessbot.RequestUserAccess, RequesterID: ada.ID, TargetUserID: ada.ID,
				Status: accessbot.StatusPending, OpenKey: "k1", ConnectionID: conn.ID, AppID: app.ID,
				Levels: []accessbot.ApprovalLevel{{Approvers: []accessbot.Approver{{Kind: accessbot.ApproverManager}}, Rule: accessbot.RuleAny}}}
			return e.st.CreateRequest(ctx, req)
		}},
		{"request decided", true, false, func() error {
			next := *req
			next.Status = accessbot.StatusApproved
			return e.st.TransitionRequest(ctx, ten.ID, req.ID, accessbot.StatusPending, req.Level, &next)
		}},
		{"grant recorded", true, false, func() error {
			return e.st.CreateEntitlement(ctx, &accessbot.Entitlement{TenantID: ten.ID, UserID: ada.ID, ConnectionID: conn.ID})
		}},
		{"grant settings", true, true, func() error {
			return e.st.PutGrantSettings(ctx, &accessbot.GrantSettings{TenantID: ten.ID, ExpiryNotices: []time.Duration{time.Hour}})
		}},
		{"connector synced", true, false, func() error {
			at := time.Now()
			return e.st.PutConnectorSync(ctx, &accessbot.ConnectorSync{TenantID: ten.ID, AppID: app.ID, Connector: "manual", LastRunAt: &at})
		}},
		{"in a transaction", true, true, func() error {
			return e.st.InTx(ctx, func(q store.Queries) error {
				return q.CreateUser(ctx, &accessbot.User{TenantID: ten.ID, Email: "cy@acme.test", Name: "Cy", Status: accessbot.UserActive})
			})
		}},
		// A flow shows only while failed or waiting (the admins' list):
		// one that runs and finishes moves nothing.
		{"flow started", false, false, func() error {
			flow = &accessbot.ActionFlow{TenantID: ten.ID, Key: "k-flow", UserID: ada.ID, AppID: app.ID, ConnectionID: conn.ID,
				Relationship: "group", Direction: "provision", Status: accessbot.FlowRunning,
				Steps: []accessbot.ActionFlowStep{{Type: "manual", Status: accessbot.FlowRunning}}}
			return e.st.CreateActionFlow(ctx, flow)
		}},
		{"flow failed", true, false, func() error {
			flow.Status, flow.Steps[0].Status, flow.Steps[0].LastError = accessbot.FlowFailed, accessbot.FlowFailed, "boom"
			return e.st.SaveActionFlow(ctx, flow)
		}},
		{"failed flow's step alone", true, false, func() error {
			v, err := e.st.HomeVersion(ctx, ten.ID, ada.ID, true)
			if err != nil {
				return err
			}
			db := e.st.(interface{ DB() *sql.DB }).DB()
			if _, err := db.ExecContext(ctx, rebind(driver, `UPDATE action_flow_scripts SET note = 'looked at' WHERE tenant_id = ? AND flow_id = ?`),
				ten.ID, flow.ID); err != nil {
				return err
			}
			// Not through the store: on PostgreSQL the version kept in
			// memory follows by notification; wait for it, as the next
			// open a moment later would.
			return e.fake.WaitFor(ctx, func() bool { n, err := e.st.HomeVersion(ctx, ten.ID, ada.ID, true); return err == nil && n != v })
		}},
		{"flow retried", true, false, func() error {
			flow.Status, flow.Steps[0].Status = accessbot.FlowRunning, accessbot.FlowRunning
			return e.st.SaveActionFlow(ctx, flow)
		}},
		{"flow done", false, false, func() error {
			flow.Status, flow.Steps[0].Status = accessbot.FlowDone, accessbot.FlowDone
			return e.st.SaveActionFlow(ctx, flow)
		}},
		{"nothing written, but HomeMaxAge passed", true, true, func() error {
			skew.Add(int64(handlers.HomeMaxAge))
			return nil
		}},
		{"audit entry", false, false, func() error {
			return e.st.AppendAudit(ctx, &accessbot.AuditEntry{TenantID: ten.ID, ActorID: "system", Action: "test.noop", ObjectID: "x"})
		}},
		{"message ref", false, false, func() error {
			return e.st.SaveMessageRef(ctx, &accessbot.MessageRef{TenantID: ten.ID, ObjectID: "x", Purpose: "requester", ChannelID: "C1", TS: "1.2"})
		}},
	} {
		h.open("UADA", 1) // settle: the Home is current
		h.open("UBOB", 1)
		s0, b0 := reads.sections.Load(), h.published("UBOB")
		h.open("UADA", 1)
		h.open("UBOB", 1)
		if s, b := reads.sections.Load(), h.published("UBOB"); s != s0 || b != b0 {
			t.Fatalf("%s: an unchanged open rendered (%d section reads, %d publishes for bob)", tc.name, s-s0, b-b0)
		}
		if err := tc.write(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		h.open("UADA", 1)
		h.open("UBOB", 1)
		if rendered := reads.sections.Load() != s0; rendered != tc.visible {
			t.Errorf("%s: ada's Home rendered %v, want %v", tc.name, rendered, tc.visible)
		}
		if rendered := h.published("UBOB") != b0; rendered != tc.member {
			t.Errorf("%s: bob's Home rendered %v, want %v", tc.name, rendered, tc.member)
		}
	}
	if got := e.home("UADA"); !strings.Contains(got, "Wiki") {
		t.Logf("last Home: %s", got)
	}
}

// rebind numbers a query's placeholders for PostgreSQL.
func rebind(driver, q string) string {
	if driver != "postgres" {
		return q
	}
	for n := 1; strings.Contains(q, "?"); n++ {
		q = strings.Replace(q, "?", fmt.Sprintf("$%d", n), 1)
	}
	return q
}
