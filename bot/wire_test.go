package bot

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/accessbot/accessbot/bot/slackfake"
)

// The wire decoders must give what encoding/json gives whenever they do not
// give up. These check one input each way; the tables below also pin which
// inputs take the one-pass path, so a decoder that always gave up would fail.

func checkFrame(t *testing.T, in []byte) bool {
	t.Helper()
	got, ok := decodeFrame(in)
	if !ok {
		return false
	}
	var want socketmode.Request
	if err := json.Unmarshal(in, &want); err != nil {
		t.Fatalf("frame %q: wire decoded what encoding/json refuses: %v", in, err)
	}
	if !reflect.DeepEqual(*got, want) {
		t.Fatalf("frame %q:\nwire          %+v\nencoding/json %+v", in, *got, want)
	}
	if len(got.Payload) > 0 && aliases(got.Payload, in) {
		t.Fatalf("frame %q: the payload shares the frame's bytes, which HandleFrame's caller may reuse", in)
	}
	// A socket's frame is the read loop's own: the payload is a slice of it.
	owned, ok := decodeFrameOf(bytes.Clone(in), true)
	if !ok {
		t.Fatalf("frame %q: the owned frame's decode gave up where the copying one did not", in)
	}
	if !reflect.DeepEqual(*owned, want) {
		t.Fatalf("frame %q, owned:\nwire          %+v\nencoding/json %+v", in, *owned, want)
	}
	if len(owned.Payload) > 0 && cap(owned.Payload) != len(owned.Payload) {
		t.Fatalf("frame %q, owned: payload cap %d, len %d: an append would write over the frame", in, cap(owned.Payload), len(owned.Payload))
	}
	return true
}

// aliases reports whether b is a slice of in's array.
func aliases(b, in []byte) bool {
	if len(b) == 0 || len(in) == 0 {
		return false
	}
	end := &in[:cap(in)][cap(in)-1]
	return uintptr(unsafe.Pointer(&b[0])) >= uintptr(unsafe.Pointer(&in[0])) &&
		uintptr(unsafe.Pointer(&b[0])) <= uintptr(unsafe.Pointer(end))
}

// TestOwnedFrameNoCopy: a frame the read loop owns is not copied for its
// payload (a copy of most of every frame), one HandleFrame's caller
// passes is.
func TestOwnedFrameNoCopy(t *testing.T) {
	frame := []byte(`{"envelope_id":"e1","type":"events_api","accepts_response_payload":false,` +
		`"payload":{"type":"event_callback","team_id":"T1","event":{"type":"app_mention","user":"U1"}}}`)
	owned, ok := decodeFrameOf(frame, true)
	if !ok {
		t.Fatal("wire gave up")
	}
	if !aliases(owned.Payload, frame) {
		t.Error("owned frame: the payload was copied")
	}
	if copied, _ := decodeFrame(frame); aliases(copied.Payload, frame) {
		t.Error("frame of HandleFrame: the payload was not copied")
	}
	if !bytes.Equal(owned.Payload, []byte(`{"type":"event_callback","team_id":"T1","event":{"type":"app_mention","user":"U1"}}`)) {
		t.Errorf("owned payload %s", owned.Payload)
	}
}

func checkEvents(t *testing.T, in []byte) bool {
	t.Helper()
	got, ok := decodeEventsWire(in)
	if !ok {
		return false
	}
	var want eventsPayload
	if err := json.Unmarshal(in, &want); err != nil {
		t.Fatalf("events %q: wire decoded what encoding/json refuses: %v", in, err)
	}
	if len(want.Event) == 0 {
		t.Fatalf("events %q: wire decoded a payload without event", in)
	}
	if got.TeamID != want.TeamID || got.EventID != want.EventID || !bytes.Equal(got.Event, want.Event) {
		t.Fatalf("events %q:\nwire          %q %q %q\nencoding/json %q %q %q", in,
			got.TeamID, got.EventID, got.Event, want.TeamID, want.EventID, want.Event)
	}
	wantHead, err := decodeInner(want)
	if err != nil {
		t.Fatalf("events %q: wire decoded an inner event encoding/json refuses: %v", in, err)
	}
	if *got.inner != wantHead {
		t.Fatalf("events %q: inner event\nwire          %+v\nencoding/json %+v", in, *got.inner, wantHead)
	}
	return true
}

func checkCommand(t *testing.T, in []byte) bool {
	t.Helper()
	got, ok := decodeCommandWire(in)
	if !ok {
		return false
	}
	var want slack.SlashCommand
	if err := json.Unmarshal(in, &want); err != nil {
		t.Fatalf("command %q: wire decoded what encoding/json refuses: %v", in, err)
	}
	if *got != want {
		t.Fatalf("command %q:\nwire          %+v\nencoding/json %+v", in, *got, want)
	}
	return true
}

func checkHead(t *testing.T, in []byte) bool {
	t.Helper()
	got, ok := decodeHeadWire(in)
	if !ok {
		return false
	}
	var want interactionHead
	if err := json.Unmarshal(in, &want); err != nil {
		t.Fatalf("interaction %q: wire decoded what encoding/json refuses: %v", in, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("interaction %q:\nwire          %+v\nencoding/json %+v", in, got, want)
	}
	return true
}

func checkClick(t *testing.T, in []byte) bool {
	t.Helper()
	c, ok := decodeClick(in)
	if !ok {
		return false
	}
	cb, err := decodeInteraction(in)
	if err != nil {
		t.Fatalf("click %q: plain to wire, refused by encoding/json: %v", in, err)
	}
	got := []string{c.slots[slotType], c.slots[slotTeamID], c.slots[slotUserID], c.slots[slotUserTeamID],
		c.slots[slotTriggerID], c.slots[slotResponseURL], c.slots[slotChannelID], c.slots[slotContainerChannelID]}
	want := []string{string(cb.Type), cb.Team.ID, cb.User.ID, cb.User.TeamID,
		cb.TriggerID, cb.ResponseURL, cb.Channel.ID, cb.Container.ChannelID}
	for _, a := range c.actions {
		got = append(got, a.ActionID, a.BlockID, a.ActionTs)
	}
	for _, a := range cb.ActionCallback.BlockActions {
		want = append(want, a.ActionID, a.BlockID, a.ActionTs)
	}
	if !reflect.DeepEqual(got, want) || len(cb.ResponseURLs) > 0 || len(cb.ActionCallback.AttachmentActions) > 0 {
		t.Fatalf("click %q:\nwire          %q\nencoding/json %q (%d response_urls, %d attachment actions)",
			in, got, want, len(cb.ResponseURLs), len(cb.ActionCallback.AttachmentActions))
	}
	return true
}

// wirePayloads are payloads of every kind in Slack's shapes: the samples in
// testdata/wire, and the fake Slack's, with a published Home view in the
// app_home_opened event as the load test has.
func wirePayloads(t testing.TB) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	files, err := filepath.Glob("testdata/wire/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples in testdata/wire: %v", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimSuffix(filepath.Base(f), ".json")] = b
	}
	fake := slackfake.New()
	t.Cleanup(fake.Close)
	fake.AddTeam(slackfake.Team{ID: "T1", Name: "Acme"})
	if _, err := fake.AddUser(slackfake.User{ID: "UADA", TeamID: "T1", Name: "ada", Email: "ada@acme.test"}); err != nil {
		t.Fatal(err)
	}
	home := fake.AppHomeOpened("T1", "UADA")
	home.Event["view"] = json.RawMessage(homeView)
	for name, p := range map[string]any{
		"fake_slash_help":      fake.SlashCommand("T1", "UADA", "help"),
		"fake_unknown_action":  fake.BlockAction("T1", "UADA", slackfake.Action{ActionID: "no_such_button", Value: "x"}),
		"fake_select_action":   fake.BlockAction("T1", "UADA", slackfake.Action{ActionID: "pick", Type: "static_select", Value: "v", Text: "V"}),
		"fake_app_home_opened": home,
		"fake_user_change":     fake.UserChange("T1", "UADA"),
		"fake_app_mention":     fake.AppMention("T1", "UADA", "C1", "hi \u00e9 <@U1>"),
	} {
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = b
	}
	return out
}

// homeView is a published Home tab as Slack echoes it in app_home_opened.
const homeView = `{"id":"V1","team_id":"T1","type":"home","blocks":[{"type":"header","block_id":"home_header","text":{"type":"plain_text","text":"Hi Ada","emoji":true}},` +
	`{"type":"section","block_id":"home_status","text":{"type":"mrkdwn","text":"This is who accessbot thinks you are:","verbatim":false},"fields":[{"type":"mrkdwn","text":"*Organisation*\nAcme Corp"},{"type":"mrkdwn","text":"*Email*\nada@acme.test"}]},` +
	`{"type":"actions","block_id":"home_actions","elements":[{"type":"button","action_id":"home_request","text":{"type":"plain_text","text":"Request access"},"value":"x"}]}],` +
	`"private_metadata":"v1:42:1733480000:u1","callback_id":"","state":{"values":{}},"hash":"1733480000.abc","title":{"type":"plain_text","text":"View Title","emoji":true},` +
	`"clear_on_close":false,"notify_on_close":false,"close":null,"submit":null,"previous_view_id":null,"root_view_id":"V1","app_id":"A1","external_id":"","app_installed_team_id":"T1","bot_id":"B1"}`

func envelope(t testing.TB, typ string, payload []byte) []byte {
	t.Helper()
	// Slack's order: payload before type.
	return []byte(`{"envelope_id":"8a5d-4c1e","payload":` + string(payload) + `,"type":"` + typ + `","accepts_response_payload":true,"retry_attempt":0,"retry_reason":""}`)
}

func TestWireDecodesSlackShapes(t *testing.T) {
	for name, p := range wirePayloads(t) {
		t.Run(name, func(t *testing.T) {
			var kind struct {
				Command string `json:"command"`
				Event   any    `json:"event"`
			}
			if err := json.Unmarshal(p, &kind); err != nil {
				t.Fatal(err)
			}
			typ := socketmode.RequestTypeInteractive
			switch {
			case kind.Command != "" || strings.Contains(name, "Slash"):
				typ = socketmode.RequestTypeSlashCommands
				if !checkCommand(t, p) {
					t.Error("slash command: wire gave up")
				}
			case kind.Event != nil:
				typ = socketmode.RequestTypeEventsAPI
				if !checkEvents(t, p) {
					t.Error("events payload: wire gave up")
				}
			default:
				if !checkHead(t, p) {
					t.Error("interaction head: wire gave up")
				}
				// The fake's plain clicks are answered without the whole decode.
				if plain := name == "fake_unknown_action"; checkClick(t, p) != plain {
					t.Errorf("click: wire path %v, want %v", !plain, plain)
				}
			}
			if !checkFrame(t, envelope(t, typ, p)) {
				t.Error("frame: wire gave up")
			}
		})
	}
}

func TestWireFrame(t *testing.T) {
	deep := func(n int) string {
		return `{"envelope_id":"e","payload":` + strings.Repeat("[", n) + strings.Repeat("]", n) + `}`
	}
	for _, c := range []struct {
		name, in string
		wire     bool // takes the one-pass path
	}{
		{"fake order", `{"envelope_id":"e1","type":"events_api","accepts_response_payload":false,"payload":{"a":1},"retry_attempt":2,"retry_reason":"timeout"}`, true},
		{"space around", " \n{ \"envelope_id\" : \"e1\" , \"payload\" : [ 1 , 2 ] }\t\r\n", true},
		{"escaped id", `{"envelope_id":"e\u0031\n\"","type":"x"}`, true},
		{"null fields", `{"envelope_id":null,"type":null,"retry_attempt":null,"accepts_response_payload":null,"payload":null}`, true},
		{"duplicate keys", `{"envelope_id":"a","envelope_id":"b","payload":{"x":1},"payload":"s"}`, true},
		{"unknown keys", `{"x":[1,{"y":2}],"envelope_id":"e","z":null,"w":1e9}`, true},
		{"negative zero", `{"retry_attempt":-0}`, true},
		{"depth 10000", deep(9999), true},
		{"depth 10001", deep(10000), false},
		{"retry as string", `{"envelope_id":"e","type":"events_api","retry_attempt":"one"}`, false},
		{"retry fraction", `{"retry_attempt":1.0}`, false},
		{"retry exponent", `{"retry_attempt":1e2}`, false},
		{"retry overflow", `{"retry_attempt":99999999999999999999}`, false},
		{"id as number", `{"envelope_id":5}`, false},
		{"bool as string", `{"accepts_response_payload":"true"}`, false},
		{"key in another case", `{"Envelope_ID":"e"}`, false},
		{"key with Kelvin sign", `{"envelope_id":"e","\u212aey":1}`, false},
		{"hello", `{"type":"hello","num_connections":1,"debug_info":{"host":"h"}}`, false},
		{"disconnect", `{"type":"disconnect","reason":"refresh_requested"}`, false},
		{"two values", `{"envelope_id":"e"} {}`, false},
		{"trailing garbage", `{"envelope_id":"e"}x`, false},
		{"invalid UTF-8", "{\"envelope_id\":\"\xff\"}", false},
		{"lone surrogate", `{"envelope_id":"\ud800"}`, false},
		{"array", `[]`, false},
		{"null", `null`, false},
		{"empty", ``, false},
		{"truncated", `{"envelope_id":"e"`, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := checkFrame(t, []byte(c.in)); got != c.wire {
				t.Errorf("wire path %v, want %v", got, c.wire)
			}
		})
	}
}

func TestWirePayloads(t *testing.T) {
	for _, c := range []struct {
		name  string
		check func(*testing.T, []byte) bool
		in    string
		wire  bool
	}{
		{"event", checkEvents, `{"team_id":"T","event_id":"Ev","event":{"type":"app_home_opened","user":"U","channel":"D","tab":"home","view":{"blocks":[{}]}}}`, true},
		{"event user object", checkEvents, `{"event":{"type":"user_change","user":{"id":"U","profile":{}}}}`, true},
		{"event user null", checkEvents, `{"event":{"type":"x","user":"U","user":null,"channel":5}}`, true},
		{"event empty", checkEvents, `{"event":{}}`, true},
		{"event escaped", checkEvents, `{"event":{"type":"a\u005fb","user":"U\t"}}`, true},
		{"event as string", checkEvents, `{"event":"x"}`, false},
		{"event null", checkEvents, `{"event":null}`, false},
		{"no event", checkEvents, `{"team_id":"T"}`, false},
		{"two events", checkEvents, `{"event":{"type":"a"},"event":{"type":"b"}}`, false},
		{"event type number", checkEvents, `{"event":{"type":5}}`, false},
		{"event key case", checkEvents, `{"event":{"Type":"a"}}`, false},
		{"team_id number", checkEvents, `{"team_id":1,"event":{}}`, false},

		{"command", checkCommand, `{"team_id":"T","user_id":"U","command":"/access","text":"help me","is_enterprise_install":false,"extra":[1]}`, true},
		{"command text number", checkCommand, `{"text":5}`, false},
		{"command bool string", checkCommand, `{"is_enterprise_install":"true"}`, false},
		{"command not object", checkCommand, `"x"`, false},

		{"head", checkHead, `{"type":"block_actions","team":{"id":"T","domain":"d"},"user":{"id":"U","team_id":"T2"},"response_url":"https://x","actions":[{"action_id":"a"}]}`, true},
		{"head urls", checkHead, `{"type":"view_submission","response_urls":[{"response_url":"u1","channel_id":"C"},null,{}]}`, true},
		{"head urls empty", checkHead, `{"response_urls":[]}`, true},
		{"head urls null", checkHead, `{"response_urls":null}`, true},
		{"head team null", checkHead, `{"team":null,"user":null}`, true},
		{"head team twice", checkHead, `{"team":{"id":"T"},"team":{"domain":"d"}}`, true},
		{"head urls twice", checkHead, `{"response_urls":[{"response_url":"a"}],"response_urls":[{}]}`, false},
		{"head url element number", checkHead, `{"response_urls":[5]}`, false},
		{"head team id case", checkHead, `{"team":{"ID":"T"}}`, false},
		{"head team string", checkHead, `{"team":"T"}`, false},
		{"head type number", checkHead, `{"type":1}`, false},

		{"click", checkClick, `{"type":"block_actions","team":{"id":"T","domain":"d"},"user":{"id":"U","team_id":"T2","username":"u"},"channel":null,` +
			`"container":{"type":"message","channel_id":"C","is_ephemeral":false},"enterprise":null,"trigger_id":"tr","response_url":"https://x",` +
			`"actions":[{"action_id":"a","block_id":"b","type":"button","action_ts":"1.2","value":"v","text":{"type":"plain_text","text":"A","emoji":true},"style":"primary"},` +
			`{"block_id":"c","action_id":"d"}],"is_enterprise_install":false,"x":[1e400]}`, true},
		{"click no actions", checkClick, `{"type":"block_actions"}`, true},
		{"click empty actions", checkClick, `{"type":"block_actions","actions":[]}`, true},
		{"click not block_actions", checkClick, `{"type":"view_submission","actions":[]}`, false},
		{"click number in action", checkClick, `{"type":"block_actions","actions":[{"action_id":"a","block_id":"b","x":1}]}`, false},
		{"click number in action text", checkClick, `{"type":"block_actions","actions":[{"action_id":"a","block_id":"b","text":{"x":[1e400]}}]}`, false},
		{"click attachment action", checkClick, `{"type":"block_actions","actions":[{"action_id":"a"}]}`, false},
		{"click block_id null", checkClick, `{"type":"block_actions","actions":[{"action_id":"a","block_id":null}]}`, false},
		{"click action null", checkClick, `{"type":"block_actions","actions":[null]}`, false},
		{"click actions twice", checkClick, `{"type":"block_actions","actions":[{"action_id":"a","block_id":"b"}],"actions":[]}`, false},
		{"click state", checkClick, `{"type":"block_actions","state":{"values":{}}}`, false},
		{"click message", checkClick, `{"type":"block_actions","message":{"text":"x"}}`, false},
		{"click user field", checkClick, `{"type":"block_actions","user":{"id":"U","tz_offset":"x"}}`, false},
		{"click user key case", checkClick, `{"type":"block_actions","user":{"ID":"U"}}`, false},
		{"click selected option", checkClick, `{"type":"block_actions","actions":[{"action_id":"a","block_id":"b","selected_option":{"value":"v"}}]}`, false},
		{"click response_urls", checkClick, `{"type":"block_actions","response_urls":[]}`, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := c.check(t, []byte(c.in)); got != c.wire {
				t.Errorf("wire path %v, want %v", got, c.wire)
			}
		})
	}
}

// FuzzWire feeds the same bytes to each wire decoder and to encoding/json:
// whatever the wire decoders accept, encoding/json accepts and decodes the
// same.
func FuzzWire(f *testing.F) {
	for _, p := range wirePayloads(f) {
		f.Add(p)
		f.Add(envelope(f, "events_api", p))
	}
	for _, s := range []string{
		`{"envelope_id":"a","envelope_id":"b","payload":{"x":1},"payload":"s","retry_attempt":-0}`,
		`{"event":{"type":"x","user":"U","user":null,"channel":5}}`,
		`{"type":"view_submission","response_urls":[{"response_url":"u1"},null,{}],"team":{"id":"T"},"team":{"domain":"d"}}`,
		`{"text":"a\u00e9\ud83d\ude00","command":"/x","is_enterprise_install":true}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		checkFrame(t, in)
		checkEvents(t, in)
		checkCommand(t, in)
		checkHead(t, in)
		checkClick(t, in)
	})
}

// BenchmarkDecode decodes the load test's three envelopes as the read path
// does (frame, then the payload's head), one pass against encoding/json:
//
//	go test ./bot -run '^$' -bench BenchmarkDecode -benchmem
func BenchmarkDecode(b *testing.B) {
	payloads := wirePayloads(b)
	for _, c := range []struct{ name, typ string }{
		{"fake_slash_help", socketmode.RequestTypeSlashCommands},
		{"fake_unknown_action", socketmode.RequestTypeInteractive},
		{"fake_app_home_opened", socketmode.RequestTypeEventsAPI},
	} {
		frame := envelope(b, c.typ, payloads[c.name])
		b.Run(c.name+"/wire", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				env, ok := decodeFrame(frame)
				if !ok {
					b.Fatal("frame: wire gave up")
				}
				switch c.typ {
				case socketmode.RequestTypeSlashCommands:
					_, ok = decodeCommandWire(env.Payload)
				case socketmode.RequestTypeInteractive:
					_, ok = decodeHeadWire(env.Payload)
				default:
					_, ok = decodeEventsWire(env.Payload)
				}
				if !ok {
					b.Fatal("payload: wire gave up")
				}
			}
		})
		b.Run(c.name+"/encoding_json", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var env socketmode.Request
				if err := json.Unmarshal(frame, &env); err != nil {
					b.Fatal(err)
				}
				var err error
				switch c.typ {
				case socketmode.RequestTypeSlashCommands:
					err = json.Unmarshal(env.Payload, new(slack.SlashCommand))
				case socketmode.RequestTypeInteractive:
					err = json.Unmarshal(env.Payload, new(interactionHead))
				default:
					var outer eventsPayload
					if err = json.Unmarshal(env.Payload, &outer); err == nil {
						outer.inner = nil
						_, err = decodeInner(outer)
					}
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkClick reads the load test's click on an unknown button as the
// worker does: decodeClick against the whole InteractionCallback.
func BenchmarkClick(b *testing.B) {
	p := wirePayloads(b)["fake_unknown_action"]
	b.Run("decodeClick", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := decodeClick(p); !ok {
				b.Fatal("not plain")
			}
		}
	})
	b.Run("InteractionCallback", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeInteraction(p); err != nil {
				b.Fatal(err)
			}
		}
	})
}
