package handlers_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/flows/digest"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/flows/userimport"
	"github.com/accessbot/accessbot/store"
)

// hostile is the name of issue 9 point 9: a live @channel and a link whose
// label hides where it goes.
const hostile = "<!channel> <http://evil.example/reset|Reset your SSO password>"

// liveMarkup returns the Slack control sequences found in a recorded
// message: its text and every string anywhere in its blocks. Escaped data
// (&lt;!channel&gt;) shows as text and is not reported.
func liveMarkup(t *testing.T, m slackfake.Message) []string {
	t.Helper()
	strs := []string{m.Text}
	if len(m.Blocks) > 0 {
		var v any
		if err := json.Unmarshal(m.Blocks, &v); err != nil {
			t.Fatalf("blocks of %s/%s: %v", m.Channel, m.TS, err)
		}
		var walk func(any)
		walk = func(v any) {
			switch v := v.(type) {
			case string:
				strs = append(strs, v)
			case []any:
				for _, e := range v {
					walk(e)
				}
			case map[string]any:
				for _, e := range v {
					walk(e)
				}
			}
		}
		walk(v)
	}
	var found []string
	for _, s := range strs {
		for _, seq := range []string{"<!channel", "<!here", "<!everyone", "<http"} {
			if strings.Contains(s, seq) {
				found = append(found, s)
				break
			}
		}
	}
	return found
}

// TestE2ECriticalAlertEscapesRuleName: a critical finding whose rule name
// is Slack markup (recorded before rule names were checked) reaches the
// alert channel as plain text, in the notification text and the blocks.
func TestE2ECriticalAlertEscapesRuleName(t *testing.T) {
	start := time.Date(2026, 10, 23, 5, 0, 0, 0, time.UTC)
	e := newDigestEnv(t, "sqlite", start)
	ctx := context.Background()
	must(t, e.st.PutAlertSettings(ctx, &store.AlertSettings{TenantID: e.tenant, Channels: []string{"C1"}, Since: start.Add(-time.Hour)}))
	e.report(t, hostile, accessbot.SeverityCritical, 1)
	svc := digest.New(e.st, e.notifier(t, 1), digest.Config{Clock: e.now.Now})
	must(t, svc.AlertCritical(ctx, e.now.Now()))

	msgs := e.fake.Messages("C1")
	if len(msgs) != 1 {
		t.Fatalf("%d messages in the alert channel, want 1 alert", len(msgs))
	}
	m := msgs[0]
	if live := liveMarkup(t, m); len(live) > 0 {
		t.Errorf("the alert carries live markup:\n%s", strings.Join(live, "\n"))
	}
	if !strings.Contains(m.Text, "&lt;!channel&gt;") || !strings.Contains(string(m.Blocks), "Reset your SSO password") {
		t.Errorf("the rule name should show, escaped: text %q blocks %s", m.Text, m.Blocks)
	}
}

// TestE2EHRNameEscapedInApprovalDM: a name imported from the HR CSV that is
// Slack markup reaches the approver (and everyone else) as plain text.
func TestE2EHRNameEscapedInApprovalDM(t *testing.T) {
	e := startRequests(t, "sqlite", requests.Policy{})
	csv := "email,name,manager_email\nrita@acme.test,\"" + hostile + "\",mona@acme.test\n"
	res, err := userimport.NewImporter(e.st, e.clock.Now, zerolog.Nop()).Import(e.ctx, e.tenant.ID, "hr.csv", strings.NewReader(csv), userimport.Options{})
	rqMust(t, err)
	if res.Updated != 1 || len(res.Rejected) != 0 {
		t.Fatalf("import: %s", res.Summary())
	}
	r := e.createAccess("rita", "Developers")
	dm := e.approvalDM(slackID("mona"), r.ID)
	if live := liveMarkup(t, dm); len(live) > 0 {
		t.Errorf("the approval DM carries live markup:\n%s", strings.Join(live, "\n"))
	}
	if !strings.Contains(dm.Text, "&lt;!channel&gt;") {
		t.Errorf("approval DM text %q should name the requester, escaped", dm.Text)
	}
	e.dm(slackID("rita"), "Your request")
	for _, m := range e.fake.AllMessages() {
		if live := liveMarkup(t, m); len(live) > 0 {
			t.Errorf("message %q in %s carries live markup:\n%s", m.Text, m.Channel, strings.Join(live, "\n"))
		}
	}
}
