package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
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
	if last := lines[len(lines)-1]; last != "exec "+blocks[1][1] {
		t.Fatalf(".ci/run must end with `exec %s`, ends with %q", blocks[1][1], last)
	}
	script, err := os.ReadFile("../../scripts/test")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"go vet ./...", "gofmt -l", "go test -race -count=1 ./..."} {
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
