// Package scripts holds only tests: of the shell helpers beside them.
package scripts

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// runSteps runs body as a bash script under `set -euo pipefail` with
// steps.bash sourced and initialised as "t", and returns its exit status,
// stdout and stderr.
func runSteps(t *testing.T, body string) (int, string, string) {
	t.Helper()
	lib, err := filepath.Abs("steps.bash")
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(t.TempDir(), "t.sh")
	src := "set -euo pipefail\n. '" + lib + "'\nsteps_init t\n" + body + "\n"
	if err := os.WriteFile(script, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", script)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, stdout.String(), stderr.String()
	case errors.As(err, &exit):
		return exit.ExitCode(), stdout.String(), stderr.String()
	default:
		t.Fatalf("running bash: %v", err)
		return 0, "", ""
	}
}

// A script that set -e ends says in which step, with the exit status it
// keeps, and which command ended it; a script that succeeds says nothing.
func TestStepsNameTheFailedStep(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		code       int
		stderr     []string // lines that must be in stderr, in order
		noCommand  bool     // no "ended at line" line
	}{
		{
			name: "a pipeline under pipefail (the silent fuzz step)",
			body: "step prepare\ntrue\nstep fuzz\nls /nonexistent-accessbot-dir | wc -l\necho not reached",
			code: 2,
			// line 7 of the script: the pipeline (3 lines of preamble, then the body).
			stderr: []string{"[t] FAILED in step fuzz (exit 2)", "[t] ended at line 7: wc -l"},
		},
		{
			name:   "a command inside a function",
			body:   "f() {\n  grep -q no-such-text /dev/null\n}\nstep lookup\nf",
			code:   1,
			stderr: []string{"[t] FAILED in step lookup (exit 1)", "[t] ended at line 5: grep -q no-such-text /dev/null"},
		},
		{
			name:      "an explicit exit",
			body:      "step check\necho 'gofmt found files' >&2\nexit 3",
			code:      3,
			stderr:    []string{"gofmt found files", "[t] FAILED in step check (exit 3)"},
			noCommand: true,
		},
		{
			name:   "before the first step",
			body:   "false",
			code:   1,
			stderr: []string{"[t] FAILED in step (before the first step) (exit 1)", "[t] ended at line 4: false"},
		},
		{
			name:   "a command substitution",
			body:   "step read\nv=$(cat /nonexistent-accessbot-file)",
			code:   1,
			stderr: []string{"[t] FAILED in step read (exit 1)"},
		},
		{
			name: "success",
			body: "step one\nif false; then :; fi\nfalse || true\nstep two",
			code: 0,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runSteps(t, tc.body)
			if code != tc.code {
				t.Errorf("exit status %d, want %d; stderr:\n%s", code, tc.code, stderr)
			}
			if tc.code == 0 {
				if strings.Contains(stderr, "FAILED") || strings.Contains(stderr, "ended at line") {
					t.Errorf("a successful script reported a failure:\n%s", stderr)
				}
			}
			rest := stderr
			for _, want := range tc.stderr {
				i := strings.Index(rest, want)
				if i < 0 {
					t.Fatalf("stderr lacks %q (in order); stderr:\n%s", want, stderr)
				}
				rest = rest[i+len(want):]
			}
			if tc.noCommand && strings.Contains(stderr, "ended at line") {
				t.Errorf("an explicit exit named a failing command:\n%s", stderr)
			}
			if strings.Contains(stdout, "not reached") {
				t.Errorf("the script went on after the failure:\n%s", stdout)
			}
		})
	}
}

// step logs each step on stdout; at_exit's commands run on success and on
// failure, and do not change the exit status.
func TestStepsLogAndCleanUp(t *testing.T) {
	for _, tc := range []struct {
		name, last string
		code       int
	}{
		{"success", "true", 0},
		{"failure", "false", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			marker := filepath.Join(dir, "marker")
			if err := os.WriteFile(marker, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			code, stdout, stderr := runSteps(t, "step 'make things'\nat_exit 'rm -f \""+marker+"\"'\nat_exit 'false'\n"+tc.last)
			if code != tc.code {
				t.Errorf("exit status %d, want %d; stderr:\n%s", code, tc.code, stderr)
			}
			if !strings.Contains(stdout, "[t] step: make things\n") {
				t.Errorf("stdout lacks the step line:\n%s", stdout)
			}
			if _, err := os.Stat(marker); !os.IsNotExist(err) {
				t.Errorf("at_exit did not run: %s still there (%v)", marker, err)
			}
		})
	}
}

// The CI scripts use the helper, and none sets an EXIT trap of its own,
// which would replace the one that reports the failed step.
func TestCIScriptsReportTheFailedStep(t *testing.T) {
	ownTrap := regexp.MustCompile(`(?m)^\s*trap .*\bEXIT\b`)
	for _, tc := range []struct{ path, name string }{
		{"../.ci/run", ".ci/run"},
		{"test", "scripts/test"},
		{"fuzz", "scripts/fuzz"},
	} {
		data, err := os.ReadFile(tc.path)
		if err != nil {
			t.Fatal(err)
		}
		src := string(data)
		for _, want := range []string{"\n. scripts/steps.bash\n", "\nsteps_init " + tc.name + "\n", "\nstep "} {
			if !strings.Contains(src, want) {
				t.Errorf("%s lacks %q", tc.name, strings.TrimSpace(want))
			}
		}
		if m := ownTrap.FindString(src); m != "" {
			t.Errorf("%s sets its own EXIT trap (%q): use at_exit", tc.name, strings.TrimSpace(m))
		}
		if out, err := exec.Command("bash", "-n", tc.path).CombinedOutput(); err != nil {
			t.Errorf("bash -n %s: %v\n%s", tc.name, err, out)
		}
	}
}
