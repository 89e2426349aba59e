package slackfake_test

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot/bot/slackfake"
)

// TestMessageMetadataHistory: metadata posted with chat.postMessage comes
// back, in Slack's field names, from conversations.history and
// conversations.replies with include_all_metadata, page by page through the
// cursor; DeliveryPosts counts posts per delivery key.
func TestMessageMetadataHistory(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	meta := func(key string) slack.MsgOption {
		return slack.MsgOptionMetadata(slack.SlackMetadata{EventType: "accessbot_delivery", EventPayload: map[string]any{"key": key}})
	}
	_, parent, err := f.api.PostMessageContext(ctx, "U1", slack.MsgOptionText("parent", false), meta("k-parent"))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"k-r1", "k-r2", "k-r3"} {
		if _, _, err := f.api.PostMessageContext(ctx, "U1", slack.MsgOptionText(k, false), slack.MsgOptionTS(parent), meta(k)); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"k-a", "k-b", "k-a"} {
		if _, _, err := f.api.PostMessageContext(ctx, "U1", slack.MsgOptionText(k, false), meta(k)); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := f.api.PostMessageContext(ctx, "U1", slack.MsgOptionText("untagged", false)); err != nil {
		t.Fatal(err)
	}
	dm := slackfake.DMChannel("U1")

	// History: top-level only, newest first, two per page.
	var keys []string
	cursor := ""
	pages := 0
	for {
		res, err := f.api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: dm, Limit: 2,
			Cursor: cursor, IncludeAllMetadata: true})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, m := range res.Messages {
			keys = append(keys, m.Text+"="+keyOf(m))
		}
		if res.HasMore != (res.ResponseMetaData.NextCursor != "") {
			t.Fatalf("has_more %v with next_cursor %q", res.HasMore, res.ResponseMetaData.NextCursor)
		}
		if cursor = res.ResponseMetaData.NextCursor; cursor == "" {
			break
		}
	}
	want := []string{"untagged=", "k-a=k-a", "k-b=k-b", "k-a=k-a", "parent=k-parent"}
	if !slices.Equal(keys, want) || pages != 3 {
		t.Fatalf("history %v in %d pages, want %v in 3", keys, pages, want)
	}

	// Without include_all_metadata Slack leaves metadata out.
	res, err := f.api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: dm})
	if err != nil || len(res.Messages) == 0 {
		t.Fatal(res, err)
	}
	for _, m := range res.Messages {
		if m.Metadata.EventType != "" {
			t.Fatalf("metadata without include_all_metadata: %+v", m.Metadata)
		}
	}

	// Replies: the parent, then the thread oldest first; oldest filters.
	msgs, _, _, err := f.api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{ChannelID: dm, Timestamp: parent,
		IncludeAllMetadata: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range msgs {
		got = append(got, keyOf(m))
	}
	if want := []string{"k-parent", "k-r1", "k-r2", "k-r3"}; !slices.Equal(got, want) {
		t.Fatalf("replies %v, want %v", got, want)
	}
	msgs, _, _, err = f.api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{ChannelID: dm, Timestamp: parent,
		Oldest: msgs[2].Timestamp, IncludeAllMetadata: true})
	if err != nil || len(msgs) != 2 || keyOf(msgs[1]) != "k-r3" {
		t.Fatalf("replies after r2: %d, %v", len(msgs), err)
	}

	counts := f.fake.DeliveryPosts("accessbot_delivery")
	if counts["k-a"] != 2 || counts["k-b"] != 1 || counts["k-r2"] != 1 || len(counts) != 6 {
		t.Fatalf("DeliveryPosts = %v", counts)
	}
}

func keyOf(m slack.Message) string {
	if m.Metadata.EventType != "accessbot_delivery" {
		return ""
	}
	k, _ := m.Metadata.EventPayload["key"].(string)
	return k
}

// TestMessageMetadataShape: the metadata object has Slack's field names
// (testdata/message_metadata.json, see testdata/SOURCE.md), and bad
// metadata or a missing history scope is refused as Slack does.
func TestMessageMetadataShape(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	raw, err := os.ReadFile("testdata/message_metadata.json")
	if err != nil {
		t.Fatal(err)
	}
	var sample struct {
		Metadata map[string]json.RawMessage `json:"metadata"`
	}
	if err := json.Unmarshal(raw, &sample); err != nil {
		t.Fatal(err)
	}
	_, ts, err := f.api.PostMessageContext(ctx, "C1", slack.MsgOptionText("x", false),
		slack.MsgOptionMetadata(slack.SlackMetadata{EventType: "e", EventPayload: map[string]any{"key": "k"}}))
	if err != nil {
		t.Fatal(err)
	}
	var msg map[string]json.RawMessage
	for _, m := range f.fake.Messages("C1") {
		if m.TS == ts {
			b, _ := json.Marshal(map[string]any{"metadata": m.Metadata})
			_ = json.Unmarshal(b, &msg)
		}
	}
	var md map[string]json.RawMessage
	if err := json.Unmarshal(msg["metadata"], &md); err != nil {
		t.Fatal(err)
	}
	for k := range md {
		if _, ok := sample.Metadata[k]; !ok {
			t.Errorf("metadata field %q is not in Slack's shape", k)
		}
	}
	for k := range sample.Metadata {
		if _, ok := md[k]; !ok {
			t.Errorf("metadata lacks Slack's field %q", k)
		}
	}
	_, _, err = f.api.PostMessageContext(ctx, "C1", slack.MsgOptionText("x", false), slack.MsgOptionMetadata(slack.SlackMetadata{EventType: "e"}))
	if err == nil || err.Error() != "invalid_metadata_schema" {
		t.Errorf("metadata without payload: %v", err)
	}
	narrow := f.fake.AddTeam(slackfake.Team{ID: "T3", Name: "Narrow", Scope: "chat:write,im:write"})
	api := slack.New(narrow.BotToken, slack.OptionAPIURL(f.fake.URL()))
	if _, err := api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: "C1"}); err == nil ||
		!strings.Contains(err.Error(), "missing_scope") {
		t.Errorf("history without channels:history: %v", err)
	}
}

// TestDelayAnswer: the post takes effect before its late answer, so a
// client that gives up has posted without knowing it.
func TestDelayAnswer(t *testing.T) {
	f := newFixture(t)
	f.fake.DelayAnswer("chat.postMessage", time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, _, err := f.api.PostMessageContext(ctx, "C1", slack.MsgOptionText("late", false)); err == nil {
		t.Fatal("the post answered before its delay")
	}
	if got := f.fake.Messages("C1"); len(got) != 1 || got[0].Text != "late" {
		t.Fatalf("messages %+v, want the post stored", got)
	}
}
