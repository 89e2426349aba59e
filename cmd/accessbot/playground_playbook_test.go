package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/accessbot/accessbot/handlers/views"
)

// pgRawState is /api/state with each message's blocks.
type pgRawState struct {
	Messages []pgDM `json:"messages"`
	Channels []struct {
		Name     string `json:"name"`
		Messages []pgDM `json:"messages"`
	} `json:"channels"`
}

// playbookMenu finds, in m's blocks, the "Run playbook" option named name:
// its block id and value.
func (m pgDM) playbookMenu(name string) (blockID, value string, ok bool) {
	var blocks []struct {
		Type     string `json:"type"`
		BlockID  string `json:"block_id"`
		Elements []struct {
			Type     string `json:"type"`
			ActionID string `json:"action_id"`
			Options  []struct {
				Text  struct{ Text string } `json:"text"`
				Value string                `json:"value"`
			} `json:"options"`
		} `json:"elements"`
	}
	_ = json.Unmarshal(m.Blocks, &blocks)
	for _, b := range blocks {
		for _, e := range b.Elements {
			if b.Type != "actions" || e.Type != "static_select" || e.ActionID != views.ActionPlaybookRun {
				continue
			}
			for _, o := range e.Options {
				if o.Text.Text == name {
					return b.BlockID, o.Value, true
				}
			}
		}
	}
	return "", "", false
}

// TestPlaygroundPlaybook: the playground declares a finding playbook that
// delivers to the receiver inside its process. Omar Haddad (an admin)
// picks it in the "Run playbook" menu of a finding in #access-alerts, as
// the page sends it: the receiver accepts the signed event (it verifies
// it with the Standard Webhooks library), the page's /api/webhooks lists
// it, and Omar is shown how the delivery went.
func TestPlaygroundPlaybook(t *testing.T) {
	t.Parallel()
	c, _ := startPlayground(t)
	const omar = "UOMARHADDAD"

	var alert pgDM
	var block, value string
	c.waitState(omar, "a finding with a Run playbook menu in #access-alerts", func(pgState) bool {
		var st pgRawState
		c.call("GET", "/api/state?user="+omar, nil, &st)
		for _, ch := range st.Channels {
			for _, m := range ch.Messages {
				if b, v, ok := m.playbookMenu(playgroundFindingsPlaybook); ch.Name == "access-alerts" && ok {
					alert, block, value = m, b, v
					return true
				}
			}
		}
		return false
	})
	var a pgAck
	if code := c.call("POST", "/api/action", map[string]any{"user": omar, "channel": alert.Channel, "ts": alert.TS,
		"action": map[string]any{"type": "static_select", "action_id": views.ActionPlaybookRun, "block_id": block,
			"selected_option": map[string]any{"value": value, "text": map[string]any{"type": "plain_text", "text": playgroundFindingsPlaybook}}}}, &a); code != 200 {
		t.Fatalf("Run playbook as Omar: %d %s", code, a.Error)
	}

	type event struct {
		Playbook struct{ Name string } `json:"playbook"`
		Trigger  struct {
			Kind    string `json:"kind"`
			ActorID string `json:"actor_id"`
		} `json:"trigger"`
		ObjectType string `json:"object_type"`
		ObjectID   string `json:"object_id"`
	}
	var got event
	var stats struct{ Accepted, Rejected int }
	c.waitState(omar, "the finding.manual event at the playground's receiver", func(pgState) bool {
		var d struct {
			Deliveries []struct {
				Endpoint string          `json:"endpoint"`
				Type     string          `json:"type"`
				Data     json.RawMessage `json:"data"`
			} `json:"deliveries"`
			Stats struct{ Accepted, Rejected int } `json:"stats"`
		}
		c.call("GET", "/api/webhooks", nil, &d)
		stats = d.Stats
		for _, x := range d.Deliveries {
			if x.Type == "finding.manual" && x.Endpoint == "playbook" {
				return json.Unmarshal(x.Data, &got) == nil
			}
		}
		return false
	})
	if got.Playbook.Name != playgroundFindingsPlaybook || got.Trigger.Kind != "manual" || got.Trigger.ActorID == "" ||
		got.ObjectType != "finding" || !strings.Contains(value, got.ObjectID) || stats.Rejected != 0 {
		t.Fatalf("event %+v (receiver stats %+v); want a manual run of %s on the chosen finding, nothing refused", got, stats, playgroundFindingsPlaybook)
	}
	c.waitState(omar, "the outcome shown to Omar", func(st pgState) bool {
		return anyText(st.channel("access-alerts"), "Playbook "+playgroundFindingsPlaybook+" delivered · HTTP 2")
	})
	t.Logf("[counts] receiver accepted=%d rejected=%d", stats.Accepted, stats.Rejected)
}
