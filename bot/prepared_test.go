package bot_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/accessbot/accessbot/bot"
)

func helpLike() bot.Message {
	return bot.Message{Text: "Commands: help", Blocks: []slack.Block{
		slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "*Commands*\n`/access help` shows this", false, false), nil, nil),
	}}
}

// TestPreparedAnswer: a prepared answer rides on the ack exactly as the
// same message given to Respond does; when the handler is slower than the
// ack deadline it goes by response_url like any answer; unescaped markup
// cannot be prepared.
func TestPreparedAnswer(t *testing.T) {
	p, err := bot.Prepare(helpLike)
	if err != nil {
		t.Fatal(err)
	}
	r := bot.NewRouter()
	r.Command("/access", "plain", func(ctx context.Context, req *bot.Request) error { return req.Respond(ctx, helpLike()) })
	r.Command("/access", "prepared", func(ctx context.Context, req *bot.Request) error { return req.RespondPrepared(ctx, p) })
	r.Command("/access", "late", func(ctx context.Context, req *bot.Request) error {
		time.Sleep(400 * time.Millisecond) // past the fixture's 200 ms ack deadline
		return req.RespondPrepared(ctx, p)
	})
	f := newFixture(t, r)
	f.command("e-plain", "U1", "plain")
	f.command("e-prepared", "U1", "prepared")
	plain, prepared := f.ackOf(t, "e-plain"), f.ackOf(t, "e-prepared")
	if prepared != plain || !strings.Contains(prepared, "shows this") {
		t.Fatalf("prepared ack %s, want the plain answer's %s", prepared, plain)
	}
	// A redelivery gets the same answer again.
	f.command("e-prepared", "U1", "prepared")
	waitFor(t, "second ack", func() bool { return len(f.acks.get("e-prepared")) == 2 })
	if again := f.acks.get("e-prepared")[1]; again != prepared {
		t.Errorf("redelivery ack %s, want %s", again, prepared)
	}

	f.command("e-late", "U1", "late")
	if ack := f.ackOf(t, "e-late"); ack != "null" {
		t.Errorf("late ack %s, want empty", ack)
	}
	waitFor(t, "response_url post", func() bool {
		for _, b := range f.resp.all() {
			if strings.Contains(b, "shows this") && strings.Contains(b, `"response_type":"ephemeral"`) {
				return true
			}
		}
		return false
	})

	if _, err := bot.Prepare(func() bot.Message { return bot.Message{Text: "hi <!channel>"} }); err == nil {
		t.Error("Prepare took unescaped markup")
	}
}

// TestUnknownClickAnswer: a click on a button no route knows gets, by its
// response_url, exactly the body Respond made of MsgUnknownAction before it
// was prepared once; each click of a payload with two unknown actions is
// answered once per action, as before.
func TestUnknownClickAnswer(t *testing.T) {
	f := newFixture(t, bot.NewRouter())
	want, _ := json.Marshal(map[string]any{"response_type": "ephemeral", "text": fmt.Sprintf(bot.MsgUnknownAction, "/access")})
	url := f.resp.URL + "/r"
	f.d.Handle(f.ctx, f.acks, &socketmode.Request{Type: "interactive", EnvelopeID: "k1", Payload: json.RawMessage(
		`{"type":"block_actions","team":{"id":"T1"},"user":{"id":"U1"},"trigger_id":"tk1","response_url":"` + url + `",` +
			`"actions":[{"block_id":"b","action_id":"gone","action_ts":"1"},{"block_id":"b","action_id":"also_gone","action_ts":"1"}]}`)})
	waitFor(t, "two answers", func() bool { return len(f.resp.all()) >= 2 })
	time.Sleep(50 * time.Millisecond) // a third would come now
	posts := f.resp.all()
	if len(posts) != 2 {
		t.Fatalf("%d answers, want 2: %q", len(posts), posts)
	}
	for _, p := range posts {
		if p != string(want) {
			t.Errorf("answer %s, want %s", p, want)
		}
	}
}
