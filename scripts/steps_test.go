// Package scripts holds only tests: of the shell helpers beside them.
package scripts

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
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
// which would replace the one that reports the failed step, nor runs a go
// command or a script outside steps_run, where a signal could not stop it,
// nor execs one, which would drop the traps.
func TestCIScriptsReportTheFailedStep(t *testing.T) {
	ownTrap := regexp.MustCompile(`(?m)^\s*trap .*\bEXIT\b`)
	unstoppable := regexp.MustCompile(`(?m)^\s*(?:if\s+)?(?:exec\s|go\s+(?:test|vet|build)\b|\./scripts/).*`)
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
		for _, m := range unstoppable.FindAllString(src, -1) {
			t.Errorf("%s runs %q outside steps_run: a signal would not stop it", tc.name, strings.TrimSpace(m))
		}
		if out, err := exec.Command("bash", "-n", tc.path).CombinedOutput(); err != nil {
			t.Errorf("bash -n %s: %v\n%s", tc.name, err, out)
		}
	}
}

// A SIGTERM or SIGINT to the script (a runner's timeout, Ctrl-C) stops the
// command steps_run waits for and what it started, at once, runs the
// cleanups and names the step; a daemon the script started outside the
// step (as .ci/run may start PostgreSQL or Redis) keeps running.
func TestStepsStopTheStepOnASignal(t *testing.T) {
	lib, err := filepath.Abs("steps.bash")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		sig  syscall.Signal
		name string
		code int
	}{
		{syscall.SIGTERM, "TERM", 143},
		{syscall.SIGINT, "INT", 130},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			pidFile := func(name string) string { return filepath.Join(dir, name) }
			script := filepath.Join(dir, "t.sh")
			src := "set -euo pipefail\n. '" + lib + "'\nsteps_init t\n" +
				// publish NAME PID writes the file whole: a reader never sees half of it.
				"publish() { echo \"$2\" > '" + dir + "/'\"$1.tmp\" && mv '" + dir + "/'\"$1.tmp\" '" + dir + "/'\"$1\"; }\n" +
				"at_exit 'echo cleaned up >&2'\n" +
				"step services\nsetsid sleep 300 </dev/null >/dev/null 2>&1 &\npublish daemon $!\n" +
				"step 'go test'\n" +
				"work() { sleep 300 & publish grandchild $!; publish child $BASHPID; wait; }\n" +
				"steps_run work\necho not reached\n"
			if err := os.WriteFile(script, []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("bash", script)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			// A process the script leaves behind keeps the output pipes
			// open: Wait must not wait for it (it is checked below).
			cmd.WaitDelay = 2 * time.Second
			if tc.sig == syscall.SIGINT && signal.Ignored(syscall.SIGINT) {
				// Started in the background by a shell without job control:
				// the child would inherit SIGINT ignored, which bash cannot
				// trap. Catching it here for the Start has exec reset it.
				c := make(chan os.Signal, 1)
				signal.Notify(c, syscall.SIGINT)
				defer signal.Stop(c)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			pids := map[string]int{}
			for _, name := range []string{"daemon", "grandchild", "child"} {
				pids[name] = waitPidFile(t, pidFile(name), done, &stderr)
			}
			t.Cleanup(func() {
				for _, pid := range pids {
					_ = syscall.Kill(pid, syscall.SIGKILL) // the daemon, and what a failure left behind
				}
			})

			if err := cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				_ = cmd.Process.Kill()
				err = <-done
				t.Errorf("the script did not end within 30 s of SIG%s", tc.name)
			}
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != tc.code {
				t.Errorf("script ended with %v, want exit status %d", err, tc.code)
			}
			want := "[t] INTERRUPTED by SIG" + tc.name + " in step go test (exit " + strconv.Itoa(tc.code) + ")"
			if i, j := strings.Index(stderr.String(), "cleaned up"), strings.Index(stderr.String(), want); i < 0 || j < i {
				t.Errorf("stderr lacks the cleanup, then %q:\n%s", want, stderr.String())
			}
			if strings.Contains(stderr.String(), "FAILED") || strings.Contains(stdout.String(), "not reached") {
				t.Errorf("the signal read as a failure, or the script went on:\nstdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
			}
			for _, name := range []string{"child", "grandchild"} {
				if !gone(pids[name], 10*time.Second) {
					t.Errorf("the step's %s (pid %d) still runs after the script ended", name, pids[name])
				}
			}
			if err := syscall.Kill(pids["daemon"], 0); err != nil {
				t.Errorf("the daemon started outside the step was stopped too: %v", err)
			}
		})
	}
}

// waitPidFile waits (10 s at most) for the script to write a pid to path.
func waitPidFile(t *testing.T, path string, done <-chan error, stderr *bytes.Buffer) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if b, err := os.ReadFile(path); err == nil {
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			return pid
		}
		select {
		case err := <-done:
			t.Fatalf("the script ended (%v) before writing %s; stderr:\n%s", err, path, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 10 s", path)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// gone reports whether process pid has ended within d (an orphan lives on
// as a zombie until init reaps it).
func gone(pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}
