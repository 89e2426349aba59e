package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/accessbot/accessbot/internal/config"
)

// The Dockerfile and compose.yaml configure accessbot with ACCESSBOT_*
// variables and run its commands: each must exist, so a renamed key or
// command breaks this test rather than the image.
func TestShipFilesMatchTheCode(t *testing.T) {
	envs := map[string]bool{}
	for _, k := range config.Keys() {
		envs[k.Env()] = true
	}
	root := NewMain().rootCommand()
	for _, tc := range []struct {
		file     string
		commands []string // command lines the file runs
	}{
		{file: "../../Dockerfile", commands: []string{"healthcheck", "run"}},
		{file: "../../compose.yaml", commands: []string{"run", "apply -f /config/tenant.yaml"}},
	} {
		data, err := os.ReadFile(tc.file)
		if err != nil {
			t.Fatal(err)
		}
		text := string(data)
		found := regexp.MustCompile(`ACCESSBOT_[A-Z0-9_]+`).FindAllString(text, -1)
		if len(found) < 3 {
			t.Fatalf("%s: found %d ACCESSBOT_* variables: is the scan broken?", tc.file, len(found))
		}
		for _, env := range found {
			if !envs[env] && env != "ACCESSBOT_IMAGE" { // compose's own: which image to run
				t.Errorf("%s: %s is not a configuration variable", tc.file, env)
			}
		}
		for _, line := range tc.commands {
			args := strings.Fields(line)
			if !strings.Contains(text, `"`+args[0]+`"`) && !strings.Contains(text, "accessbot "+line) {
				t.Errorf("%s does not run %q any more: update this test", tc.file, line)
			}
			cmd, rest, err := root.Find(args)
			if err != nil || cmd == root {
				t.Errorf("%s runs `accessbot %s`: no such command", tc.file, line)
				continue
			}
			if err := cmd.ParseFlags(rest); err != nil {
				t.Errorf("%s runs `accessbot %s`: %v", tc.file, line, err)
			}
		}
	}
}
