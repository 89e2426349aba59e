package slackfake_test

import (
	"encoding/json"
	"flag"
	"net/http"
	neturl "net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot/bot/slackfake"
)

// samplesFrom regenerates testdata/slack-samples from Slack's published
// samples (see testdata/slack-samples/SOURCE.md). Only then does a test read
// outside the repository, and only the directory given.
var samplesFrom = flag.String("samples-from", "", "rewrite testdata/slack-samples from this copy of the samples `DIR` (api/, events/, payloads/)")

const samplesDir = "testdata/slack-samples"

// samples returns the directory of the reduced samples, regenerating it
// first when -samples-from is set.
func samples(t *testing.T) string {
	t.Helper()
	if *samplesFrom != "" {
		reduceSamples(t, *samplesFrom, samplesDir)
	}
	if _, err := os.Stat(samplesDir); err != nil {
		t.Fatalf("Slack's sample shapes are missing: %v (regenerate with -samples-from)", err)
	}
	return samplesDir
}

// reduceSamples writes each sample of src as the shape these tests compare:
// its top-level fields, and the fields of each object among them, whose own
// objects and arrays are emptied. The samples are field-complete unions of
// megabytes; the comparison needs two levels of names.
func reduceSamples(t *testing.T, src, dst string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(src, "*", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("-samples-from %s: no */*.json samples (%v)", src, err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var top map[string]any
		if err := json.Unmarshal(data, &top); err != nil {
			t.Fatalf("decode %s: %v", f, err)
		}
		for k, v := range top {
			if obj, ok := v.(map[string]any); ok {
				for kk, vv := range obj {
					switch vv.(type) {
					case map[string]any:
						obj[kk] = map[string]any{}
					case []any:
						obj[kk] = []any{}
					}
				}
				top[k] = obj
			}
		}
		out, err := json.MarshalIndent(top, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(src, f)
		target := filepath.Join(dst, rel)
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(target, append(out, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("wrote %d reduced samples to %s", len(files), dst)
}

func topKeys(t *testing.T, data []byte) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
	return m
}

// TestShapesMatchSamples checks every top-level field (and the fields of
// nested user/view/channel/message/team objects) the fake answers with is a
// field of Slack's published sample for that method, so names cannot drift.
func TestShapesMatchSamples(t *testing.T) {
	dir := samples(t)
	// Sample files are large and slow to decode under -race: no trigger expiry.
	f := newFixture(t, slackfake.WithTriggerTTL(0))
	ctx := ctxT(t)
	_, ts, err := f.api.PostMessageContext(ctx, "C1", slack.MsgOptionText("x", false))
	if err != nil {
		t.Fatal(err)
	}
	code, _ := f.fake.IssueOAuthCode("T1", "U1", "")
	modal := `{"type":"modal","title":{"type":"plain_text","text":"t"},"blocks":[]}`
	form := func(kv ...string) string {
		var b strings.Builder
		for i := 0; i < len(kv); i += 2 {
			if i > 0 {
				b.WriteByte('&')
			}
			b.WriteString(kv[i] + "=" + kv[i+1])
		}
		return b.String()
	}
	cases := []struct {
		method string
		body   string
		json   bool
		token  string
	}{
		{"apps.connections.open", "", true, f.fake.AppToken()},
		{"auth.test", "", false, f.team.BotToken},
		{"chat.postMessage", form("channel", "C1", "text", "hi"), false, f.team.BotToken},
		{"chat.update", form("channel", "C1", "ts", ts, "text", "new"), false, f.team.BotToken},
		{"chat.postEphemeral", form("channel", "C1", "user", "U1", "text", "psst"), false, f.team.BotToken},
		{"conversations.open", form("users", "U1"), false, f.team.BotToken},
		{"users.info", form("user", "U1"), false, f.team.BotToken},
		{"users.lookupByEmail", form("email", "alice@example.com"), false, f.team.BotToken},
		{"views.open", `{"trigger_id":"` + f.fake.NewTriggerID("T1", "U1") + `","view":` + modal + `}`, true, f.team.BotToken},
		{"views.push", `{"trigger_id":"` + f.fake.NewTriggerID("T1", "U1") + `","view":` + modal + `}`, true, f.team.BotToken},
		{"views.publish", `{"user_id":"U1","view":{"type":"home","blocks":[]}}`, true, f.team.BotToken},
		{"oauth.v2.access", form("client_id", "cid", "client_secret", "csecret", "code", code), false, ""},
	}
	nested := []string{"user", "view", "channel", "message", "team", "authed_user"}
	for _, tc := range cases {
		t.Run(tc.method, func(t *testing.T) {
			sample, err := os.ReadFile(filepath.Join(dir, "api", tc.method+".json"))
			if err != nil {
				t.Fatalf("read sample: %v", err)
			}
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, f.fake.URL()+tc.method, strings.NewReader(tc.body))
			if tc.json {
				req.Header.Set("Content-Type", "application/json")
			} else {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var got json.RawMessage
			if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
				t.Fatal(err)
			}
			gotKeys, wantKeys := topKeys(t, got), topKeys(t, sample)
			if string(gotKeys["ok"]) != "true" {
				t.Fatalf("answer not ok: %s", got)
			}
			if extra := missingFrom(gotKeys, wantKeys); len(extra) > 0 {
				t.Errorf("fields not in Slack's sample: %v", extra)
			}
			for _, k := range nested {
				g, w := gotKeys[k], wantKeys[k]
				if len(g) == 0 || g[0] != '{' || len(w) == 0 || w[0] != '{' {
					continue
				}
				if extra := missingFrom(topKeys(t, g), topKeys(t, w)); len(extra) > 0 {
					t.Errorf("%s fields not in Slack's sample: %v", k, extra)
				}
			}
		})
	}
}

func missingFrom(got, want map[string]json.RawMessage) []string {
	var out []string
	for k := range got {
		if _, ok := want[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// TestPayloadShapesMatchSamples does the same for the envelope payloads the
// fake builds.
func TestPayloadShapesMatchSamples(t *testing.T) {
	dir := samples(t)
	f := newFixture(t)
	cases := []struct {
		sample  string
		payload any
	}{
		{"payloads/SlashCommandPayload.json", f.fake.SlashCommand("T1", "U1", "help")},
		{"payloads/BlockActionPayload.json", f.fake.BlockAction("T1", "U1", slackfake.Action{ActionID: "a", Value: "v"})},
		{"payloads/ViewSubmissionPayload.json", f.fake.ViewSubmission("T1", "U1", "V1", nil)},
		{"payloads/ViewClosedPayload.json", f.fake.ViewClosed("T1", "U1", "V1")},
		{"events/AppHomeOpenedPayload.json", f.fake.AppHomeOpened("T1", "U1")},
		{"events/UserChangePayload.json", f.fake.UserChange("T1", "U1")},
		{"events/AppMentionPayload.json", f.fake.AppMention("T1", "U1", "C1", "hi")},
	}
	for _, tc := range cases {
		t.Run(tc.sample, func(t *testing.T) {
			sample, err := os.ReadFile(filepath.Join(dir, tc.sample))
			if err != nil {
				t.Fatalf("read sample: %v", err)
			}
			got := topKeys(t, mustJSON(t, tc.payload))
			want := topKeys(t, sample)
			if extra := missingFrom(got, want); len(extra) > 0 {
				t.Errorf("fields not in Slack's sample: %v", extra)
			}
			for _, k := range []string{"team", "user", "event"} {
				g, w := got[k], want[k]
				if len(g) == 0 || g[0] != '{' || len(w) == 0 || w[0] != '{' {
					continue
				}
				if extra := missingFrom(topKeys(t, g), topKeys(t, w)); len(extra) > 0 {
					t.Errorf("%s fields not in Slack's sample: %v", k, extra)
				}
			}
		})
	}
}

// TestFileUploadShapesMatchSamples walks Slack's external upload as
// slack-go does (files.getUploadURLExternal, a POST of the bytes to the
// URL it answered, files.completeUploadExternal) and checks each answer,
// and each element of "files", has only fields of Slack's samples.
func TestFileUploadShapesMatchSamples(t *testing.T) {
	dir := samples(t)
	f := newFixture(t)
	ctx := ctxT(t)
	call := func(method, body string) map[string]json.RawMessage {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, f.fake.URL()+method, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "Bearer "+f.team.BotToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var got json.RawMessage
		if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
			t.Fatal(err)
		}
		keys := topKeys(t, got)
		if string(keys["ok"]) != "true" {
			t.Fatalf("%s answered %s", method, got)
		}
		sample, err := os.ReadFile(filepath.Join(dir, "api", method+".json"))
		if err != nil {
			t.Fatalf("read sample: %v", err)
		}
		want := topKeys(t, sample)
		if extra := missingFrom(keys, want); len(extra) > 0 {
			t.Errorf("%s: fields not in Slack's sample: %v", method, extra)
		}
		if g, w := keys["files"], want["files"]; len(g) > 0 {
			var gs, ws []map[string]json.RawMessage
			if json.Unmarshal(g, &gs) != nil || json.Unmarshal(w, &ws) != nil || len(gs) == 0 || len(ws) == 0 {
				t.Fatalf("%s: files %s, sample %s", method, g, w)
			}
			for _, one := range gs {
				if extra := missingFrom(one, ws[0]); len(extra) > 0 {
					t.Errorf("%s: file fields not in Slack's sample: %v", method, extra)
				}
			}
		}
		return keys
	}
	content := "item,decision\nit-1,keep\n"
	got := call("files.getUploadURLExternal", "filename=report.csv&length="+strconv.Itoa(len(content)))
	var url, id string
	if json.Unmarshal(got["upload_url"], &url) != nil || json.Unmarshal(got["file_id"], &id) != nil || url == "" || id == "" {
		t.Fatalf("upload url %s, file id %s", got["upload_url"], got["file_id"])
	}
	resp, err := http.Post(url, "application/octet-stream", strings.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("upload answered %d", resp.StatusCode)
	}
	call("files.completeUploadExternal", "channel_id=C1&initial_comment=here&files="+neturl.QueryEscape(`[{"id":"`+id+`","title":"Q1"}]`))
	files := f.fake.Files()
	if len(files) != 1 || string(files[0].Content) != content || !files[0].Shared || files[0].Channel != "C1" || files[0].Title != "Q1" {
		t.Fatalf("files %+v", files)
	}
}
