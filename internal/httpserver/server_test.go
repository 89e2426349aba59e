package httpserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot/internal/httpserver"
	"github.com/accessbot/accessbot/internal/testenv"
	"github.com/accessbot/accessbot/store/backend"
	"github.com/accessbot/accessbot/store/storetest"
)

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Code, rec.Body.String()
}

func TestHealthz(t *testing.T) {
	t.Parallel()
	s := httpserver.New("127.0.0.1:0", "", zerolog.Nop())
	// Liveness does not depend on readiness checks.
	s.AddCheck("store", func(context.Context) error { return errors.New("down") })
	code, body := get(t, s.Handler(), "/healthz")
	if code != http.StatusOK || body != "ok\n" {
		t.Fatalf("GET /healthz = %d %q", code, body)
	}
}

// unreachableRedis returns a client for a loopback port nothing listens on.
func unreachableRedis(t *testing.T) *redis.Client {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	return c
}

func TestReadyz(t *testing.T) {
	t.Parallel()
	live := storetest.Open(t, backend.SQLite)
	closed := storetest.Open(t, backend.SQLite)
	// A second Close in storetest's cleanup is harmless for database/sql.
	if err := closed.Close(); err != nil {
		t.Fatal(err)
	}
	rdb, _ := testenv.Redis(t)
	deadRedis := unreachableRedis(t)
	redisCheck := func(c *redis.Client) httpserver.CheckFunc {
		return func(ctx context.Context) error { return c.Ping(ctx).Err() }
	}

	tests := []struct {
		name       string
		checks     map[string]httpserver.CheckFunc
		wantCode   int
		wantFailed []string
	}{
		{"no checks", nil, 200, nil},
		{"store and redis up", map[string]httpserver.CheckFunc{"store": live.Ping, "redis": redisCheck(rdb)}, 200, nil},
		{"store closed", map[string]httpserver.CheckFunc{"store": closed.Ping, "redis": redisCheck(rdb)}, 503, []string{"store"}},
		{"redis down", map[string]httpserver.CheckFunc{"store": live.Ping, "redis": redisCheck(deadRedis)}, 503, []string{"redis"}},
		{"both down", map[string]httpserver.CheckFunc{"store": closed.Ping, "redis": redisCheck(deadRedis)}, 503, []string{"redis", "store"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := httpserver.New("127.0.0.1:0", "", zerolog.Nop())
			for name, fn := range tt.checks {
				s.AddCheck(name, fn)
			}
			code, body := get(t, s.Handler(), "/readyz")
			if code != tt.wantCode {
				t.Fatalf("GET /readyz = %d, want %d: %s", code, tt.wantCode, body)
			}
			var r httpserver.Readiness
			if err := json.Unmarshal([]byte(body), &r); err != nil {
				t.Fatalf("body is not JSON: %v: %s", err, body)
			}
			if !reflect.DeepEqual(r.Failed, tt.wantFailed) {
				t.Fatalf("failed = %v, want %v: %s", r.Failed, tt.wantFailed, body)
			}
			wantStatus := "ok"
			if tt.wantCode != 200 {
				wantStatus = "unavailable"
			}
			if r.Status != wantStatus || len(r.Checks) != len(tt.checks) {
				t.Fatalf("body = %s", body)
			}
			for _, f := range tt.wantFailed {
				if r.Checks[f] == "ok" || r.Checks[f] == "" {
					t.Errorf("check %s failed but says %q", f, r.Checks[f])
				}
			}
		})
	}
}

func TestReadyzHungCheckTimesOut(t *testing.T) {
	t.Parallel()
	s := httpserver.New("127.0.0.1:0", "", zerolog.Nop())
	s.AddCheck("slow", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
	start := time.Now()
	code, body := get(t, s.Handler(), "/readyz")
	if code != 503 || !strings.Contains(body, `"slow":"timed out"`) {
		t.Fatalf("GET /readyz = %d %s", code, body)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("readyz took %s", d)
	}
}

func TestMetricsAndHandle(t *testing.T) {
	t.Parallel()
	s := httpserver.New("127.0.0.1:0", "", zerolog.Nop())
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "accessbot_test_things_total", Help: "test"})
	s.Registry().MustRegister(c)
	c.Add(3)
	s.Handle("GET /slack/install", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "install")
	}))

	code, body := get(t, s.Handler(), "/metrics")
	if code != 200 || !strings.Contains(body, "accessbot_test_things_total 3") || !strings.Contains(body, "go_goroutines") {
		t.Fatalf("GET /metrics = %d:\n%.500s", code, body)
	}
	// Own registry: nothing leaks into prometheus' global default.
	mfs, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "accessbot_test_things_total" {
			t.Fatal("metric registered in the global default registry")
		}
	}
	if code, body := get(t, s.Handler(), "/slack/install"); code != 200 || body != "install" {
		t.Fatalf("mounted handler: %d %q", code, body)
	}
	if code, _ := get(t, s.Handler(), "/nope"); code != 404 {
		t.Fatalf("unknown path: %d", code)
	}
}

func TestServeAndGracefulShutdown(t *testing.T) {
	t.Parallel()
	s := httpserver.New("127.0.0.1:0", "", zerolog.Nop())
	entered, release := make(chan struct{}), make(chan struct{})
	s.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		_, _ = io.WriteString(w, "done")
	})
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx) }()

	base := "http://" + s.Addr()
	resp, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("healthz = %d", resp.StatusCode)
	}

	slow := make(chan string, 1)
	go func() {
		resp, err := http.Get(base + "/slow")
		if err != nil {
			slow <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		slow <- string(b)
	}()
	<-entered
	cancel()
	// Shutdown waits for the in-flight request.
	select {
	case err := <-served:
		t.Fatalf("Serve returned before the in-flight request finished: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if got := <-slow; got != "done" {
		t.Fatalf("in-flight request got %q", got)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	if _, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
		t.Fatal("still accepting after shutdown")
	}
}

func TestListenBusyPort(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s := httpserver.New(ln.Addr().String(), "", zerolog.Nop())
	if err := s.Listen(); err == nil || !strings.Contains(err.Error(), "http.listen") {
		t.Fatalf("Listen on a busy port: %v", err)
	}
}

// /readyz is reachable by anyone who reaches the listener: it names the
// failed dependency but never the driver's error (user, database, host,
// port); the detail goes to the log.
func TestReadyzRedactsErrors(t *testing.T) {
	t.Parallel()
	var logBuf bytes.Buffer
	s := httpserver.New("127.0.0.1:0", "", zerolog.New(&logBuf))
	driverErr := errors.New(`failed to connect to user=alice database=payroll_prod: dial tcp 10.1.2.3:5432: connect: connection refused`)
	s.AddCheck("store", func(context.Context) error { return driverErr })
	s.AddCheck("redis", func(context.Context) error { return nil })
	code, body := get(t, s.Handler(), "/readyz")
	if code != 503 {
		t.Fatalf("GET /readyz = %d %s", code, body)
	}
	for _, leak := range []string{"alice", "payroll_prod", "10.1.2.3", "5432", "connection refused"} {
		if strings.Contains(body, leak) {
			t.Errorf("/readyz body leaks %q: %s", leak, body)
		}
	}
	var r httpserver.Readiness
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r.Failed, []string{"store"}) || r.Checks["store"] != "failed" || r.Checks["redis"] != "ok" {
		t.Fatalf("readyz body = %s", body)
	}
	if !strings.Contains(logBuf.String(), "payroll_prod") || !strings.Contains(logBuf.String(), `"check":"store"`) {
		t.Fatalf("the log lacks the detail:\n%s", logBuf.String())
	}
}

// With an admin listener, the operational endpoints leave the public one
// (which faces Slack's OAuth redirect and the findings API), and pprof is
// served only there, and only when asked for.
func TestAdminListener(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		admin     bool
		pprof     bool
		wantPub   map[string]int
		wantAdmin map[string]int
	}{
		{"no admin listener", false, false,
			map[string]int{"/healthz": 200, "/readyz": 200, "/metrics": 200, "/debug/pprof/": 404, "/slack/install": 200}, nil},
		{"no admin listener, pprof asked", false, true,
			map[string]int{"/healthz": 200, "/readyz": 200, "/metrics": 200, "/debug/pprof/": 404, "/slack/install": 200}, nil},
		{"admin listener", true, false,
			map[string]int{"/healthz": 200, "/readyz": 404, "/metrics": 404, "/debug/pprof/": 404, "/slack/install": 200},
			map[string]int{"/healthz": 200, "/readyz": 200, "/metrics": 200, "/debug/pprof/": 404, "/debug/pprof/cmdline": 404, "/slack/install": 404}},
		{"admin listener with pprof", true, true,
			map[string]int{"/healthz": 200, "/readyz": 404, "/metrics": 404, "/debug/pprof/": 404, "/slack/install": 200},
			map[string]int{"/healthz": 200, "/readyz": 200, "/metrics": 200, "/debug/pprof/": 200, "/debug/pprof/cmdline": 200, "/slack/install": 404}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			adminAddr := ""
			if tt.admin {
				adminAddr = "127.0.0.1:0"
			}
			s := httpserver.New("127.0.0.1:0", adminAddr, zerolog.Nop(), httpserver.WithPprof(tt.pprof))
			s.HandleFunc("GET /slack/install", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "install") })
			if err := s.Listen(); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			served := make(chan error, 1)
			go func() { served <- s.Serve(ctx) }()
			defer func() {
				cancel()
				if err := <-served; err != nil {
					t.Errorf("Serve: %v", err)
				}
			}()
			if tt.admin == (s.AdminAddr() == "") {
				t.Fatalf("AdminAddr = %q", s.AdminAddr())
			}
			check := func(addr string, want map[string]int) {
				for path, code := range want {
					resp, err := http.Get("http://" + addr + path)
					if err != nil {
						t.Fatal(err)
					}
					resp.Body.Close()
					if resp.StatusCode != code {
						t.Errorf("GET %s on %s = %d, want %d", path, addr, resp.StatusCode, code)
					}
				}
			}
			check(s.Addr(), tt.wantPub)
			if tt.admin {
				check(s.AdminAddr(), tt.wantAdmin)
			}
		})
	}
}

func TestAdminListenBusy(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s := httpserver.New("127.0.0.1:0", ln.Addr().String(), zerolog.Nop())
	if err := s.Listen(); err == nil || !strings.Contains(err.Error(), "http.admin_listen") {
		t.Fatalf("Listen on a busy admin port: %v", err)
	}
}
