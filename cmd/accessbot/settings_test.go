package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// run's settings flags win over the environment and the config file.
func TestRunSettingsFlags(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "accessbot.yaml")
	if err := os.WriteFile(cfgPath, []byte("http:\n  listen: file-listen-is-not-an-address\nstore:\n  dsn: file:"+filepath.Join(dir, "file.db")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	flagDB := filepath.Join(dir, "flag.db")
	m, _, stderr := testMain(map[string]string{
		"ACCESSBOT_HTTP_LISTEN": "env-listen-is-not-an-address",
		"ACCESSBOT_STORE_DSN":   "file:" + filepath.Join(dir, "env.db"),
		"ACCESSBOT_LOG_LEVEL":   "error",
	})
	addr, stop := startRun(t, m, "--config", cfgPath, "--listen", "127.0.0.1:0", "--store-dsn", "file:"+flagDB,
		"--log-level", "info", "--log-format", "console")
	if code, _ := httpGet(t, "http://"+addr+"/healthz"); code != 200 {
		t.Fatalf("GET /healthz = %d", code)
	}
	stop()
	if _, err := os.Stat(flagDB); err != nil {
		t.Errorf("--store-dsn not used: %v", err)
	}
	for _, unused := range []string{"env.db", "file.db"} {
		if _, err := os.Stat(filepath.Join(dir, unused)); err == nil {
			t.Errorf("%s was opened though --store-dsn was given", unused)
		}
	}
	if log := stderr.String(); strings.HasPrefix(log, "{") || !strings.Contains(log, "INF ready") {
		t.Errorf("--log-format console / --log-level info ignored:\n%s", log)
	}
}

func TestSettingsFlagErrorsNameTheFlag(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"run", "--store-driver", "mysql"}, `store.driver (from --store-driver): must be "sqlite" or "postgres" (got "mysql")`},
		{[]string{"migrate", "--log-format", "xml"}, `log.format (from --log-format): must be "auto"`},
		{[]string{"findings", "list", "--log-level", "loud"}, `log.level (from --log-level): must be one of debug, info, warn, error`},
	}
	for _, tt := range tests {
		m, _, _ := testMain(nil)
		err := m.Run(context.Background(), tt.args)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: err = %v, want %q", tt.args, err, tt.want)
		}
	}
}
