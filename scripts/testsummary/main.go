// Command testsummary reads `go test -json` on standard input and prints it
// for people: one line per package, the output of failed tests, then how many
// tests passed, failed and were skipped, and why each group was skipped, so
// a silent skip cannot hide. It exits 1 when a test or package failed.
//
//	go test -race -count=1 -json ./... | go run ./scripts/testsummary
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
)

func main() {
	if err := summarize(os.Stdin, os.Stdout); err != nil {
		if !errors.Is(err, errFailed) { // a failure is already in the summary
			fmt.Fprintln(os.Stderr, "testsummary:", err)
		}
		os.Exit(1)
	}
}

// CountsMarker starts a test log line that the summary prints even when the
// test passes: what a fault, kill or load run counted.
const CountsMarker = "[counts]"

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action     string
	Package    string
	Test       string
	Output     string
	ImportPath string // build-output events
}

// errFailed is returned when the input reports a failure.
var errFailed = errors.New("tests failed")

type key struct{ pkg, test string }

// summarize copies the stream as readable text to w and returns errFailed
// when anything failed.
func summarize(r io.Reader, w io.Writer) error {
	var (
		outputs          = map[key][]string{}
		pkgOutput        = map[string][]string{}
		skips            = map[string][]string{} // reason → tests
		passed, failed   int
		failedPkgs       int
		sawEvent, broken bool
	)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1024*1024), 64*1024*1024)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if err := json.Unmarshal(line, &e); err != nil || e.Action == "" {
			// Not test2json: something go printed itself (a build error, say).
			fmt.Fprintln(w, string(line))
			continue
		}
		sawEvent = true
		k := key{e.Package, e.Test}
		switch {
		case e.Action == "build-output" || e.Action == "build-fail":
			if e.Output != "" {
				fmt.Fprint(w, e.Output)
			}
			if e.Action == "build-fail" {
				broken = true
			}
		case e.Test == "" && e.Action == "output":
			pkgOutput[e.Package] = append(pkgOutput[e.Package], e.Output)
		case e.Test == "" && (e.Action == "pass" || e.Action == "fail" || e.Action == "skip"):
			// The package's own lines: "ok pkg 1.2s", or everything when it failed.
			for _, o := range pkgOutput[e.Package] {
				if e.Action == "fail" || strings.HasPrefix(o, "ok  ") || strings.HasPrefix(o, "FAIL") {
					fmt.Fprint(w, o)
				}
			}
			delete(pkgOutput, e.Package)
			if e.Action == "fail" {
				failedPkgs++
				// Tests still running when the package died (a panic, a
				// timeout) never report; show what they printed.
				for k, out := range outputs {
					if k.pkg == e.Package {
						fmt.Fprint(w, strings.Join(out, ""))
						delete(outputs, k)
					}
				}
			}
		case e.Action == "output":
			outputs[k] = append(outputs[k], e.Output)
		case e.Action == "pass":
			passed++
			// Fault, kill and load tests log what they counted behind
			// CountsMarker; print it even when they pass.
			for _, o := range outputs[k] {
				if strings.Contains(o, CountsMarker) {
					fmt.Fprintf(w, "counted (%s %s):%s", e.Package, e.Test, strings.SplitN(o, CountsMarker, 2)[1])
				}
			}
			delete(outputs, k)
		case e.Action == "fail":
			failed++
			for _, o := range outputs[k] {
				fmt.Fprint(w, o)
			}
			delete(outputs, k)
		case e.Action == "skip":
			reason := skipReason(outputs[k])
			skips[reason] = append(skips[reason], e.Package+" "+e.Test)
			delete(outputs, k)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read go test -json: %w", err)
	}
	if !sawEvent {
		return fmt.Errorf("no go test -json events on standard input")
	}

	skipped := 0
	for _, tests := range skips {
		skipped += len(tests)
	}
	fmt.Fprintf(w, "\ntests: %d passed, %d failed, %d skipped\n", passed, failed, skipped)
	reasons := make([]string, 0, len(skips))
	for r := range skips {
		reasons = append(reasons, r)
	}
	sort.Slice(reasons, func(i, j int) bool {
		if len(skips[reasons[i]]) != len(skips[reasons[j]]) {
			return len(skips[reasons[i]]) > len(skips[reasons[j]])
		}
		return reasons[i] < reasons[j]
	})
	for _, r := range reasons {
		tests := skips[r]
		sort.Strings(tests)
		fmt.Fprintf(w, "skipped %d: %s\n", len(tests), r)
		for i, t := range tests {
			if i == 3 {
				fmt.Fprintf(w, "    … and %d more\n", len(tests)-3)
				break
			}
			fmt.Fprintf(w, "    %s\n", t)
		}
	}
	if failed > 0 || failedPkgs > 0 || broken {
		return errFailed
	}
	return nil
}

var logPrefix = regexp.MustCompile(`^\s*[\w.-]+\.go:\d+: `)

// skipReason is the message the skipped test gave t.Skip: the last
// "file.go:NN: " line before "--- SKIP", without that prefix. Other output
// (a library's stderr, a banner) is ignored, so equal reasons group.
func skipReason(out []string) string {
	last := ""
	for _, o := range out {
		if logPrefix.MatchString(o) {
			last = strings.TrimSpace(logPrefix.ReplaceAllString(o, ""))
		}
	}
	if last == "" {
		return "(no reason given)"
	}
	return last
}
