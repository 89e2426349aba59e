package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// terminalMain is testMain whose standard error passes for a terminal (or not).
func terminalMain(t *testing.T, terminal bool, env map[string]string) (*Main, *syncBuffer, *syncBuffer) {
	t.Helper()
	m, stdout, stderr := testMain(env)
	m.IsTerminal = func(w io.Writer) bool { return terminal && w == m.Stderr }
	return m, stdout, stderr
}

func logLines(s string) []string { return strings.Split(strings.TrimSpace(s), "\n") }

// On a terminal, run logs for people: no JSON, one line for all the
// migrations, and the next step (no Slack tokens) as short plain lines.
func TestRunLogsForPeopleOnATerminal(t *testing.T) {
	t.Parallel()
	m, _, stderr := terminalMain(t, true, map[string]string{
		"ACCESSBOT_HTTP_LISTEN": "127.0.0.1:0",
		"ACCESSBOT_STORE_DSN":   "file:" + filepath.Join(t.TempDir(), "run.db"),
	})
	_, stop := startRun(t, m)
	stop()
	out := stderr.String()
	migrations := 0
	for _, line := range logLines(out) {
		if strings.HasPrefix(line, "{") {
			t.Errorf("JSON on a terminal: %s", line)
		}
		if len(line) > 120 {
			t.Errorf("line of %d characters: %s", len(line), line)
		}
		if strings.Contains(line, "migrat") {
			migrations++
		}
	}
	if migrations != 1 {
		t.Errorf("%d lines about migrations, want 1:\n%s", migrations, out)
	}
	for _, want := range []string{
		"\n  ACCESSBOT_SLACK_APP_TOKEN=xapp-...\n",
		"\n  ACCESSBOT_SLACK_BOT_TOKEN=xoxb-...\n",
		"\n  ACCESSBOT_SLACK_TENANT=",
		"docs/slack-setup.md",
		"accessbot playground",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("terminal output lacks %q:\n%s", want, out)
		}
	}
}

// For services (standard error not a terminal) every line stays JSON, the
// migrations are one line, and the next step is one short warning.
func TestRunLogsJSONForServices(t *testing.T) {
	t.Parallel()
	m, _, stderr := terminalMain(t, false, map[string]string{
		"ACCESSBOT_HTTP_LISTEN": "127.0.0.1:0",
		"ACCESSBOT_STORE_DSN":   "file:" + filepath.Join(t.TempDir(), "run.db"),
	})
	_, stop := startRun(t, m)
	stop()
	migrations := 0
	var hint map[string]any
	for _, line := range logLines(stderr.String()) {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("log line is not JSON: %s", line)
		}
		msg, _ := ev["message"].(string)
		if strings.Contains(msg, "migrat") {
			migrations++
		}
		if strings.Contains(msg, "not connected to Slack") {
			hint = ev
		}
	}
	if migrations != 1 {
		t.Errorf("%d migration lines, want 1:\n%s", migrations, stderr)
	}
	if hint == nil || len(hint["message"].(string)) > 80 || hint["level"] != "warn" ||
		!strings.Contains(hint["set"].(string), "ACCESSBOT_SLACK_APP_TOKEN") || hint["docs"] != "docs/slack-setup.md" {
		t.Errorf("the Slack hint is not one short warning with set and docs fields: %v\n%s", hint, stderr)
	}
}

// --log-format and log.format force either format, whatever standard error is.
func TestLogFormatForced(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	dsn := "file:" + filepath.Join(dir, "m.db")
	tests := []struct {
		name     string
		terminal bool
		env      map[string]string
		args     []string
		wantJSON bool
	}{
		{"terminal", true, nil, nil, false},
		{"pipe", false, nil, nil, true},
		{"flag json on a terminal", true, nil, []string{"--log-format", "json"}, true},
		{"flag console on a pipe", false, nil, []string{"--log-format", "console"}, false},
		{"env json on a terminal", true, map[string]string{"ACCESSBOT_LOG_FORMAT": "json"}, nil, true},
		{"flag beats env", true, map[string]string{"ACCESSBOT_LOG_FORMAT": "json"}, []string{"--log-format", "console"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"ACCESSBOT_STORE_DSN": dsn}
			for k, v := range tt.env {
				env[k] = v
			}
			m, _, stderr := terminalMain(t, tt.terminal, env)
			if err := m.Run(context.Background(), append([]string{"migrate"}, tt.args...)); err != nil {
				t.Fatal(err)
			}
			first := logLines(stderr.String())[0]
			if got := json.Valid([]byte(first)); got != tt.wantJSON {
				t.Errorf("JSON = %v, want %v: %s", got, tt.wantJSON, stderr)
			}
		})
	}
}

// apply on a terminal: the changes on stdout, one readable line about migrations.
func TestApplyOnATerminal(t *testing.T) {
	t.Parallel()
	m, stdout, stderr := terminalMain(t, true, map[string]string{
		"ACCESSBOT_STORE_DSN": "file:" + filepath.Join(t.TempDir(), "a.db"),
	})
	if err := m.Run(context.Background(), []string{"apply", "-f", "../../examples/starter-tenant.yaml"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "change(s) applied") {
		t.Errorf("stdout: %s", stdout)
	}
	migrations := 0
	for _, line := range logLines(stderr.String()) {
		if strings.HasPrefix(line, "{") {
			t.Errorf("JSON on a terminal: %s", line)
		}
		if strings.Contains(line, "migrat") {
			migrations++
		}
	}
	if migrations != 1 {
		t.Errorf("%d lines about migrations, want 1:\n%s", migrations, stderr)
	}
}

// The real process: a *os.File that is no terminal is not one.
func TestIsTerminal(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(f) || isTerminal(&syncBuffer{}) {
		t.Error("a file or a buffer counted as a terminal")
	}
}
