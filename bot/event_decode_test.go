package bot

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/slack-go/slack/slackevents"
)

// eventTargets are the shapes handlers decode events into (handlers/ and
// fuzzRouter), and a generic one.
func eventTargets() []func() any {
	return []func() any{
		func() any {
			return &struct {
				Tab  string `json:"tab"`
				View *struct {
					Type            string `json:"type"`
					PrivateMetadata string `json:"private_metadata"`
				} `json:"view"`
			}{}
		},
		func() any {
			return &struct {
				User struct {
					ID      string `json:"id"`
					TeamID  string `json:"team_id"`
					Deleted bool   `json:"deleted"`
					Profile struct {
						Email string `json:"email"`
					} `json:"profile"`
				} `json:"user"`
			}{}
		},
		func() any {
			return &struct {
				Tokens struct {
					OAuth []string `json:"oauth"`
					Bot   []string `json:"bot"`
				} `json:"tokens"`
			}{}
		},
		func() any { return new(slackevents.AppHomeOpenedEvent) },
		func() any { return new(map[string]any) },
	}
}

// checkEventDecode holds Event.Decode against encoding/json on raw: the
// same error or not, and the same value when none.
func checkEventDecode(t *testing.T, raw []byte) {
	t.Helper()
	for _, target := range eventTargets() {
		got, want := target(), target()
		gotErr := (&Event{Type: "x", Raw: raw}).Decode(got)
		wantErr := json.Unmarshal(raw, want)
		if (gotErr != nil) != (wantErr != nil) {
			t.Fatalf("event %q into %T: Decode error %v, encoding/json error %v", raw, got, gotErr, wantErr)
		}
		if wantErr == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("event %q into %T:\nDecode        %+v\nencoding/json %+v", raw, got, got, want)
		}
	}
}

func TestEventDecode(t *testing.T) {
	for name, p := range wirePayloads(t) {
		outer, ok := decodeEventsWire(p)
		if !ok {
			continue
		}
		t.Run(name, func(t *testing.T) { checkEventDecode(t, outer.Event) })
	}
	for _, raw := range []string{
		`{"type":"app_home_opened","user":"U","tab":"home","view":{"type":"home","private_metadata":"v1:1","blocks":[{"type":"section"}]}}`,
		`{"TAB":"home","View":{"TYPE":"home"},"tab":null}`,
		`{"tab":"a","tab":"b","view":{"type":"x"},"view":null}`,
		`{"tab":5}`,
		`{"view":"x"}`,
		`{"user":{"id":"U","deleted":"yes"}}`,
		`{"user":{"id":"U","profile":{"email":"a\u00e9@b"}}}`,
		"{\"tab\":\"\xff\"}",
		`{"tab":"\ud800"}`,
		`{"tokens":{"oauth":["U1",null],"bot":null}}`,
		`{"tokens":{"oauth":[1]}}`,
		`{"x":1e400}`,
		`{"tab":"home"} x`,
		`{"tab":"home"}  `,
		`[]`,
		`null`,
		``,
	} {
		t.Run(raw, func(t *testing.T) { checkEventDecode(t, []byte(raw)) })
	}
}

// FuzzEventDecode holds Event.Decode against encoding/json on any bytes.
func FuzzEventDecode(f *testing.F) {
	for _, p := range wirePayloads(f) {
		if outer, ok := decodeEventsWire(p); ok {
			f.Add([]byte(outer.Event))
		}
	}
	f.Add([]byte(`{"TAB":"home","View":{"TYPE":"home"},"tab":null,"user":{"id":"U","profile":{"email":"x"}},"tokens":{"oauth":["a"]}}`))
	f.Fuzz(func(t *testing.T, raw []byte) { checkEventDecode(t, raw) })
}

// BenchmarkEventDecode decodes the app_home_opened event of the load test
// (with its published Home view) into the Home handler's shape:
//
//	go test ./bot -run '^$' -bench BenchmarkEventDecode -benchmem
func BenchmarkEventDecode(b *testing.B) {
	outer, ok := decodeEventsWire(wirePayloads(b)["fake_app_home_opened"])
	if !ok {
		b.Fatal("events payload: wire gave up")
	}
	for _, c := range []struct {
		name   string
		decode func(v any) error
	}{
		{"Event.Decode", (&Event{Type: "app_home_opened", Raw: outer.Event}).Decode},
		{"encoding_json", func(v any) error { return json.Unmarshal(outer.Event, v) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := c.decode(eventTargets()[0]()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
