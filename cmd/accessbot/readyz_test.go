package main

import (
	"encoding/json"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/accessbot/accessbot/internal/httpserver"
	"github.com/accessbot/accessbot/internal/testenv"
)

// hangProxy forwards TCP to upstream until Freeze; from then on it keeps every
// connection open and accepts new ones, but passes no byte either way: a
// dependency that hangs rather than refuses.
type hangProxy struct {
	ln       net.Listener
	upstream string
	frozen   atomic.Bool
	mu       sync.Mutex
	conns    []net.Conn
}

func newHangProxy(t *testing.T, upstream string) *hangProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &hangProxy{ln: ln, upstream: upstream}
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, c := range p.conns {
			c.Close()
		}
	})
	return p
}

func (p *hangProxy) Addr() string { return p.ln.Addr().String() }

// Freeze stops all traffic without closing anything.
func (p *hangProxy) Freeze() { p.frozen.Store(true) }

func (p *hangProxy) track(c net.Conn) {
	p.mu.Lock()
	p.conns = append(p.conns, c)
	p.mu.Unlock()
}

func (p *hangProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.track(c)
		if p.frozen.Load() {
			continue // held open, never answered
		}
		up, err := net.Dial("tcp", p.upstream)
		if err != nil {
			c.Close()
			continue
		}
		p.track(up)
		go p.pipe(c, up)
		go p.pipe(up, c)
	}
}

// pipe copies src to dst until Freeze, then swallows what src sends.
func (p *hangProxy) pipe(src, dst net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.frozen.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// /readyz must answer within its 2 s check deadline when Redis accepts but
// never answers: the Redis client has to honour the context deadline.
func TestRunReadyzWhenRedisHangs(t *testing.T) {
	t.Parallel()
	rdb, _ := testenv.Redis(t)
	proxy := newHangProxy(t, rdb.Options().Addr)
	m, _, _ := testMain(map[string]string{
		"ACCESSBOT_HTTP_LISTEN": "127.0.0.1:0",
		"ACCESSBOT_STORE_DSN":   "file:" + t.TempDir() + "/r.db",
		"ACCESSBOT_REDIS_URL":   "redis://" + proxy.Addr() + "/0",
	})
	addr, _ := startRun(t, m)
	if code, body := httpGet(t, "http://"+addr+"/readyz"); code != 200 {
		t.Fatalf("GET /readyz before the hang = %d %s", code, body)
	}
	proxy.Freeze()
	start := time.Now()
	code, body := httpGet(t, "http://"+addr+"/readyz")
	took := time.Since(start)
	t.Logf("GET /readyz with Redis hanging: %d in %s", code, took.Round(time.Millisecond))
	if code != 503 {
		t.Fatalf("GET /readyz = %d %s, want 503", code, body)
	}
	var r httpserver.Readiness
	if err := json.Unmarshal([]byte(body), &r); err != nil || len(r.Failed) != 1 || r.Failed[0] != "redis" {
		t.Fatalf("readyz body = %s (%v), want only redis failed", body, err)
	}
	if took > 2500*time.Millisecond {
		t.Fatalf("GET /readyz took %s, want about 2s (the check deadline)", took)
	}
}

// With http.admin_listen, /readyz and /metrics move off the public listener
// that carries the OAuth callback and the findings API; http.pprof adds the
// profiler there.
func TestRunAdminListener(t *testing.T) {
	t.Parallel()
	m, _, _ := testMain(map[string]string{
		"ACCESSBOT_HTTP_LISTEN":       "127.0.0.1:0",
		"ACCESSBOT_HTTP_ADMIN_LISTEN": "127.0.0.1:0",
		"ACCESSBOT_HTTP_PPROF":        "true",
		"ACCESSBOT_STORE_DSN":         "file:" + t.TempDir() + "/a.db",
	})
	addr, _ := startRun(t, m)
	admin := m.AdminAddr()
	if admin == "" || admin == addr {
		t.Fatalf("admin addr %q, public %q", admin, addr)
	}
	for _, c := range []struct {
		addr, path string
		want       int
	}{
		{addr, "/healthz", 200}, {addr, "/readyz", 404}, {addr, "/metrics", 404}, {addr, "/debug/pprof/", 404},
		{admin, "/healthz", 200}, {admin, "/readyz", 200}, {admin, "/metrics", 200}, {admin, "/debug/pprof/", 200},
		{admin, "/api/v1/findings", 404},
	} {
		if code, body := httpGet(t, "http://"+c.addr+c.path); code != c.want {
			t.Errorf("GET %s on %s = %d, want %d: %.200s", c.path, c.addr, code, c.want, body)
		}
	}
}
