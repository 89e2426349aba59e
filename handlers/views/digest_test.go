package views_test

import (
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/blockkit"
	. "github.com/accessbot/accessbot/handlers/views"
)

func digestFinding(id string, sev accessbot.Severity, display string) accessbot.Finding {
	seen := time.Date(2026, 6, 30, 14, 5, 0, 0, time.UTC)
	return accessbot.Finding{ID: id, Rule: "terminated_active", Severity: sev, Status: accessbot.FindingOpen,
		Subject: accessbot.Subject{Kind: accessbot.SubjectIdentity, ID: "i-" + id, Display: display}, FirstSeen: seen, OpenedAt: seen}
}

func TestDigestViewsGolden(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	actions := []ItemAction{{ID: "ack", Label: "Acknowledge"}, {ID: "resolve", Label: "Resolve", Style: slack.StylePrimary}}
	items := []accessbot.Finding{
		digestFinding("f1", accessbot.SeverityCritical, "<b>bob@acme.test</b> & co"),
		digestFinding("f2", accessbot.SeverityHigh, "carol@acme.test"),
		digestFinding("f3", accessbot.SeverityLow, ""),
	}
	chunks := Digest(DigestInfo{
		Since: time.Date(2026, 6, 30, 7, 0, 0, 0, time.UTC), At: time.Date(2026, 7, 1, 7, 0, 0, 0, time.UTC), Location: berlin,
		Counts: map[accessbot.Severity]int{accessbot.SeverityCritical: 1, accessbot.SeverityHigh: 1, accessbot.SeverityLow: 1},
		Items:  items, More: 4, Actions: actions, TopItems: 2,
	})
	if len(chunks) != 2 {
		t.Fatalf("%d messages, want a top message and one thread reply", len(chunks))
	}
	for _, c := range chunks {
		if err := blockkit.ValidateMessageText(c.Text, c.Blocks); err != nil {
			t.Fatal(err)
		}
	}
	golden(t, "digest", chunks)
	golden(t, "digest_all_clear", AllClear(time.Date(2026, 6, 30, 7, 0, 0, 0, time.UTC), berlin))
	golden(t, "digest_critical", CriticalAlert(items[0], actions, nil, berlin))
	acked := items[1]
	at := time.Date(2026, 7, 1, 8, 15, 0, 0, time.UTC)
	acked.Status, acked.StatusAt = accessbot.FindingAcknowledged, &at
	golden(t, "digest_item_status", ItemStatus(acked, "Ada Lovelace", berlin))
}
