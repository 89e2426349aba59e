package handlers_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/flows/digest"
	"github.com/accessbot/accessbot/flows/schedule"
	"github.com/accessbot/accessbot/handlers/views"
	"github.com/accessbot/accessbot/store"
)

// TestDigestThreadOverflowEndToEnd: the digest's thread items carry their
// actions in an overflow menu. Through the real bot, a member's pick is
// refused; an admin's "Acknowledge" pick updates the finding, and the thread
// message loses that item's menu and gains who and when, so the menu cannot
// be used again.
func TestDigestThreadOverflowEndToEnd(t *testing.T) {
	start := time.Date(2026, 7, 1, 6, 0, 0, 0, time.UTC)
	e := newDigestEnv(t, "sqlite", start)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	e.addPeople(t, ctx, map[string]accessbot.Role{"ada": accessbot.RoleAdmin, "bob": accessbot.RoleMember})
	must(t, e.st.PutAlertSettings(ctx, &store.AlertSettings{TenantID: e.tenant, Channels: []string{"C1"}, AllClear: true, Since: start.Add(-time.Hour)}))
	e.report(t, "scanner.mfa_off", accessbot.SeverityHigh, 12) // 10 at the top, 2 in the thread
	startDigestBot(t, ctx, e)

	slot := start.Add(time.Hour)
	e.now.Set(slot)
	must(t, digest.New(e.st, e.notifier(t, 4), digest.Config{Clock: e.now.Now}).Run(ctx, schedule.Run{TenantID: e.tenant, Job: digest.Job, Slot: slot}))

	// The thread message with items, and the first item's finding.
	var thread slackfake.Message
	for _, m := range e.fake.Messages("C1") {
		if m.ThreadTS != "" && strings.Contains(string(m.Blocks), views.ActionFindingMenu) {
			thread = m
		}
	}
	if thread.TS == "" {
		t.Fatalf("no thread message with item menus in %+v", e.fake.Messages("C1"))
	}
	var blocks []struct {
		BlockID string `json:"block_id"`
	}
	must(t, json.Unmarshal(thread.Blocks, &blocks))
	findingID := ""
	for _, b := range blocks {
		if id, ok := strings.CutPrefix(b.BlockID, views.BlockDigestItemPrefix); ok {
			findingID = id
			break
		}
	}
	if findingID == "" {
		t.Fatalf("no item block in the thread: %s", thread.Blocks)
	}
	block := views.BlockDigestItemPrefix + findingID
	pick := func(user, action string) {
		t.Helper()
		p, err := e.fake.ClickOverflow("T1", user, "C1", thread.TS, block, views.ActionFindingMenu, action+":"+findingID)
		must(t, err)
		if _, err := e.fake.AwaitAck(ctx, e.fake.SendInteractive(p)); err != nil {
			t.Fatal(err)
		}
	}
	status := func() accessbot.FindingStatus {
		f, err := e.st.GetFinding(ctx, e.tenant, findingID)
		must(t, err)
		return f.Status
	}

	pick("UBOB", "ack")
	e.waitEphemeral(t, ctx, "UBOB", "Only tenant admins")
	if s := status(); s != accessbot.FindingOpen {
		t.Fatalf("a member's pick changed the finding to %s", s)
	}

	e.now.Set(slot.Add(15 * time.Minute))
	pick("UADA", "ack")
	updated, err := e.fake.WaitForMessage(ctx, "C1", func(m slackfake.Message) bool {
		return m.TS == thread.TS && strings.Contains(string(m.Blocks), "Acknowledged by ada at 2026-07-01 07:15 UTC")
	})
	if err != nil {
		t.Fatalf("thread message not updated with who and when: %v", err)
	}
	if s := status(); s != accessbot.FindingAcknowledged {
		t.Fatalf("status %s after the admin's pick", s)
	}
	if updated.ThreadTS != thread.ThreadTS {
		t.Fatalf("updated message left its thread: %q, want %q", updated.ThreadTS, thread.ThreadTS)
	}
	// That item's menu is gone; the other thread item keeps its own.
	if _, err := e.fake.ChooseOnMessage("C1", thread.TS, block, views.ActionFindingMenu, "resolve:"+findingID); err == nil {
		t.Fatal("the acted-on item still has its menu")
	}
	if n := strings.Count(string(updated.Blocks), views.ActionFindingMenu); n != strings.Count(string(thread.Blocks), views.ActionFindingMenu)-1 {
		t.Fatalf("%d menus left in the thread message", n)
	}
	audit, err := e.st.ListAudit(ctx, e.tenant, findingID)
	must(t, err)
	if len(audit) != 1 || audit[0].Action != "finding.acknowledged" {
		t.Fatalf("audit = %+v", audit)
	}
}
