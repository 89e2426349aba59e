package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/accessbot/accessbot/internal/config"
	"github.com/accessbot/accessbot/internal/testenv"
)

// README opens with the two commands, and CI runs exactly README's test command.
func TestREADMEAndCIAgree(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```sh\n(.*?)\n```").FindAllStringSubmatch(string(readme), 2)
	if len(blocks) < 2 || blocks[0][1] != "go run ./cmd/accessbot playground" || blocks[1][1] != "./scripts/test" {
		t.Fatalf("README must open with `go run ./cmd/accessbot playground` then `./scripts/test`; got %q", blocks)
	}
	ci, err := os.ReadFile("../../.ci/run")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(ci)), "\n")
	// Run through steps_run (scripts/steps.bash), not exec: the trap that
	// stops the step on SIGTERM and names it must stay in place.
	if last := lines[len(lines)-1]; last != "steps_run "+blocks[1][1] {
		t.Fatalf(".ci/run must end with `steps_run %s`, ends with %q", blocks[1][1], last)
	}
	script, err := os.ReadFile("../../scripts/test")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"go vet ./...", "gofmt -l", "go test -race -count=1 -timeout 25m -json ./... | \"$summary/testsummary\""} {
		if !strings.Contains(string(script), want) {
			t.Errorf("scripts/test does not run %q", want)
		}
	}
	for _, p := range []string{"../../.ci/run", "../../scripts/test"} {
		if fi, err := os.Stat(p); err != nil || fi.Mode()&0o111 == 0 {
			t.Errorf("%s is not executable: %v", p, err)
		}
	}
}

// docPages is README.md and every docs/*.md page, by path from the repo root.
func docPages(t *testing.T) map[string]string {
	t.Helper()
	paths, err := filepath.Glob("../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	paths = append(paths, "../../README.md")
	pages := map[string]string{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		pages[strings.TrimPrefix(p, "../../")] = string(data)
	}
	if len(pages) < 2 {
		t.Fatalf("found %d doc pages, want README.md and docs/*.md", len(pages))
	}
	return pages
}

// codeLines returns the lines of fenced blocks and the text of `code spans`:
// where the docs show commands, flags and keys. A ```text block (output
// shown as it is) is not code.
func codeLines(page string) []string {
	var out []string
	fenced, text := false, false
	for _, line := range strings.Split(page, "\n") {
		if l := strings.TrimSpace(line); strings.HasPrefix(l, "```") {
			fenced = !fenced
			text = fenced && l == "```text"
			continue
		}
		if fenced {
			if !text {
				out = append(out, line)
			}
			continue
		}
		for _, m := range codeSpan.FindAllStringSubmatch(line, -1) {
			out = append(out, m[1])
		}
	}
	return out
}

var (
	codeSpan   = regexp.MustCompile("`([^`]+)`")
	invocation = regexp.MustCompile(`(?:^|[\s(=$/])accessbot((?: +[a-z][a-z-]*(?:\\?\|[a-z][a-z-]*)*)*)([^#]*)`)
	flagName   = regexp.MustCompile(`(?:^|[\s\[])(--[a-z][a-z-]*)`)
	dottedKey  = regexp.MustCompile(`^([a-z]+)\.([a-z_]+)$`)
	envName    = regexp.MustCompile(`ACCESSBOT_[A-Z0-9_]+`)
)

// Every `accessbot COMMAND [--flag]` the docs show exists, with that flag.
func TestDocsCommandsAndFlagsExist(t *testing.T) {
	root := NewMain().rootCommand()
	checked := 0
	for name, page := range docPages(t) {
		for _, line := range codeLines(page) {
			for _, m := range invocation.FindAllStringSubmatch(line, -1) {
				words, rest := strings.Fields(m[1]), m[2]
				cmd := root
				for i, w := range words {
					alts := strings.Split(strings.ReplaceAll(w, `\|`, "|"), "|")
					var next *cobra.Command
					for _, alt := range alts {
						sub, _, err := cmd.Find([]string{alt})
						if err != nil || sub == cmd {
							next = nil
							break
						}
						next = sub
					}
					if next == nil {
						if i == 0 && cmd == root && w != "help" && w != "completion" {
							t.Errorf("%s: `%s`: accessbot has no command %q", name, strings.TrimSpace(line), w)
						}
						// An argument (APP, FILE.csv…): the rest of the words are arguments too.
						rest = strings.Join(words[i:], " ") + rest
						break
					}
					cmd = next
				}
				for _, f := range flagName.FindAllStringSubmatch(rest, -1) {
					checked++
					flag := strings.TrimPrefix(f[1], "--")
					if cmd.Flags().Lookup(flag) == nil && cmd.PersistentFlags().Lookup(flag) == nil && cmd.InheritedFlags().Lookup(flag) == nil &&
						flag != "help" && flag != "version" {
						t.Errorf("%s: `%s`: %q has no flag --%s", name, strings.TrimSpace(line), cmd.CommandPath(), flag)
					}
				}
			}
		}
	}
	if checked < 20 {
		t.Fatalf("checked only %d documented flags: is the scan broken?", checked)
	}
}

// Every relative link and image in the docs points at a file of the repository.
func TestDocsLinksResolve(t *testing.T) {
	link := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	checked := 0
	for name, page := range docPages(t) {
		for _, m := range link.FindAllStringSubmatch(page, -1) {
			target, _, _ := strings.Cut(m[1], "#")
			if target == "" || strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			checked++
			p := filepath.Join("../..", filepath.Dir(name), target)
			if _, err := os.Stat(p); err != nil {
				t.Errorf("%s: link %s: %v", name, m[1], err)
			}
		}
	}
	if checked < 10 {
		t.Fatalf("checked only %d links: is the scan broken?", checked)
	}
}

// Every config key and ACCESSBOT_* variable the docs name exists. A dotted
// name under a config section may also be a tenant-file key (slack.team_id),
// known from examples/tenant.yaml.
func TestDocsConfigKeysExist(t *testing.T) {
	keys := map[string]bool{}
	sections := map[string]bool{}
	envs := map[string]bool{}
	for _, k := range config.Keys() {
		keys[k.Name] = true
		sections[strings.SplitN(k.Name, ".", 2)[0]] = true
		envs[k.Env()] = true
	}
	for _, extra := range []string{testenv.EnvRequireServices, testenv.EnvChromium, // read by scripts/test, .ci/run and internal/testenv
		crashFullEnv, crashEventsEnv, // read by the crash test
		replicaFullEnv} { // read by the replica test
		envs[extra] = true
	}
	tenantKeys := yamlPaths(t, "../../examples/tenant.yaml")
	literals := goStringLiterals(t, "../..")
	checked := 0
	for name, page := range docPages(t) {
		for _, line := range codeLines(page) {
			if m := dottedKey.FindStringSubmatch(strings.TrimSpace(line)); m != nil && sections[m[1]] {
				checked++
				if !keys[m[0]] && !tenantKeys[m[0]] && !literals[m[0]] {
					t.Errorf("%s: `%s` is not a config key, a tenant-file key or a name in the code (such as an audit action)", name, m[0])
				}
			}
		}
		for _, env := range envName.FindAllString(page, -1) {
			checked++
			if !envs[env] {
				t.Errorf("%s: %s is not a configuration variable", name, env)
			}
		}
	}
	if checked < 30 {
		t.Fatalf("checked only %d documented keys: is the scan broken?", checked)
	}
}

// goStringLiterals returns the string literals of the repository's non-test
// Go files: audit actions such as "slack.uninstalled" are named there.
func goStringLiterals(t *testing.T, root string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	lit := regexp.MustCompile(`"([a-z]+\.[a-z_]+)"`)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".") && p != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range lit.FindAllStringSubmatch(string(data), -1) {
			out[m[1]] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// yamlPaths returns every mapping key path in a YAML file ("slack.team_id";
// list items add no segment).
func yamlPaths(t *testing.T, path string) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	var walk func(n *yaml.Node, prefix string)
	walk = func(n *yaml.Node, prefix string) {
		switch n.Kind {
		case yaml.DocumentNode, yaml.SequenceNode:
			for _, c := range n.Content {
				walk(c, prefix)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				p := n.Content[i].Value
				if prefix != "" {
					p = prefix + "." + p
				}
				out[p] = true
				walk(n.Content[i+1], p)
			}
		}
	}
	walk(&doc, "")
	return out
}

// Every flag that sets a config key is in that key's row of
// docs/configuration.md, and every flag the table names sets that key.
func TestDocsConfigTableNamesSettingFlags(t *testing.T) {
	m := NewMain()
	m.rootCommand()
	page, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(string(page), "\n") {
		if m := regexp.MustCompile("^\\| `([a-z_.]+)` \\| `ACCESSBOT_[A-Z_]+` \\| ([^|]*) \\|").FindStringSubmatch(line); m != nil {
			rows[m[1]] = strings.TrimSpace(m[2])
		}
	}
	want := map[string]string{}
	for _, s := range m.settings {
		want[s.key] = "`--" + s.name + "`"
	}
	if len(want) < 8 {
		t.Fatalf("only %d setting flags: %v", len(want), want)
	}
	for key, cell := range rows {
		if cell != want[key] {
			t.Errorf("docs/configuration.md: %s has flag %q, the CLI has %q", key, cell, want[key])
		}
	}
	for key := range want {
		if _, ok := rows[key]; !ok {
			t.Errorf("docs/configuration.md has no row for %s", key)
		}
	}
}

// Every command of the CLI has a row in docs/commands.md.
func TestDocsListEveryCommand(t *testing.T) {
	page, err := os.ReadFile("../../docs/commands.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range NewMain().rootCommand().Commands() {
		if c.Name() == "help" || c.Name() == "completion" || c.Hidden {
			continue
		}
		if !strings.Contains(string(page), "| `accessbot "+c.Name()) {
			t.Errorf("docs/commands.md has no row for accessbot %s", c.Name())
		}
	}
}
