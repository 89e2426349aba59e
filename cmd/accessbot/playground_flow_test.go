package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/accessbot/accessbot/handlers/views"
)

// pgButton is a button of a message, as the page would press it.
type pgButton struct {
	Text, ActionID, BlockID, Value string
}

// pgDM is a message of a user's DM with its blocks.
type pgDM struct {
	Channel, TS, Text string
	Blocks            json.RawMessage
}

func (m pgDM) button(text string) (pgButton, bool) {
	var blocks []struct {
		Type     string `json:"type"`
		BlockID  string `json:"block_id"`
		Elements []struct {
			Type     string `json:"type"`
			ActionID string `json:"action_id"`
			Value    string `json:"value"`
			Text     struct{ Text string }
		} `json:"elements"`
	}
	_ = json.Unmarshal(m.Blocks, &blocks)
	for _, b := range blocks {
		for _, e := range b.Elements {
			if b.Type == "actions" && e.Type == "button" && e.Text.Text == text {
				return pgButton{Text: text, ActionID: e.ActionID, BlockID: b.BlockID, Value: e.Value}, true
			}
		}
	}
	return pgButton{}, false
}

// dmWith waits for a DM of user whose text holds want and that has a
// button labelled button ("" for any message).
func (c *pgClient) dmWith(user, want, button string) pgDM {
	c.t.Helper()
	var found pgDM
	c.waitState(user, "a DM with "+want, func(pgState) bool {
		var st struct {
			Messages []pgDM `json:"messages"`
		}
		c.call("GET", "/api/state?user="+user, nil, &st)
		for _, m := range st.Messages {
			if !strings.Contains(m.Text+string(m.Blocks), want) {
				continue
			}
			if _, ok := m.button(button); button == "" || ok {
				found = m
				return true
			}
		}
		return false
	})
	return found
}

// press presses a message's button as user.
func (c *pgClient) press(user string, m pgDM, text string) {
	c.t.Helper()
	b, ok := m.button(text)
	if !ok {
		c.t.Fatalf("no %q button on %q", text, m.Text)
	}
	var a pgAck
	if code := c.call("POST", "/api/action", map[string]any{"user": user, "channel": m.Channel, "ts": m.TS,
		"action": map[string]any{"action_id": b.ActionID, "block_id": b.BlockID, "type": "button", "value": b.Value}}, &a); code != 200 {
		c.t.Fatalf("press %q as %s: %d %s", text, user, code, a.Error)
	}
}

type pgDeliveries struct {
	Deliveries []struct {
		ID       string            `json:"id"`
		Endpoint string            `json:"endpoint"`
		Type     string            `json:"type"`
		Data     map[string]string `json:"data"`
		Repeats  int               `json:"repeats"`
	} `json:"deliveries"`
	Stats struct{ Accepted, Repeats, Rejected int } `json:"stats"`
}

// waitDelivery waits for the playground receiver to have a delivery of type typ.
func (c *pgClient) waitDelivery(typ string) pgDeliveries {
	c.t.Helper()
	var d pgDeliveries
	c.waitState(sofiaID, "a "+typ+" webhook", func(pgState) bool {
		d = pgDeliveries{}
		c.call("GET", "/api/webhooks", nil, &d)
		for _, x := range d.Deliveries {
			if x.Type == typ {
				return true
			}
		}
		return false
	})
	return d
}

const sofiaID = "USOFIAROSSI"

// TestPlaygroundFlow drives the example tenant's action chain through the
// page's API: Sofia asks for Slack @oncall for 3 minutes, James (her
// manager) approves, the chain's webhook step is delivered to the
// playground's receiver (signature checked there), its manual step is
// answered Done by an owner, Sofia is warned 2 minutes before the end, and
// at the end the deprovisioning chain's webhook is delivered too.
func TestPlaygroundFlow(t *testing.T) {
	t.Parallel()
	c, _ := startPlayground(t)
	const (
		sofia = sofiaID
		james = "UJAMESOKAFOR" // Sofia's manager: the default chain's approver
		omar  = "UOMARHADDAD"  // Slack's primary owner: does the manual step
	)

	// The request, through the modal as the page sends it.
	c.command(sofia, "/access request")
	form := c.waitState(sofia, "the request modal", func(s pgState) bool {
		return s.Modal != nil && s.Modal.View.CallbackID == views.CallbackRequestForm
	}).Modal
	var sug struct {
		Options []struct {
			Text  struct{ Text string } `json:"text"`
			Value string                `json:"value"`
		} `json:"options"`
	}
	c.call("POST", "/api/suggest", map[string]string{"user": sofia, "view_id": form.ID, "block_id": views.BlockReqApp,
		"action_id": views.ActionReqApp, "value": "slack"}, &sug)
	if len(sug.Options) != 1 || sug.Options[0].Text.Text != "Slack" {
		t.Fatalf("suggestions for slack: %+v", sug)
	}
	app := map[string]any{"type": "external_select", "selected_option": map[string]any{
		"text": map[string]any{"type": "plain_text", "text": "Slack"}, "value": sug.Options[0].Value}}
	var a pgAck
	if code := c.call("POST", "/api/action", map[string]any{"user": sofia, "view_id": form.ID,
		"action": map[string]any{"action_id": views.ActionReqApp, "block_id": views.BlockReqApp, "type": "external_select",
			"selected_option": app["selected_option"]},
		"values": map[string]any{views.BlockReqApp: map[string]any{views.ActionReqApp: app}}}, &a); code != 200 {
		t.Fatalf("choose Slack = %d %s", code, a.Error)
	}
	var oncall string
	c.waitState(sofia, "Slack's entitlements and a 3-minute duration", func(s pgState) bool {
		if s.Modal == nil || s.Modal.ID != form.ID {
			return false
		}
		raw := string(mustJSON(t, s.Modal.View.Blocks))
		i := strings.Index(raw, `"text":"@oncall (group)"`)
		if i < 0 || !strings.Contains(raw, `"text":"3 minutes"`) {
			return false
		}
		v := raw[i:]
		v = v[strings.Index(v, `"value":"`)+len(`"value":"`):]
		oncall = v[:strings.Index(v, `"`)]
		return true
	})
	sel := func(v string) map[string]any {
		return map[string]any{"type": "static_select", "selected_option": map[string]any{"value": v, "text": map[string]any{"type": "plain_text", "text": v}}}
	}
	values := map[string]any{
		views.BlockReqApp:           map[string]any{views.ActionReqApp: app},
		views.BlockReqEntitlement:   map[string]any{views.ActionReqEntitlement: sel(oncall)},
		views.BlockReqDuration:      map[string]any{views.ActionReqDuration: sel(views.DurationValue(180e9))},
		views.BlockReqJustification: map[string]any{views.ActionReqJustification: map[string]any{"type": "plain_text_input", "value": "On call this afternoon."}},
	}
	var sub struct {
		ResponseAction string            `json:"response_action"`
		Errors         map[string]string `json:"errors"`
	}
	for i := 0; ; i++ { // Preview, then Submit on the preview
		st := c.waitState(sofia, "a modal", func(s pgState) bool { return s.Modal != nil })
		if i == 2 || st.Modal.View.CallbackID != views.CallbackRequestForm && st.Modal.View.CallbackID != views.CallbackRequestPreview {
			break
		}
		body := map[string]any{"user": sofia, "view_id": st.Modal.ID}
		if st.Modal.View.CallbackID == views.CallbackRequestForm {
			body["values"] = values
		}
		sub = struct {
			ResponseAction string            `json:"response_action"`
			Errors         map[string]string `json:"errors"`
		}{}
		if code := c.call("POST", "/api/submit", body, &sub); code != 200 || len(sub.Errors) > 0 {
			t.Fatalf("submit %s = %d %+v", st.Modal.View.CallbackID, code, sub)
		}
		if st.Modal.View.CallbackID == views.CallbackRequestPreview {
			break
		}
		c.waitState(sofia, "the preview", func(s pgState) bool {
			return s.Modal != nil && s.Modal.View.CallbackID == views.CallbackRequestPreview
		})
	}

	// James approves in his DM.
	c.press(james, c.dmWith(james, "@oncall", "Approve"), "Approve")

	// The chain's first step: a signed webhook to the playground's receiver.
	d := c.waitDelivery("playground.grant")
	var grant = d.Deliveries[0]
	for _, x := range d.Deliveries {
		if x.Type == "playground.grant" {
			grant = x
		}
	}
	if grant.Endpoint != "grant" || grant.Data["user"] != "sofia.rossi@acme.com" || grant.Data["group"] != "@oncall" || d.Stats.Rejected != 0 {
		t.Fatalf("grant delivery %+v (stats %+v)", grant, d.Stats)
	}

	// Its second: the owners are asked in the step's own words; Omar does it.
	ask := c.dmWith(omar, "Add Sofia Rossi to @oncall in Slack", "Done")
	c.press(omar, ask, "Done")
	c.dmWith(omar, "Done by Omar Haddad", "")

	// Granted for 3 minutes from now: /access mine shows it with its end...
	// mine is the "My access" section of Sofia's /access mine ("" for none).
	mine := func() string {
		c.command(sofia, "/access mine")
		var out string
		c.waitState(sofia, "the answer to /access mine", func(pgState) bool {
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
			n := len(st.Messages)
			if n == 0 || !st.Messages[n-1].Ephemeral {
				return false
			}
			for _, b := range st.Messages[n-1].Blocks {
				if b.BlockID == views.BlockListGrants {
					out = b.Text.Text
				}
			}
			return true
		})
		return out
	}
	if got := mine(); !strings.Contains(got, "@oncall") || !strings.Contains(got, "until") {
		t.Fatalf("/access mine after the grant: %q", got)
	}
	// ...2 minutes before its end Sofia is warned...
	var clk struct{ Error string }
	if code := c.call("POST", "/api/clock", map[string]string{"advance": "75s"}, &clk); code != 200 {
		t.Fatalf("advance = %d %s", code, clk.Error)
	}
	c.dmWith(sofia, "ends in 2 minutes", "")
	// ...and at the end the deprovisioning chain delivers its webhook.
	if code := c.call("POST", "/api/clock", map[string]string{"advance": "3m"}, &clk); code != 200 {
		t.Fatalf("advance = %d %s", code, clk.Error)
	}
	d = c.waitDelivery("playground.revoke")
	for _, x := range d.Deliveries {
		if x.Type == "playground.revoke" && (x.Data["user"] != "sofia.rossi@acme.com" || x.Data["reason"] != "expired") {
			t.Fatalf("revoke delivery %+v", x)
		}
	}
	if d.Stats.Rejected != 0 || d.Stats.Accepted != 2 {
		t.Fatalf("receiver stats %+v, want 2 accepted, none refused", d.Stats)
	}
	// Once the deprovisioning flow is done, Sofia holds nothing any more
	// (until then /access mine says it is being removed).
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		got := mine()
		if !strings.Contains(got, "@oncall") {
			break
		}
		if !strings.Contains(got, "being removed") || time.Now().After(deadline) {
			t.Fatalf("/access mine after the end: %q", got)
		}
	}
	t.Logf("[counts] webhooks accepted=%d repeats=%d rejected=%d", d.Stats.Accepted, d.Stats.Repeats, d.Stats.Rejected)
}
