package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/internal/config"
	"github.com/accessbot/accessbot/internal/testenv"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/backend"
	"github.com/accessbot/accessbot/store/storetest"
)

// syncBuffer is a bytes.Buffer safe for the logger's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testMain is a Main with captured output and only the given environment.
func testMain(env map[string]string) (*Main, *syncBuffer, *syncBuffer) {
	m := NewMain()
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	m.Stdin, m.Stdout, m.Stderr = strings.NewReader(""), stdout, stderr
	m.Env = config.EnvMap(env)
	return m, stdout, stderr
}

// startRun starts `run` in process and waits until it serves HTTP. The
// returned stop cancels it and checks that it exited cleanly.
func startRun(t *testing.T, m *Main, args ...string) (addr string, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx, append([]string{"run"}, args...)) }()
	select {
	case <-m.Ready():
	case err := <-done:
		cancel()
		t.Fatalf("run exited before serving: %v\nlog:\n%s", err, m.Stderr)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatalf("run did not become ready\nlog:\n%s", m.Stderr)
	}
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run after cancel: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("run did not stop after cancel")
		}
	}
	t.Cleanup(stop)
	return m.HTTPAddr(), stop
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestRunServesHealthWithSQLite(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "run.db")
	m, _, stderr := testMain(map[string]string{
		"ACCESSBOT_HTTP_LISTEN": "127.0.0.1:0",
		"ACCESSBOT_STORE_DSN":   "file:" + db,
	})
	addr, stop := startRun(t, m)

	if code, body := httpGet(t, "http://"+addr+"/healthz"); code != 200 || body != "ok\n" {
		t.Fatalf("GET /healthz = %d %q", code, body)
	}
	code, body := httpGet(t, "http://"+addr+"/readyz")
	if code != 200 || !strings.Contains(body, `"store":"ok"`) || strings.Contains(body, "redis") {
		t.Fatalf("GET /readyz = %d %s", code, body)
	}
	if code, body := httpGet(t, "http://"+addr+"/metrics"); code != 200 || !strings.Contains(body, "go_goroutines") {
		t.Fatalf("GET /metrics = %d", code)
	}
	if _, err := os.Stat(db); err != nil {
		t.Fatalf("sqlite file not created: %v", err)
	}
	stop()

	log := stderr.String()
	for _, want := range []string{
		`"set":"ACCESSBOT_SLACK_APP_TOKEN, ACCESSBOT_SLACK_BOT_TOKEN, ACCESSBOT_SLACK_TENANT"`,
		`"message":"stopped"`,
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	// Every line is JSON by default.
	for _, line := range strings.Split(strings.TrimSpace(log), "\n") {
		if !json.Valid([]byte(line)) {
			t.Errorf("log line is not JSON: %s", line)
		}
	}
}

// Without --config or environment, run uses ./accessbot.db.
func TestRunDefaultsToSQLiteInWorkingDir(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	m, _, _ := testMain(map[string]string{"ACCESSBOT_HTTP_LISTEN": "127.0.0.1:0"})
	addr, stop := startRun(t, m)
	if code, _ := httpGet(t, "http://"+addr+"/healthz"); code != 200 {
		t.Fatalf("GET /healthz = %d", code)
	}
	stop()
	if _, err := os.Stat(filepath.Join(dir, "accessbot.db")); err != nil {
		t.Fatalf("default sqlite file: %v", err)
	}
}

func TestRunWithConfigFileAndRedis(t *testing.T) {
	t.Parallel()
	rdb, _ := testenv.Redis(t)
	redisURL := "redis://" + rdb.Options().Addr + "/0"
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "accessbot.yaml")
	cfg := "store:\n  driver: sqlite\n  dsn: file:" + filepath.Join(dir, "x.db") + "\nhttp:\n  listen: 127.0.0.1:0\nlog:\n  format: console\n  level: debug\n"
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	m, _, stderr := testMain(map[string]string{"ACCESSBOT_REDIS_URL": redisURL})
	addr, stop := startRun(t, m, "--config", cfgPath)
	code, body := httpGet(t, "http://"+addr+"/readyz")
	if code != 200 || !strings.Contains(body, `"redis":"ok"`) || !strings.Contains(body, `"store":"ok"`) {
		t.Fatalf("GET /readyz = %d %s", code, body)
	}
	stop()
	if strings.HasPrefix(stderr.String(), "{") {
		t.Errorf("log.format console ignored:\n%s", stderr)
	}
}

func TestRunFailsFast(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("slack:\n  bot_tokn: xoxb-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"unknown key", []string{"run", "--config", bad}, nil, bad + ":2: slack.bot_tokn: unknown key (did you mean slack.bot_token?"},
		{"bad driver", []string{"run"}, map[string]string{"ACCESSBOT_STORE_DRIVER": "mysql"}, `store.driver (from ACCESSBOT_STORE_DRIVER): must be "sqlite" or "postgres" (got "mysql")`},
		{"missing file", []string{"migrate", "--config", filepath.Join(dir, "nope.yaml")}, nil, "nope.yaml: no such file"},
		{"unreachable redis", []string{"run"}, map[string]string{
			"ACCESSBOT_STORE_DSN": "file:" + filepath.Join(dir, "r.db"), "ACCESSBOT_HTTP_LISTEN": "127.0.0.1:0",
			"ACCESSBOT_REDIS_URL": "redis://:hunter2@127.0.0.1:1/0"}, "connect to redis at 127.0.0.1:1 (redis.url)"},
		{"extra argument", []string{"run", "now"}, nil, `run: unexpected argument "now": it takes none`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, _, _ := testMain(tt.env)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := m.Run(ctx, tt.args)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("error leaks the password: %v", err)
			}
		})
	}
}

func TestMigrateTwice(t *testing.T) {
	t.Parallel()
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			dsn := "file:" + filepath.Join(t.TempDir(), "m.db")
			if driver == backend.Postgres {
				dsn = testenv.PostgresDSN(t)
			}
			env := map[string]string{"ACCESSBOT_STORE_DRIVER": driver, "ACCESSBOT_STORE_DSN": dsn}
			for i := range 2 {
				m, _, stderr := testMain(env)
				if err := m.Run(context.Background(), []string{"migrate"}); err != nil {
					t.Fatalf("migrate #%d: %v\n%s", i+1, err, stderr)
				}
				if !strings.Contains(stderr.String(), "migrations applied") {
					t.Fatalf("migrate #%d log:\n%s", i+1, stderr)
				}
			}
		})
	}
}

func TestVersionAndHelp(t *testing.T) {
	t.Parallel()
	m, stdout, _ := testMain(nil)
	m.Version, m.Commit = "v9.9.9", "abc123"
	if err := m.Run(context.Background(), []string{"version"}); err != nil {
		t.Fatal(err)
	}
	if got := stdout.String(); !strings.HasPrefix(got, "accessbot v9.9.9 (commit abc123, go") {
		t.Fatalf("version printed %q", got)
	}
	for _, args := range [][]string{{"--help"}, {"run", "--help"}, {"migrate", "--help"}, {"version", "--help"}, {"help", "run"}} {
		m, stdout, _ := testMain(nil)
		if err := m.Run(context.Background(), args); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if out := stdout.String(); !strings.Contains(out, "Usage:") || !strings.Contains(out, "--config") {
			t.Errorf("%v printed no usage with --config:\n%s", args, out)
		}
	}
}

func TestBuildVersionDefaults(t *testing.T) {
	v, c := buildVersion()
	if v == "" || c == "" {
		t.Fatalf("buildVersion() = %q, %q", v, c)
	}
}

// openSQLite opens (and migrates) the sqlite store at dsn, for a test to
// set up or inspect; the caller closes it.
func openSQLite(t *testing.T, dsn string) store.Store {
	t.Helper()
	st, err := backend.Open(context.Background(), "sqlite", dsn, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// addTenant creates tenant slug with one active member (email, name).
func addTenant(t *testing.T, st store.Store, slug, name, email, userName string) *accessbot.Tenant {
	t.Helper()
	ctx := context.Background()
	tenant := &accessbot.Tenant{Slug: slug, Name: name}
	if err := st.CreateTenant(ctx, tenant); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateUser(ctx, &accessbot.User{TenantID: tenant.ID, Email: email, Name: userName,
		Status: accessbot.UserActive, Role: accessbot.RoleMember}); err != nil {
		t.Fatal(err)
	}
	return tenant
}

// acmeStore makes a sqlite file (file, in a temp dir) holding tenant "acme"
// with member ada, and returns its DSN.
func acmeStore(t *testing.T, file string) string {
	t.Helper()
	dsn := "file:" + filepath.Join(t.TempDir(), file)
	st := openSQLite(t, dsn)
	addTenant(t, st, "acme", "Acme Corp", "ada@acme.test", "Ada")
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return dsn
}
