package main

import (
	"strings"
	"testing"
	"time"

	"github.com/accessbot/accessbot/handlers/views"
)

// TestPlaygroundPurpose follows the example tenant's purpose as a new user
// would on the page: Sofia finds oncall-incident with /access purposes and
// asks to be assigned; James (her manager) approves; she starts it for an
// hour from Slack; Slack's chain runs (its webhook to the playground's
// receiver, then Omar's manual step); #access-alerts is told; her Home tab
// shows the session with Stop and Extend; an hour later (the page's clock)
// the session ends by itself: the deprovisioning webhook is delivered,
// the channel and Sofia are told.
func TestPlaygroundPurpose(t *testing.T) {
	t.Parallel()
	c, _ := startPlayground(t)
	const (
		sofia = sofiaID
		james = "UJAMESOKAFOR"
		omar  = "UOMARHADDAD"
	)
	if got := c.command(sofia, "/access start oncall-incident 1h incident 12 on the API"); !strings.Contains(got, "not assigned") {
		t.Fatalf("a start before the assignment answered %q", got)
	}
	c.command(sofia, "/access purposes")
	c.press(sofia, c.dmWith(sofia, "oncall-incident", "Request…"), "Request…")
	form := c.waitState(sofia, "the assignment modal", func(s pgState) bool {
		return s.Modal != nil && s.Modal.View.CallbackID == views.CallbackPurposeAsk
	}).Modal
	var sub struct {
		Errors map[string]string `json:"errors"`
	}
	if code := c.call("POST", "/api/submit", map[string]any{"user": sofia, "view_id": form.ID, "values": map[string]any{
		views.BlockPurposeWhy: map[string]any{views.ActionPurposeWhy: map[string]any{"type": "plain_text_input", "value": "I join the on-call rota."}}}},
		&sub); code != 200 || len(sub.Errors) > 0 {
		t.Fatalf("submit the assignment = %d %+v", code, sub)
	}
	c.press(james, c.dmWith(james, "oncall-incident", "Approve"), "Approve")
	c.dmWith(sofia, "approved", "")

	if got := c.command(sofia, "/access start oncall-incident 1h incident 12 on the API"); !strings.Contains(got, "oncall-incident started until") {
		t.Fatalf("the start answered %q", got)
	}
	d := c.waitDelivery("playground.grant")
	if x := d.Deliveries[len(d.Deliveries)-1]; x.Data["user"] != "sofia.rossi@acme.com" || x.Data["group"] != "@oncall" {
		t.Fatalf("grant delivery %+v", x)
	}
	c.press(omar, c.dmWith(omar, "Add Sofia Rossi to @oncall in Slack", "Done"), "Done")
	c.dmWith(omar, "Done by Omar Haddad", "")
	// The grant exists once the flow is done: only then does the hour run
	// out on the clock (a flow still running at the end is revoked on a
	// later real-time tick, too late for this test).
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		c.command(sofia, "/access mine")
		var st struct {
			Messages []struct {
				Ephemeral bool
				Blocks    []struct {
					BlockID string `json:"block_id"`
					Text    struct{ Text string }
				}
			} `json:"messages"`
		}
		c.call("GET", "/api/state?user="+sofia, nil, &st)
		granted := false
		if n := len(st.Messages); n > 0 && st.Messages[n-1].Ephemeral {
			for _, b := range st.Messages[n-1].Blocks {
				granted = granted || (b.BlockID == views.BlockListGrants && strings.Contains(b.Text.Text, "@oncall"))
			}
		}
		if granted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("/access mine never showed the @oncall grant of the session")
		}
	}
	c.waitState(sofia, "the start in #access-alerts", func(s pgState) bool {
		return anyText(s.channel("access-alerts"), "Sofia Rossi started *oncall-incident*")
	})
	var ack pgAck
	if code := c.call("POST", "/api/home", map[string]string{"user": sofia}, &ack); code != 200 {
		t.Fatalf("open Home = %d %s", code, ack.Error)
	}
	c.waitState(sofia, "the session on the Home tab with Stop and Extend", func(s pgState) bool {
		if s.Home == nil {
			return false
		}
		raw := string(mustJSON(t, s.Home.View.Blocks))
		return strings.Contains(raw, views.ActionSessionStop) && strings.Contains(raw, views.ActionSessionExtend)
	})

	var clk struct{ Error string }
	if code := c.call("POST", "/api/clock", map[string]string{"advance": "61m"}, &clk); code != 200 {
		t.Fatalf("advance = %d %s", code, clk.Error)
	}
	d = c.waitDelivery("playground.revoke")
	for _, x := range d.Deliveries {
		if x.Type == "playground.revoke" && x.Data["user"] != "sofia.rossi@acme.com" {
			t.Fatalf("revoke delivery %+v", x)
		}
	}
	c.waitState(sofia, "the end in #access-alerts", func(s pgState) bool {
		return anyText(s.channel("access-alerts"), "reached its end")
	})
	c.dmWith(sofia, "Your *oncall-incident* session reached its end", "")
	t.Logf("[counts] webhooks accepted=%d rejected=%d", d.Stats.Accepted, d.Stats.Rejected)
	if d.Stats.Rejected != 0 || d.Stats.Accepted != 2 {
		t.Fatalf("receiver stats %+v, want the grant and the revoke, none refused", d.Stats)
	}
}
