package slackfake

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"time"
)

// fault is one injected failure for a method.
type fault struct {
	status     int
	retryAfter time.Duration
	slackError string
}

// faults is guarded by Server.mu.
type faults struct {
	pending map[string][]fault
	delays  map[string]time.Duration
	late    map[string]time.Duration // answer delays, after the call took effect
	limits  map[string]*rateLimit    // method -> storm armed by RateLimit
}

func (f *faults) init() {
	f.pending = map[string][]fault{}
	f.delays = map[string]time.Duration{}
	f.late = map[string]time.Duration{}
	f.limits = map[string]*rateLimit{}
}

// FailNext makes the next n calls of method (use "response_url" for
// response URL posts, "apps.connections.open" for socket opens) fail with an
// HTTP status. A 429 carries Retry-After (whole seconds, rounded up) and the
// body {"ok":false,"error":"ratelimited"}; other statuses carry a short
// error body that slack-go ignores (it reports slack.StatusCodeError).
func (s *Server) FailNext(method string, n int, status int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.pending[method] = append(s.pending[method], fault{status: status, retryAfter: retryAfter})
	}
}

// FailNextError makes the next n calls of method answer HTTP 200 with
// {"ok":false,"error":code}, e.g. "channel_not_found" or "fatal_error".
func (s *Server) FailNextError(method string, n int, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.pending[method] = append(s.pending[method], fault{status: http.StatusOK, slackError: code})
	}
}

// Delay makes every later call of method wait d before answering (0 removes
// the delay). A client that gives up first sees its own timeout.
func (s *Server) Delay(method string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d <= 0 {
		delete(s.delays, method)
		return
	}
	s.delays[method] = d
}

// DelayAnswer makes every later call of method take effect at once but be
// answered only after d (0 removes it): Slack slow to answer a post it has
// already stored. A client that gives up first, or dies, has posted without
// knowing it.
func (s *Server) DelayAnswer(method string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d <= 0 {
		delete(s.late, method)
		return
	}
	s.late[method] = d
}

func (s *Server) answerDelay(method string) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.late[method]
}

// ClearFaults removes every pending failure and delay.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.init()
}

// takeFault pops the next injected failure for method and returns the delay
// to apply.
func (s *Server) takeFault(method string) (fault, bool, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.delays[method]
	q := s.pending[method]
	if len(q) == 0 {
		return fault{}, false, d
	}
	f := q[0]
	if len(q) == 1 {
		delete(s.pending, method)
	} else {
		s.pending[method] = q[1:]
	}
	return f, true, d
}

// sleepCtx waits d or until ctx ends; it reports whether d elapsed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// writeFault answers an injected failure and returns the recorded status and
// error code.
func writeFault(w http.ResponseWriter, f fault) (int, string) {
	if f.status == http.StatusOK {
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": f.slackError})
		return http.StatusOK, f.slackError
	}
	if f.status == http.StatusTooManyRequests {
		secs := int(math.Ceil(f.retryAfter.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		writeJSON(w, f.status, map[string]any{"ok": false, "error": "ratelimited"})
		return f.status, "ratelimited"
	}
	writeJSON(w, f.status, map[string]any{"ok": false, "error": "fatal_error"})
	return f.status, "fatal_error"
}
