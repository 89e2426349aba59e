package slackfake_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/accessbot/accessbot/bot/slackfake"
)

// openModal opens a modal for U1 through the Web API and returns its id.
func openModal(t *testing.T, f *fixture) string {
	t.Helper()
	v, err := f.api.OpenView(f.fake.NewTriggerID("T1", "U1"), slack.ModalViewRequest{
		Type: slack.VTModal, CallbackID: "form", Title: slack.NewTextBlockObject("plain_text", "Form", false, false),
	})
	if err != nil {
		t.Fatal(err)
	}
	return v.ID
}

func TestInteractiveBuildersDecode(t *testing.T) {
	f := newFixture(t)
	c := startClient(t, f, f.fake.AppToken())
	c.next(t, socketmode.EventTypeHello)
	viewID := openModal(t, f)
	_, ts, err := f.api.PostMessage("DU1", slack.MsgOptionText("pick", false))
	if err != nil {
		t.Fatal(err)
	}
	multi := slackfake.StateValue{"type": "multi_static_select", "selected_options": []map[string]any{
		{"text": map[string]any{"type": "plain_text", "text": "A"}, "value": "a"}}}
	cases := []struct {
		name  string
		send  func() string
		check func(t *testing.T, cb slack.InteractionCallback)
	}{
		{"view action carries state", func() string {
			return f.fake.SendInteractive(f.fake.ViewAction("T1", "U1", viewID,
				map[string]map[string]slackfake.StateValue{"b1": {"pick": multi}, "b2": {"note": slackfake.PlainTextValue("hi")}},
				slackfake.RawAction{"action_id": "pick", "block_id": "b1", "type": "multi_static_select",
					"selected_options": []map[string]any{{"text": map[string]any{"type": "plain_text", "text": "A"}, "value": "a"}}}))
		}, func(t *testing.T, cb slack.InteractionCallback) {
			acts := cb.ActionCallback.BlockActions
			if cb.Type != slack.InteractionTypeBlockActions || cb.View.ID != viewID || cb.View.CallbackID != "form" ||
				cb.Container.ViewID != viewID || cb.View.State.Values["b2"]["note"].Value != "hi" ||
				len(cb.View.State.Values["b1"]["pick"].SelectedOptions) != 1 || len(acts) != 1 ||
				acts[0].ActionID != "pick" || len(acts[0].SelectedOptions) != 1 || acts[0].SelectedOptions[0].Value != "a" || acts[0].ActionTs == "" {
				t.Fatalf("callback = %+v", cb)
			}
		}},
		{"message action", func() string {
			return f.fake.SendInteractive(f.fake.MessageAction("T1", "U1", "DU1", ts,
				slackfake.RawAction{"action_id": "when", "type": "datepicker", "selected_date": "2026-01-02"}))
		}, func(t *testing.T, cb slack.InteractionCallback) {
			acts := cb.ActionCallback.BlockActions
			if cb.Container.MessageTs != ts || cb.Message.Text != "pick" || cb.ResponseURL == "" || len(acts) != 1 ||
				acts[0].SelectedDate != "2026-01-02" || acts[0].BlockID != "b-when" {
				t.Fatalf("callback = %+v", cb)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := tc.send()
			evt := c.next(t, socketmode.EventTypeInteractive)
			if evt.Request.EnvelopeID != id {
				t.Fatalf("envelope %s, want %s", evt.Request.EnvelopeID, id)
			}
			tc.check(t, evt.Data.(slack.InteractionCallback))
			if err := c.client.Ack(*evt.Request); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestSuggestReturnsAckOptions(t *testing.T) {
	f := newFixture(t)
	c := startClient(t, f, f.fake.AppToken())
	c.next(t, socketmode.EventTypeHello)
	viewID := openModal(t, f)
	type result struct {
		s   slackfake.Suggestions
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := f.fake.Suggest(ctxT(t), f.fake.BlockSuggestion("T1", "U1", viewID, "app", "app_pick", "git"))
		done <- result{s, err}
	}()
	evt := c.next(t, socketmode.EventTypeInteractive)
	cb := evt.Data.(slack.InteractionCallback)
	if cb.Type != slack.InteractionTypeBlockSuggestion || cb.ActionID != "app_pick" || cb.BlockID != "app" ||
		cb.Value != "git" || cb.View.ID != viewID || cb.User.ID != "U1" || cb.Team.ID != "T1" {
		t.Fatalf("suggestion = %+v", cb)
	}
	opts := slack.OptionsResponse{Options: []*slack.OptionBlockObject{
		slack.NewOptionBlockObject("A1", slack.NewTextBlockObject("plain_text", "GitLab", false, false), nil)}}
	if err := c.client.Ack(*evt.Request, opts); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || len(r.s.Options) != 1 {
		t.Fatalf("Suggest = %+v, %v", r.s, r.err)
	}
	var o struct {
		Value string `json:"value"`
	}
	if err := json.Unmarshal(r.s.Options[0], &o); err != nil || o.Value != "A1" {
		t.Fatalf("option %s: %v", r.s.Options[0], err)
	}

	// Nobody acks: Suggest gives up with the context.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.fake.Suggest(ctx, f.fake.BlockSuggestion("T1", "U1", viewID, "app", "app_pick", "x")); err == nil {
		t.Fatal("Suggest with a done context succeeded")
	}
}

func TestSubmitViewRefusesClosedView(t *testing.T) {
	f := newFixture(t)
	viewID := openModal(t, f)
	p, err := f.fake.SubmitView("T1", "U1", viewID, map[string]map[string]slackfake.StateValue{"b": {"a": slackfake.PlainTextValue("x")}})
	if err != nil || !strings.Contains(string(p.View), `"x"`) {
		t.Fatalf("SubmitView open = %s, %v", p.View, err)
	}
	f.fake.CloseViews("U1")
	if _, err := f.fake.SubmitView("T1", "U1", viewID, nil); !errors.Is(err, slackfake.ErrViewNotOpen) {
		t.Fatalf("SubmitView closed = %v, want ErrViewNotOpen", err)
	}
}

func TestChangedFiresOnChange(t *testing.T) {
	f := newFixture(t)
	ch := f.fake.Changed()
	select {
	case <-ch:
		t.Fatal("Changed fired before any change")
	default:
	}
	if _, _, err := f.api.PostMessage("DU1", slack.MsgOptionText("x", false)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
	case <-ctxT(t).Done():
		t.Fatal("Changed did not fire after a message")
	}
}
