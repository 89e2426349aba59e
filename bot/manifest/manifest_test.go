package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/dlclark/regexp2"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/accessbot/accessbot"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.yaml")

// slackDir holds Slack's manifest schema, copied into the repository (see
// testdata/slack/SOURCE.md) so the tests read nothing outside it.
const slackDir = "testdata/slack"

func readJSON(t *testing.T, file string) any {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("parse %s: %v", file, err)
	}
	return doc
}

// remoteRefs lists the absolute http(s) $refs in a schema document.
func remoteRefs(v any) []string {
	var out []string
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok && k == "$ref" && strings.HasPrefix(s, "http") {
				out = append(out, s)
			}
			out = append(out, remoteRefs(x)...)
		}
	case []any:
		for _, x := range v {
			out = append(out, remoteRefs(x)...)
		}
	}
	return out
}

// compileSchema compiles Slack's official manifest schema. That file only
// dispatches on _metadata.major_version and $refs the per-version schemas by
// https URL; tests run offline, so each URL is served from
// testdata/slack/schemas/<name>, and a URL with no such file fails the test.
func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	main := filepath.Join(slackDir, "manifest.schema.json")
	wrapper := readJSON(t, main)
	c := jsonschema.NewCompiler()
	// Slack's patterns use lookahead, (?!…), which Go's regexp lacks; JSON
	// Schema patterns are ECMA-262, so compile them as ECMAScript does.
	c.UseRegexpEngine(ecmaRegexp)
	refs := remoteRefs(wrapper)
	slices.Sort(refs)
	refs = slices.Compact(refs)
	if len(refs) == 0 {
		t.Log("manifest.schema.json is self-contained")
	}
	for _, ref := range refs {
		local := filepath.Join(slackDir, "schemas", path.Base(ref))
		if !fileExists(local) {
			t.Fatalf("manifest.schema.json refers to %s, and %s is missing: copy it from Slack's manifest-schema repository", ref, local)
		}
		if err := c.AddResource(ref, readJSON(t, local)); err != nil {
			t.Fatalf("add %s: %v", ref, err)
		}
	}
	sch, err := c.Compile(main)
	if err != nil {
		t.Fatalf("compile %s: %v", main, err)
	}
	return sch
}

// ecmaRegexp compiles a JSON Schema pattern with ECMAScript semantics.
func ecmaRegexp(pattern string) (jsonschema.Regexp, error) {
	re, err := regexp2.Compile(pattern, regexp2.ECMAScript)
	if err != nil {
		return nil, err
	}
	return ecmaRE{re}, nil
}

type ecmaRE struct{ re *regexp2.Regexp }

func (r ecmaRE) String() string { return r.re.String() }

func (r ecmaRE) MatchString(s string) bool {
	ok, err := r.re.MatchString(s)
	return err == nil && ok
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// asJSON turns YAML into the generic JSON value the validator takes.
func asJSON(t *testing.T, y []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(y, &v); err != nil {
		t.Fatalf("generated YAML does not parse: %v", err)
	}
	j, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func mustYAML(t *testing.T, o Options) []byte {
	t.Helper()
	y, err := YAML(o)
	if err != nil {
		t.Fatal(err)
	}
	return y
}

func TestManifestValidatesAgainstSlackSchema(t *testing.T) {
	sch := compileSchema(t)
	for _, o := range []Options{
		{},
		{Name: "Access Desk", RedirectURL: "https://accessbot.example.com/slack/oauth/callback"},
		{Name: strings.Repeat("漢", 35)},
	} {
		if err := sch.Validate(asJSON(t, mustYAML(t, o))); err != nil {
			t.Errorf("manifest for %+v fails Slack's schema:\n%v", o, err)
		}
	}
}

func TestSlackExampleValidates(t *testing.T) {
	sch := compileSchema(t)
	example := readJSON(t, filepath.Join(slackDir, "manifest.valid.example.json"))
	if err := sch.Validate(example); err != nil {
		t.Fatalf("Slack's own valid example fails: %v", err)
	}
}

// The schema check can fail: broken manifests are rejected.
func TestBrokenManifestsFail(t *testing.T) {
	sch := compileSchema(t)
	cases := []struct {
		name    string
		breakIt func(m map[string]any)
	}{
		{"command without leading slash", func(m map[string]any) { cmd(m)["command"] = "access" }},
		{"command too long", func(m map[string]any) { cmd(m)["command"] = "/" + strings.Repeat("a", 32) }},
		{"command without description", func(m map[string]any) { delete(cmd(m), "description") }},
		{"name over 35 characters", func(m map[string]any) { obj(m, "display_information")["name"] = strings.Repeat("a", 36) }},
		{"no display_information", func(m map[string]any) { delete(m, "display_information") }},
		{"interactivity without is_enabled", func(m map[string]any) {
			obj(obj(m, "settings"), "interactivity")["is_enabled"] = nil
			delete(obj(obj(m, "settings"), "interactivity"), "is_enabled")
		}},
		{"socket mode as a string", func(m map[string]any) { obj(m, "settings")["socket_mode_enabled"] = "yes" }},
		{"unknown settings key", func(m map[string]any) { obj(m, "settings")["socket_mode"] = true }},
		{"duplicate bot events", func(m map[string]any) {
			es := obj(obj(m, "settings"), "event_subscriptions")
			es["bot_events"] = append(es["bot_events"].([]any), "app_home_opened")
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := asJSON(t, mustYAML(t, Options{})).(map[string]any)
			tc.breakIt(m)
			if err := sch.Validate(m); err == nil {
				t.Fatal("Slack's schema accepted a broken manifest")
			}
		})
	}
}

func obj(m map[string]any, key string) map[string]any { return m[key].(map[string]any) }

func cmd(m map[string]any) map[string]any {
	return obj(m, "features")["slash_commands"].([]any)[0].(map[string]any)
}

func TestManifestContent(t *testing.T) {
	t.Parallel()
	var m document
	if err := yaml.Unmarshal(mustYAML(t, Options{}), &m); err != nil {
		t.Fatal(err)
	}
	wantScopes := []string{"channels:history", "chat:write", "commands", "files:write", "groups:history", "im:history", "im:write", "users:read", "users:read.email"}
	if !reflect.DeepEqual(m.OAuthConfig.Scopes.Bot, wantScopes) || !reflect.DeepEqual(BotScopes(), wantScopes) {
		t.Errorf("bot scopes %v / %v, want exactly %v", m.OAuthConfig.Scopes.Bot, BotScopes(), wantScopes)
	}
	if got := strings.Join(BotScopes(), ","); got != BotScopesCSV {
		t.Errorf("BotScopes and BotScopesCSV differ: %q vs %q", got, BotScopesCSV)
	}
	wantEvents := []string{"app_home_opened", "user_change", "app_uninstalled", "tokens_revoked"}
	if !reflect.DeepEqual(m.Settings.EventSubscriptions.BotEvents, wantEvents) {
		t.Errorf("bot events %v, want %v", m.Settings.EventSubscriptions.BotEvents, wantEvents)
	}
	if !m.Settings.SocketModeEnabled || !m.Settings.Interactivity.IsEnabled {
		t.Error("socket mode and interactivity must be on")
	}
	if h := m.Features.AppHome; !h.HomeTabEnabled || !h.MessagesTabEnabled || h.MessagesTabReadOnlyEnabled {
		t.Errorf("app home %+v: want home tab on and a writable messages tab", h)
	}
	if len(m.Features.SlashCommands) != 1 || m.Features.SlashCommands[0].Command != "/access" || m.Features.SlashCommands[0].UsageHint == "" {
		t.Errorf("slash commands %+v", m.Features.SlashCommands)
	}
	if m.Display.Name != DefaultName || m.Features.BotUser.DisplayName != DefaultName {
		t.Errorf("default name: %q / %q", m.Display.Name, m.Features.BotUser.DisplayName)
	}
	if len(m.OAuthConfig.RedirectURLs) != 0 {
		t.Errorf("redirect_urls without a redirect URL: %v", m.OAuthConfig.RedirectURLs)
	}
	// Socket Mode: no request URLs anywhere.
	raw := string(mustYAML(t, Options{}))
	for _, no := range []string{"url:", "request_url"} {
		if strings.Contains(raw, no) {
			t.Errorf("manifest contains %q:\n%s", no, raw)
		}
	}
	withRedirect := string(mustYAML(t, Options{RedirectURL: "https://a.example/slack/oauth/callback"}))
	if !strings.Contains(withRedirect, "redirect_urls:\n    - https://a.example/slack/oauth/callback\n") {
		t.Errorf("redirect URL missing:\n%s", withRedirect)
	}
	// BotScopes hands out a copy.
	s := BotScopes()
	s[0] = "admin"
	if BotScopes()[0] != "channels:history" {
		t.Error("BotScopes exposes shared state")
	}
}

func TestOptionsRejected(t *testing.T) {
	t.Parallel()
	for _, o := range []Options{
		{Name: strings.Repeat("a", 36)},
		{Name: strings.Repeat("😀", 36)},
		{Name: "two\nlines"},
		{RedirectURL: "http://insecure.example/callback"},
		{RedirectURL: "https://a.example/cb#frag"},
		{RedirectURL: "/relative"},
		{RedirectURL: "https://"},
	} {
		if _, err := YAML(o); !errors.Is(err, accessbot.ErrInvalid) {
			t.Errorf("YAML(%+v) = %v, want ErrInvalid", o, err)
		}
	}
	if _, err := YAML(Options{Name: "  " + strings.Repeat("😀", 35) + " "}); err != nil {
		t.Errorf("35 emoji (trimmed) rejected: %v", err)
	}
}

func TestGolden(t *testing.T) {
	t.Parallel()
	for name, o := range map[string]Options{
		"manifest.golden.yaml":       {},
		"manifest-oauth.golden.yaml": {Name: "Access Desk", RedirectURL: "https://accessbot.example.com/slack/oauth/callback"},
	} {
		got := mustYAML(t, o)
		file := filepath.Join("testdata", name)
		if *update {
			if err := os.WriteFile(file, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(file)
		if err != nil {
			t.Fatalf("%v (run go test -update to create it)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the generated manifest (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", name, got, want)
		}
	}
}
