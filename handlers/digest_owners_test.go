package handlers_test

import (
	"context"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/digest"
	"github.com/accessbot/accessbot/store"
)

// TestDigestIdentityFindingOwnersMayAct: on a finding about an identity,
// the owners of the identity's application may act, as admins may; other
// members, and owners of another application, are refused. The server
// re-reads the identity and the application on every click.
func TestDigestIdentityFindingOwnersMayAct(t *testing.T) {
	start := time.Date(2026, 7, 1, 6, 0, 0, 0, time.UTC)
	e := newDigestEnv(t, "sqlite", start)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	people := e.addPeople(t, ctx, map[string]accessbot.Role{"olga": accessbot.RoleMember, "sam": accessbot.RoleMember, "bob": accessbot.RoleMember})
	aws := &accessbot.Application{TenantID: e.tenant, Name: "AWS", PrimaryOwnerID: people["sam"].ID, SecondaryOwnerID: people["olga"].ID}
	must(t, e.st.CreateApplication(ctx, aws))
	gitlab := &accessbot.Application{TenantID: e.tenant, Name: "GitLab", PrimaryOwnerID: people["bob"].ID}
	must(t, e.st.CreateApplication(ctx, gitlab))
	_, err := e.st.ReplaceIdentities(ctx, e.tenant, aws.ID, []accessbot.Identity{{ExternalID: "root", Status: accessbot.IdentityActive}}, accessbot.SnapshotKeep{}, start)
	must(t, err)
	ids, err := e.st.ListIdentities(ctx, e.tenant, aws.ID, false)
	must(t, err)
	must(t, e.st.PutAlertSettings(ctx, &store.AlertSettings{TenantID: e.tenant, Channels: []string{"C1"}, AllClear: true, Since: start.Add(-time.Hour)}))
	_, err = e.st.SyncFindings(ctx, e.tenant, "terminated_employee_active_identity", []accessbot.FindingMatch{{Severity: accessbot.SeverityCritical,
		Subject: accessbot.Subject{Kind: accessbot.SubjectIdentity, ID: ids[0].ID, Display: "AWS: root"}}}, start)
	must(t, err)
	found, err := e.st.ListFindings(ctx, e.tenant, accessbot.FindingFilter{})
	must(t, err)
	f := found[0]
	startDigestBot(t, ctx, e)

	// The critical alert carries the item buttons; the handler re-reads the finding.
	must(t, digest.New(e.st, e.notifier(t, 4), digest.Config{Clock: e.now.Now}).AlertCritical(ctx, e.now.Now()))
	alerts := e.topLevel("C1", "Critical finding")
	if len(alerts) != 1 {
		t.Fatalf("%d critical alerts, want 1", len(alerts))
	}
	msg := alerts[0].TS

	click := func(user, action string) {
		t.Helper()
		e.clickFinding(t, ctx, user, "C1", msg, action, f.ID)
	}
	status := func() accessbot.FindingStatus {
		cur, err := e.st.GetFinding(ctx, e.tenant, f.ID)
		must(t, err)
		return cur.Status
	}
	click("UBOB", "ack") // owns GitLab, not AWS
	e.waitEphemeral(t, ctx, "UBOB", "Only tenant admins")
	if s := status(); s != accessbot.FindingOpen {
		t.Fatalf("another application's owner changed the finding to %s", s)
	}
	click("UOLGA", "ack") // AWS's secondary owner
	if err := e.fake.WaitFor(ctx, func() bool { return status() == accessbot.FindingAcknowledged }); err != nil {
		t.Fatalf("status %s after the secondary owner's acknowledge", status())
	}
	click("USAM", "resolve") // AWS's primary owner
	if err := e.fake.WaitFor(ctx, func() bool { return status() == accessbot.FindingResolved }); err != nil {
		t.Fatalf("status %s after the primary owner's resolve", status())
	}
	cur, err := e.st.GetFinding(ctx, e.tenant, f.ID)
	must(t, err)
	if cur.StatusBy != people["sam"].ID {
		t.Fatalf("resolved by %q, want sam", cur.StatusBy)
	}
}
