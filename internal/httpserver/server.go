// Package httpserver serves accessbot's operational HTTP endpoints —
// /healthz, /readyz, /metrics, and pprof on the admin listener — and
// whatever else callers mount (the Slack OAuth install pages, the findings
// API), with graceful shutdown.
package httpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
)

const (
	// checkTimeout bounds each readiness check, so /readyz answers even when a
	// dependency hangs.
	checkTimeout = 2 * time.Second
	// shutdownTimeout bounds how long in-flight requests may finish after
	// the context is cancelled.
	shutdownTimeout = 10 * time.Second
)

// CheckFunc reports whether a dependency is usable; nil means ready.
type CheckFunc func(ctx context.Context) error

// Server is the HTTP server: a public listener for what callers mount (OAuth
// pages, the findings API) and, optionally, an admin listener for the
// operational endpoints. Mount handlers and checks before Serve.
type Server struct {
	log       zerolog.Logger
	addr      string
	adminAddr string
	mux       *http.ServeMux // public
	admin     *http.ServeMux // nil without an admin listener
	registry  *prometheus.Registry
	timeouts  timeouts

	mu      sync.Mutex
	checks  []namedCheck
	ln      net.Listener
	adminLn net.Listener
}

type namedCheck struct {
	name string
	fn   CheckFunc
}

// Option configures a Server.
type Option func(*options)

type options struct{ pprof bool }

// WithPprof serves Go's profiler under /debug/pprof/ on the admin listener
// (http.pprof). Off by default; never served without an admin listener.
func WithPprof(on bool) Option { return func(o *options) { o.pprof = on } }

// New returns a server for addr (host:port; port 0 picks a free one).
// /healthz is served on every listener. /readyz and /metrics are served on
// adminAddr when it is set, and then not on addr; with no adminAddr they
// are served on addr. /debug/pprof/ is served only on adminAddr, and only
// WithPprof(true). Metrics use their own registry, never prometheus' global
// default.
func New(addr, adminAddr string, log zerolog.Logger, opts ...Option) *Server {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	s := &Server{
		log:       log.With().Str("component", "http").Logger(),
		addr:      addr,
		adminAddr: adminAddr,
		mux:       http.NewServeMux(),
		registry:  reg,
		timeouts:  defaultTimeouts,
	}
	s.mux.HandleFunc("GET /healthz", s.healthz)
	ops := s.mux
	if adminAddr != "" {
		s.admin = http.NewServeMux()
		s.admin.HandleFunc("GET /healthz", s.healthz)
		if o.pprof {
			s.admin.HandleFunc("/debug/pprof/", pprof.Index)
			s.admin.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
			s.admin.HandleFunc("/debug/pprof/profile", pprof.Profile)
			s.admin.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
			s.admin.HandleFunc("/debug/pprof/trace", pprof.Trace)
		}
		ops = s.admin
	}
	ops.HandleFunc("GET /readyz", s.readyz)
	ops.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	return s
}

// Handle mounts h on pattern (net/http ServeMux syntax, e.g. "GET /slack/install")
// on the public listener.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// HandleFunc mounts f on pattern on the public listener.
func (s *Server) HandleFunc(pattern string, f http.HandlerFunc) { s.mux.HandleFunc(pattern, f) }

// Registry is where callers register their own metrics.
func (s *Server) Registry() *prometheus.Registry { return s.registry }

// AddCheck adds a readiness check that /readyz runs, named in its answer
// (e.g. "store", "redis").
func (s *Server) AddCheck(name string, fn CheckFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checks = append(s.checks, namedCheck{name, fn})
}

// Handler is the public listener's handler, for tests with httptest.
func (s *Server) Handler() http.Handler { return s.mux }

// Listen binds the addresses, so Addr and AdminAddr are known before Serve
// and a busy port fails at start-up with a clear error.
func (s *Server) Listen() error {
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("listen on %s (http.listen): %w", s.addr, err)
	}
	var adminLn net.Listener
	if s.adminAddr != "" {
		adminLn, err = net.Listen("tcp", s.adminAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("listen on %s (http.admin_listen): %w", s.adminAddr, err)
		}
	}
	s.mu.Lock()
	s.ln, s.adminLn = ln, adminLn
	s.mu.Unlock()
	return nil
}

// Addr is the bound public address (host:port), "" before Listen.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// AdminAddr is the bound admin address, "" before Listen or without one.
func (s *Server) AdminAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.adminLn == nil {
		return ""
	}
	return s.adminLn.Addr().String()
}

// Serve serves until ctx is cancelled, then shuts down gracefully: it stops
// accepting and lets in-flight requests finish (up to 10s). It calls Listen
// first if needed. A clean shutdown returns nil; if a listener fails, the
// other is shut down too.
func (s *Server) Serve(ctx context.Context) error {
	if s.Addr() == "" {
		if err := s.Listen(); err != nil {
			return err
		}
	}
	s.mu.Lock()
	type served struct {
		name string
		srv  *http.Server
		ln   net.Listener
	}
	all := []served{{"http", s.newHTTPServer(ctx, s.mux, s.timeouts.Write), s.ln}}
	if s.adminLn != nil {
		all = append(all, served{"admin http", s.newHTTPServer(ctx, s.admin, s.timeouts.AdminWrite), s.adminLn})
	}
	s.mu.Unlock()

	errc := make(chan error, len(all))
	for _, sv := range all {
		go func() {
			if err := sv.srv.Serve(sv.ln); !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("serve %s: %w", sv.name, err)
				return
			}
			errc <- nil
		}()
		s.log.Info().Str("addr", sv.ln.Addr().String()).Msg(sv.name + " listening")
	}

	var first error
	pending := len(all)
	select {
	case first = <-errc:
		pending--
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	for _, sv := range all {
		if err := sv.srv.Shutdown(shutdownCtx); err != nil && first == nil {
			first = fmt.Errorf("shut down %s: %w", sv.name, err)
		}
	}
	for ; pending > 0; pending-- {
		if err := <-errc; err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		return first
	}
	s.log.Info().Msg("http stopped")
	return nil
}

// timeouts bound each phase of a connection, so a client that trickles its
// request or idles on a keep-alive connection cannot pin a connection and a
// goroutine forever. Tests shorten them.
type timeouts struct {
	ReadHeader time.Duration // request line and headers
	Read       time.Duration // the whole request, body included
	Write      time.Duration // from the end of the headers to the end of the answer
	AdminWrite time.Duration // Write on the admin listener, where pprof profiles for up to this long
	Idle       time.Duration // a keep-alive connection between requests
}

// Every request accessbot serves is small (an OAuth redirect, a findings
// batch, a probe) and answered in seconds, so these are generous.
var defaultTimeouts = timeouts{
	ReadHeader: 5 * time.Second,
	Read:       30 * time.Second,
	Write:      30 * time.Second,
	AdminWrite: 2 * time.Minute,
	Idle:       60 * time.Second,
}

// maxHeaderBytes caps a request's headers (net/http's default is 1 MB).
const maxHeaderBytes = 64 << 10

func (s *Server) newHTTPServer(ctx context.Context, h http.Handler, write time.Duration) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: s.timeouts.ReadHeader,
		ReadTimeout:       s.timeouts.Read,
		WriteTimeout:      write,
		IdleTimeout:       s.timeouts.Idle,
		MaxHeaderBytes:    maxHeaderBytes,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

// Readiness is /readyz's JSON body.
type Readiness struct {
	Status string            `json:"status"`           // "ok" or "unavailable"
	Failed []string          `json:"failed,omitempty"` // names of failed checks, sorted
	Checks map[string]string `json:"checks"`           // name → "ok", "failed" or "timed out"
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	checks := append([]namedCheck(nil), s.checks...)
	s.mu.Unlock()

	ctx, cancel := context.WithTimeout(r.Context(), checkTimeout)
	defer cancel()
	results := make([]error, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = c.fn(ctx)
		}()
	}
	wg.Wait()

	body := Readiness{Status: "ok", Checks: map[string]string{}}
	for i, c := range checks {
		if err := results[i]; err != nil {
			body.Failed = append(body.Failed, c.name)
			// The driver's error names users, hosts and databases: it goes
			// to the log, and /readyz says only which check failed.
			body.Checks[c.name] = "failed"
			if errors.Is(err, context.DeadlineExceeded) {
				body.Checks[c.name] = "timed out"
			}
			s.log.Warn().Str("check", c.name).Err(err).Msg("not ready")
		} else {
			body.Checks[c.name] = "ok"
		}
	}
	code := http.StatusOK
	if len(body.Failed) > 0 {
		sort.Strings(body.Failed)
		body.Status = "unavailable"
		code = http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(body)
}
