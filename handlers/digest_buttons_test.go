package handlers_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/flows/digest"
	"github.com/accessbot/accessbot/store"
)

// TestDigestButtonsEndToEnd: the real bot (sockets, router, identity)
// answers Acknowledge and Resolve on a critical alert: a member is refused,
// an admin's click updates the finding and the message, a second click is
// answered as stale.
func TestDigestButtonsEndToEnd(t *testing.T) {
	start := time.Date(2026, 7, 1, 6, 0, 0, 0, time.UTC)
	e := newDigestEnv(t, "sqlite", start)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, u := range []slackfake.User{
		{ID: "UADA", TeamID: "T1", Name: "ada", RealName: "Ada Lovelace", Email: "ada@acme.test"},
		{ID: "UBOB", TeamID: "T1", Name: "bob", RealName: "Bob", Email: "bob@acme.test"},
	} {
		if _, err := e.fake.AddUser(u); err != nil {
			t.Fatal(err)
		}
	}
	must(t, e.st.CreateUser(ctx, &accessbot.User{TenantID: e.tenant, Email: "ada@acme.test", Name: "Ada Lovelace", Status: accessbot.UserActive, Role: accessbot.RoleAdmin}))
	must(t, e.st.CreateUser(ctx, &accessbot.User{TenantID: e.tenant, Email: "bob@acme.test", Name: "Bob", Status: accessbot.UserActive, Role: accessbot.RoleMember}))
	must(t, e.st.PutAlertSettings(ctx, &store.AlertSettings{TenantID: e.tenant, Channels: []string{"C1"}, AllClear: true, Since: start.Add(-time.Hour)}))

	startDigestBot(t, ctx, e)

	e.report(t, "terminated_active", accessbot.SeverityCritical, 1)
	svc := digest.New(e.st, e.notifier(t, 4), digest.Config{Clock: e.now.Now})
	must(t, svc.AlertCritical(ctx, e.now.Now()))
	must(t, svc.AlertCritical(ctx, e.now.Now())) // polled again: no second alert
	alerts := e.topLevel("C1", "Critical finding")
	if len(alerts) != 1 {
		t.Fatalf("%d critical alerts, want 1", len(alerts))
	}
	found, err := e.st.ListFindings(ctx, e.tenant, accessbot.FindingFilter{})
	must(t, err)
	f := found[0]
	click := func(user, action string) {
		t.Helper()
		e.clickFinding(t, ctx, user, "C1", alerts[0].TS, action, f.ID)
	}
	status := func() accessbot.FindingStatus {
		cur, err := e.st.GetFinding(ctx, e.tenant, f.ID)
		must(t, err)
		return cur.Status
	}

	click("UBOB", "ack")
	e.waitEphemeral(t, ctx, "UBOB", "Only tenant admins")
	if s := status(); s != accessbot.FindingOpen {
		t.Fatalf("member's click changed the finding to %s", s)
	}

	e.now.Set(start.Add(30 * time.Minute))
	click("UADA", "ack")
	if _, err := e.fake.WaitForMessage(ctx, "C1", func(m slackfake.Message) bool {
		return m.TS == alerts[0].TS && strings.Contains(string(m.Blocks), "Acknowledged by Ada Lovelace at 2026-07-01 06:30 UTC")
	}); err != nil {
		t.Fatalf("alert not updated with who and when: %v", err)
	}
	if s := status(); s != accessbot.FindingAcknowledged {
		t.Fatalf("status %s after acknowledge", s)
	}
	click("UADA", "ack")
	e.waitEphemeral(t, ctx, "UADA", "already acknowledged by Ada Lovelace")

	click("UADA", "resolve")
	if err := e.fake.WaitFor(ctx, func() bool { return status() == accessbot.FindingResolved }); err != nil {
		t.Fatalf("status %s after resolve", status())
	}
	audit, err := e.st.ListAudit(ctx, e.tenant, f.ID)
	must(t, err)
	if len(audit) != 2 || audit[0].Action != "finding.acknowledged" || audit[1].Action != "finding.resolved" {
		t.Fatalf("audit = %+v", audit)
	}
}
