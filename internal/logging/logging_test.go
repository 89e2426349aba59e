package logging_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/accessbot/accessbot/internal/logging"
)

func TestNew(t *testing.T) {
	tests := []struct {
		level, format string
		wantDebug     bool
		wantInfo      bool
		wantJSON      bool
	}{
		{"", "", false, true, true},
		{"debug", "json", true, true, true},
		{"info", "console", false, true, false},
		{"warn", "json", false, false, true},
		{"error", "console", false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.level+"/"+tt.format, func(t *testing.T) {
			var buf bytes.Buffer
			log, err := logging.New(tt.level, tt.format, &buf)
			if err != nil {
				t.Fatal(err)
			}
			log.Debug().Msg("dbg")
			log.Info().Msg("inf")
			log.Error().Msg("err")
			out := buf.String()
			if got := strings.Contains(out, "dbg"); got != tt.wantDebug {
				t.Errorf("debug shown = %v, want %v: %s", got, tt.wantDebug, out)
			}
			if got := strings.Contains(out, "inf"); got != tt.wantInfo {
				t.Errorf("info shown = %v, want %v: %s", got, tt.wantInfo, out)
			}
			first := strings.SplitN(out, "\n", 2)[0]
			if got := json.Valid([]byte(first)); got != tt.wantJSON {
				t.Errorf("line is JSON = %v, want %v: %s", got, tt.wantJSON, first)
			}
		})
	}
}

func TestNewRejects(t *testing.T) {
	if _, err := logging.New("verbose", "json", &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "debug, info, warn, error") {
		t.Errorf("bad level: %v", err)
	}
	if _, err := logging.New("info", "xml", &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "json or console") {
		t.Errorf("bad format: %v", err)
	}
}

func TestForTenant(t *testing.T) {
	var buf bytes.Buffer
	log, err := logging.New("info", "json", &buf)
	if err != nil {
		t.Fatal(err)
	}
	tl := logging.ForTenant(log, "t-123")
	tl.Info().Msg("hello")
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatal(err)
	}
	if line["tenant"] != "t-123" || line["time"] == nil {
		t.Fatalf("line = %v", line)
	}
}

func TestResolve(t *testing.T) {
	for _, tt := range []struct {
		format   string
		terminal bool
		want     string
	}{
		{"auto", true, "console"},
		{"auto", false, "json"},
		{"json", true, "json"},
		{"console", false, "console"},
	} {
		if got := logging.Resolve(tt.format, tt.terminal); got != tt.want {
			t.Errorf("Resolve(%q, %v) = %q, want %q", tt.format, tt.terminal, got, tt.want)
		}
	}
}
