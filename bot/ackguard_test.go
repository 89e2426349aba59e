package bot_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/accessbot/accessbot/bot"
	"github.com/accessbot/accessbot/bot/blockkit"
	"github.com/accessbot/accessbot/bot/slackapi"
)

// viewsAPI is a WebAPI that records views.update calls.
type viewsAPI struct {
	mu      sync.Mutex
	updates []slack.ModalViewRequest
	ext     []string
}

func (a *viewsAPI) PostMessage(context.Context, string, slackapi.Message) (string, string, error) {
	return "", "", nil
}
func (a *viewsAPI) PostEphemeral(context.Context, string, string, slackapi.Message) (string, error) {
	return "", nil
}
func (a *viewsAPI) PublishView(context.Context, string, slack.HomeTabViewRequest, string) (*slack.ViewResponse, error) {
	return nil, nil
}
func (a *viewsAPI) OpenView(context.Context, string, slack.ModalViewRequest) (*slack.ViewResponse, error) {
	return nil, nil
}
func (a *viewsAPI) UpdateView(_ context.Context, v slack.ModalViewRequest, externalID, _, _ string) (*slack.ViewResponse, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.updates = append(a.updates, v)
	a.ext = append(a.ext, externalID)
	return &slack.ViewResponse{}, nil
}

func (a *viewsAPI) calls() ([]slack.ModalViewRequest, []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]slack.ModalViewRequest(nil), a.updates...), append([]string(nil), a.ext...)
}

func newAPIFixture(t *testing.T, r *bot.Router, api bot.WebAPI) *fixture {
	t.Helper()
	d, err := bot.NewDispatcher(bot.DispatcherConfig{
		Router:      r,
		Resolver:    &stubResolver{},
		Clients:     bot.ClientsFunc(func(context.Context, string) (bot.WebAPI, error) { return api, nil }),
		AckDeadline: time.Second,
		Log:         zerolog.New(zerolog.NewTestWriter(t)),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.Start(ctx)
	t.Cleanup(func() { cancel(); d.Wait() })
	return &fixture{d: d, acks: newAckRecorder(), resp: newResponseURL(t), ctx: ctx}
}

// formView is a submitted view with one input block ("name") and one section ("info").
const formView = `{"id":"V1","type":"modal","callback_id":"form","blocks":[` +
	`{"type":"input","block_id":"name","label":{"type":"plain_text","text":"Name"},"element":{"type":"plain_text_input","action_id":"n"}},` +
	`{"type":"section","block_id":"info","text":{"type":"mrkdwn","text":"hi"}}]}`

func plainText(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, s, false, false)
}

func sections(n, size int) []slack.Block {
	out := make([]slack.Block, n)
	for i := range out {
		out[i] = slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, fmt.Sprintf("%d %s", i, strings.Repeat("x", size)), false, false), nil, nil)
	}
	return out
}

func modal(blocks []slack.Block) *slack.ModalViewRequest {
	return &slack.ModalViewRequest{Type: slack.VTModal, Title: plainText("Preview"), Close: plainText("Close"),
		CallbackID: "next", Blocks: slack.Blocks{BlockSet: blocks}}
}

// decodeViewAck reads a view_submission ack and checks any view against Slack's limits.
func decodeViewAck(t *testing.T, ack string) slack.ViewSubmissionResponse {
	t.Helper()
	var resp slack.ViewSubmissionResponse
	if err := json.Unmarshal([]byte(ack), &resp); err != nil {
		t.Fatalf("ack %s: %v", ack, err)
	}
	if resp.View != nil {
		if err := blockkit.ValidateView(*resp.View); err != nil {
			t.Fatalf("the ack carries a view Slack would reject: %v", err)
		}
	}
	if len(ack) >= 20480 {
		t.Fatalf("ack of %d bytes does not fit a Socket Mode frame", len(ack))
	}
	return resp
}

// Payloads handlers set with SetAck pass the Block Kit guard like messages do.
func TestSetAckPassesTheGuard(t *testing.T) {
	badButton := slack.NewButtonBlockElement(strings.Repeat("a", 300), "v", plainText("Go"))
	manyOptions := func(n int) []map[string]any {
		var out []map[string]any
		for i := range n {
			out = append(out, map[string]any{"text": map[string]any{"type": "plain_text", "text": fmt.Sprintf("App %d %s", i, strings.Repeat("n", 100))}, "value": fmt.Sprintf("a%d", i)})
		}
		out = append(out, map[string]any{"text": map[string]any{"type": "plain_text", "text": "too long a value"}, "value": strings.Repeat("v", 151)})
		return out
	}
	cases := []struct {
		name    string
		kind    string // view, suggestion, command
		payload any
		check   func(t *testing.T, ack string)
	}{
		{"update view over 100 blocks is cut with a note", "view", slack.NewUpdateViewSubmissionResponse(modal(sections(150, 10))),
			func(t *testing.T, ack string) {
				resp := decodeViewAck(t, ack)
				if resp.ResponseAction != slack.RAUpdate || len(resp.View.Blocks.BlockSet) != 100 || !strings.Contains(ack, "…and 51 more") {
					t.Fatalf("want the view cut to 100 blocks ending in …and 51 more; got %d blocks", len(resp.View.Blocks.BlockSet))
				}
			}},
		{"push view with a long title is fitted", "view", slack.NewPushViewSubmissionResponse(&slack.ModalViewRequest{Type: slack.VTModal,
			Title: plainText(strings.Repeat("T", 40)), Close: plainText("Close"), Blocks: slack.Blocks{BlockSet: sections(1, 10)}}),
			func(t *testing.T, ack string) {
				if resp := decodeViewAck(t, ack); resp.ResponseAction != slack.RAPush || !strings.HasSuffix(resp.View.Title.Text, "…") {
					t.Fatalf("want the pushed view with its title cut: %s", ack)
				}
			}},
		{"a view that cannot be repaired becomes an apology", "view",
			slack.NewUpdateViewSubmissionResponse(modal([]slack.Block{slack.NewActionBlock("acts", badButton)})),
			func(t *testing.T, ack string) {
				resp := decodeViewAck(t, ack)
				if resp.ResponseAction != slack.RAUpdate || strings.Contains(ack, "aaaa") || !strings.Contains(ack, "Sorry, I could not show that form (ref env)") {
					t.Fatalf("want the apology view: %s", ack)
				}
			}},
		{"update without a view becomes an apology", "view", map[string]any{"response_action": "update"},
			func(t *testing.T, ack string) {
				if resp := decodeViewAck(t, ack); resp.View == nil || !strings.Contains(ack, "Sorry") {
					t.Fatalf("want the apology view: %s", ack)
				}
			}},
		{"errors on a non-input block move to the first input", "view",
			map[string]any{"response_action": "errors", "errors": map[string]string{"info": "Pick again.", "name": strings.Repeat("e", 2500)}},
			func(t *testing.T, ack string) {
				resp := decodeViewAck(t, ack)
				if resp.ResponseAction != slack.RAErrors || len(resp.Errors) != 1 || !strings.Contains(resp.Errors["name"], "Pick again.") || !strings.Contains(resp.Errors["name"], "eeee") {
					t.Fatalf("errors %v", resp.Errors)
				}
				if n := len([]rune(resp.Errors["name"])); n > 2000 {
					t.Fatalf("error text of %d characters", n)
				}
			}},
		{"errors with no message become an apology", "view", slack.NewErrorsViewSubmissionResponse(map[string]string{}),
			func(t *testing.T, ack string) {
				if resp := decodeViewAck(t, ack); resp.ResponseAction != slack.RAUpdate || !strings.Contains(ack, "Sorry") {
					t.Fatalf("want the apology view: %s", ack)
				}
			}},
		{"suggestions cut to 100 valid options", "suggestion", map[string]any{"options": manyOptions(150)},
			func(t *testing.T, ack string) {
				var p struct {
					Options []*slack.OptionBlockObject `json:"options"`
				}
				if err := json.Unmarshal([]byte(ack), &p); err != nil {
					t.Fatal(err)
				}
				if len(p.Options) == 0 || len(p.Options) > 100 || len(ack) >= 20480 {
					t.Fatalf("%d options in %d bytes", len(p.Options), len(ack))
				}
				for _, o := range p.Options {
					if len([]rune(o.Text.Text)) > 75 || len(o.Value) > 150 || o.Text.Type != slack.PlainTextType {
						t.Fatalf("option breaks Slack's limits: %+v %q", o, o.Text.Text)
					}
				}
			}},
		{"no response_action is an empty ack", "view", map[string]any{},
			func(t *testing.T, ack string) {
				if ack != "null" {
					t.Fatalf("ack %s, want none (the view closes)", ack)
				}
			}},
		{"clear stays clear", "view", slack.NewClearViewSubmissionResponse(),
			func(t *testing.T, ack string) {
				if ack != `{"response_action":"clear"}` {
					t.Fatalf("ack %s", ack)
				}
			}},
		{"unreadable suggestions become an empty menu", "suggestion", map[string]any{"options": "lots"},
			func(t *testing.T, ack string) {
				if ack != `{"options":[]}` {
					t.Fatalf("ack %s", ack)
				}
			}},
		{"a command ack over 50 blocks is fitted", "command", map[string]any{"text": "list", "blocks": sections(60, 10)},
			func(t *testing.T, ack string) {
				var m struct {
					Blocks []json.RawMessage `json:"blocks"`
				}
				if err := json.Unmarshal([]byte(ack), &m); err != nil {
					t.Fatal(err)
				}
				if len(m.Blocks) != 50 || !strings.Contains(ack, "…and 11 more") {
					t.Fatalf("want 50 blocks ending in …and 11 more, got %d", len(m.Blocks))
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := bot.NewRouter()
			h := func(ctx context.Context, req *bot.Request) error { return req.SetAck(c.payload) }
			r.View("form", h)
			r.Suggestion("pick", h)
			r.Command("/access", "list", h)
			f := newAPIFixture(t, r, &viewsAPI{})
			switch c.kind {
			case "view":
				f.d.Handle(f.ctx, f.acks, &socketmode.Request{Type: "interactive", EnvelopeID: "env", Payload: json.RawMessage(
					`{"type":"view_submission","team":{"id":"T1"},"user":{"id":"U1"},"trigger_id":"tr","view":` + formView + `}`)})
			case "suggestion":
				f.d.Handle(f.ctx, f.acks, &socketmode.Request{Type: "interactive", EnvelopeID: "env", Payload: json.RawMessage(
					`{"type":"block_suggestion","team":{"id":"T1"},"user":{"id":"U1"},"action_id":"pick","value":"a"}`)})
			case "command":
				f.command("env", "U1", "list")
			}
			c.check(t, f.ackOf(t, "env"))
		})
	}
}

// A view answer too large for one Socket Mode frame rides as a small view
// and follows by views.update; without a Web API client it is an apology.
func TestLargeViewAckFollowsByViewsUpdate(t *testing.T) {
	big := modal(sections(90, 2800)) // valid, but ~250 KB
	big.PrivateMetadata = `{"draft":1}`
	r := bot.NewRouter()
	r.View("form", func(ctx context.Context, req *bot.Request) error {
		return req.SetAck(slack.NewUpdateViewSubmissionResponse(big))
	})
	submission := json.RawMessage(`{"type":"view_submission","team":{"id":"T1"},"user":{"id":"U1"},"trigger_id":"tr","view":` + formView + `}`)

	t.Run("with a client", func(t *testing.T) {
		api := &viewsAPI{}
		f := newAPIFixture(t, r, api)
		f.d.Handle(f.ctx, f.acks, &socketmode.Request{Type: "interactive", EnvelopeID: "big", Payload: submission})
		resp := decodeViewAck(t, f.ackOf(t, "big"))
		if resp.ResponseAction != slack.RAUpdate || resp.View.ExternalID == "" || resp.View.CallbackID != "next" || len(resp.View.Blocks.BlockSet) != 1 {
			t.Fatalf("want a small placeholder view with an external_id: %+v", resp.View)
		}
		waitFor(t, "views.update", func() bool { u, _ := api.calls(); return len(u) == 1 })
		updates, ext := api.calls()
		if ext[0] != resp.View.ExternalID || len(updates[0].Blocks.BlockSet) != 90 || updates[0].PrivateMetadata != `{"draft":1}` {
			t.Fatalf("views.update by %q of %d blocks (metadata %q); want the full view by %q", ext[0], len(updates[0].Blocks.BlockSet), updates[0].PrivateMetadata, resp.View.ExternalID)
		}
	})
	t.Run("without a client", func(t *testing.T) {
		f := newFixture(t, r)
		f.d.Handle(f.ctx, f.acks, &socketmode.Request{Type: "interactive", EnvelopeID: "big2", Payload: submission})
		ack := f.ackOf(t, "big2")
		if resp := decodeViewAck(t, ack); resp.View == nil || !strings.Contains(ack, "Sorry, I could not show that form") {
			t.Fatalf("want the apology view, got %s", ack)
		}
	})
}

// A view_submission the router answers itself (a panic, an error, an unknown
// form, an unlinked workspace) shows the answer in place of the form.
func TestViewSubmissionAnsweredInPlace(t *testing.T) {
	r := bot.NewRouter()
	r.View("boom", func(context.Context, *bot.Request) error { panic("kaboom") })
	r.View("fail", func(context.Context, *bot.Request) error { return fmt.Errorf("db down") })
	f := newAPIFixture(t, r, &viewsAPI{})
	for _, c := range []struct{ env, team, callback, want string }{
		{"p1", "T1", "boom", "Sorry, something went wrong on our side (ref p1)"},
		{"p2", "T1", "fail", "(ref p2)"},
		{"p3", "T1", "gone", "I don't know that form any more"},
		{"p4", "TOTHER", "fail", "not linked"},
	} {
		f.d.Handle(f.ctx, f.acks, &socketmode.Request{Type: "interactive", EnvelopeID: c.env, Payload: json.RawMessage(
			`{"type":"view_submission","team":{"id":"` + c.team + `"},"user":{"id":"U1"},"trigger_id":"tr-` + c.env + `","view":{"id":"V1","type":"modal","callback_id":"` + c.callback + `"}}`)})
		ack := f.ackOf(t, c.env)
		if resp := decodeViewAck(t, ack); resp.ResponseAction != slack.RAUpdate || !strings.Contains(ack, c.want) {
			t.Errorf("%s: ack %s, want an update view saying %q", c.callback, ack, c.want)
		}
	}
}
