// Package httpserver serves accessbot's operational HTTP endpoints —
// /healthz, /readyz, /metrics — and whatever else callers mount (the Slack
// OAuth install pages), with graceful shutdown.
package httpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
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

// Server is the HTTP server. Mount handlers and checks before Serve.
type Server struct {
	log      zerolog.Logger
	addr     string
	mux      *http.ServeMux
	registry *prometheus.Registry

	mu     sync.Mutex
	checks []namedCheck
	ln     net.Listener
}

type namedCheck struct {
	name string
	fn   CheckFunc
}

// New returns a server for addr (host:port; port 0 picks a free one) with
// /healthz, /readyz and /metrics mounted. Metrics use their own registry,
// never prometheus' global default.
func New(addr string, log zerolog.Logger) *Server {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	s := &Server{
		log:      log.With().Str("component", "http").Logger(),
		addr:     addr,
		mux:      http.NewServeMux(),
		registry: reg,
	}
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	return s
}

// Handle mounts h on pattern (net/http ServeMux syntax, e.g. "GET /slack/install").
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// HandleFunc mounts f on pattern.
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

// Handler is the server's whole handler, for tests with httptest.
func (s *Server) Handler() http.Handler { return s.mux }

// Listen binds the address, so Addr is known before Serve and a busy port
// fails at start-up with a clear error.
func (s *Server) Listen() error {
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("listen on %s (http.listen): %w", s.addr, err)
	}
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	return nil
}

// Addr is the bound address (host:port), "" before Listen.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Serve serves until ctx is cancelled, then shuts down gracefully: it stops
// accepting and lets in-flight requests finish (up to 10s). It calls Listen
// first if needed. A clean shutdown returns nil.
func (s *Server) Serve(ctx context.Context) error {
	if s.Addr() == "" {
		if err := s.Listen(); err != nil {
			return err
		}
	}
	s.mu.Lock()
	ln := s.ln
	s.mu.Unlock()
	srv := &http.Server{
		Handler:           s.mux,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.log.Info().Str("addr", ln.Addr().String()).Msg("http listening")

	select {
	case err := <-errc:
		return fmt.Errorf("serve http: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shut down http: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve http: %w", err)
	}
	s.log.Info().Msg("http stopped")
	return nil
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

// Readiness is /readyz's JSON body.
type Readiness struct {
	Status string            `json:"status"`           // "ok" or "unavailable"
	Failed []string          `json:"failed,omitempty"` // names of failed checks, sorted
	Checks map[string]string `json:"checks"`           // name → "ok" or the error
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
			body.Checks[c.name] = err.Error()
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
