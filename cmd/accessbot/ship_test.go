package main

import (
	"encoding/base64"
	"os"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

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

// compose.yaml's accessbot environment, with its defaults filled in, is a
// valid configuration: PostgreSQL, Redis, and the replicas' listen address.
func TestComposeEnvironmentIsValidConfig(t *testing.T) {
	data, err := os.ReadFile("../../compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Env map[string]string `yaml:"x-accessbot-env"`
	}
	if err := yaml.Unmarshal(data, &compose); err != nil {
		t.Fatal(err)
	}
	// ${VAR:-default} → default; ${VAR:?why} must be given: a fresh key.
	ref := regexp.MustCompile(`\$\{([A-Z0-9_]+)(:-([^}]*)|:\?[^}]*)?\}`)
	env := map[string]string{}
	for k, v := range compose.Env {
		env[k] = ref.ReplaceAllStringFunc(v, func(m string) string {
			p := ref.FindStringSubmatch(m)
			if strings.HasPrefix(p[2], ":?") {
				return base64.StdEncoding.EncodeToString(make([]byte, 32))
			}
			return p[3]
		})
	}
	cfg, err := config.Parse("compose.yaml", nil, config.EnvMap(env))
	if err != nil {
		t.Fatalf("compose.yaml's environment: %v", err)
	}
	if cfg.Store.Driver != "postgres" || !cfg.Redis.Enabled() || cfg.HTTP.Listen != "0.0.0.0:8080" {
		t.Fatalf("compose config: store %q, redis %v, listen %q", cfg.Store.Driver, cfg.Redis.Enabled(), cfg.HTTP.Listen)
	}
}
