// Package webhookfake is a webhook receiver for tests and the playground. It
// verifies Standard Webhooks signatures and the bearer token, records every
// delivery, counts attempts per webhook-id, processes each id once (as an
// idempotent receiver should), and can inject failures: 5xx, 429 with
// Retry-After, and slow answers.
package webhookfake

import (
	"crypto/subtle"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"

	"github.com/accessbot/accessbot/connectors/webhook"
	"github.com/accessbot/accessbot/internal/secrets"
)

// Options configure a Receiver.
type Options struct {
	// SigningSecrets verify webhook-signature; none means signatures are not required.
	SigningSecrets []secrets.Secret
	// Bearer, when set, must be sent as Authorization: Bearer.
	Bearer secrets.Secret
	// Now is the receiver's clock for the timestamp tolerance.
	Now func() time.Time
}

// Fault is what the receiver does with one upcoming delivery instead of
// accepting it.
type Fault struct {
	Status     int           // answer this status without processing (e.g. 503, 429)
	RetryAfter time.Duration // with Status: sent as Retry-After in seconds
	// Delay, without Status: process the delivery, then hold the answer back
	// this long (or until the sender hangs up). The sender sees a timeout for
	// a delivery that did take effect: the case idempotency is for.
	Delay time.Duration
}

// Delivery is one request the receiver got. The Authorization header is not
// kept (the playground page shows deliveries).
type Delivery struct {
	ID        string
	Timestamp string
	Header    http.Header
	Body      []byte
	Status    int    // what the receiver answered
	Rejected  string // why it was refused (signature, token), "" otherwise
	Duplicate bool   // the id had already been processed, so it was not again
}

// Receiver is an http.Handler; NewServer runs it on httptest.
type Receiver struct {
	opts     Options
	verifier *webhook.Verifier

	mu         sync.Mutex
	deliveries []Delivery
	attempts   map[string]int
	processed  map[string]int
	faults     []Fault
}

// New builds a Receiver. It fails only on a malformed signing secret.
func New(o Options) (*Receiver, error) {
	r := &Receiver{opts: o, attempts: map[string]int{}, processed: map[string]int{}}
	if len(o.SigningSecrets) > 0 {
		v, err := webhook.NewVerifier(o.SigningSecrets...)
		if err != nil {
			return nil, fmt.Errorf("webhookfake: %w", err)
		}
		if o.Now != nil {
			v.Now = o.Now
		}
		r.verifier = v
	}
	return r, nil
}

// Server is a Receiver listening on a local httptest server.
type Server struct {
	*Receiver
	srv *httptest.Server
}

// NewServer starts a Receiver on 127.0.0.1 over plain HTTP (tls false) or
// HTTPS with httptest's certificate (tls true; trust it with Client()).
func NewServer(o Options, tls bool) (*Server, error) {
	r, err := New(o)
	if err != nil {
		return nil, err
	}
	s := &Server{Receiver: r}
	if tls {
		s.srv = httptest.NewTLSServer(r)
	} else {
		s.srv = httptest.NewServer(r)
	}
	return s, nil
}

// URL is the server's base URL; any path is accepted.
func (s *Server) URL() string { return s.srv.URL }

// HTTPServer exposes the httptest server (its Client and Certificate).
func (s *Server) HTTPServer() *httptest.Server { return s.srv }

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// InjectFaults queues faults for the next deliveries, one each, in order.
func (r *Receiver) InjectFaults(f ...Fault) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.faults = append(r.faults, f...)
}

// Deliveries returns a copy of every delivery so far, in arrival order.
func (r *Receiver) Deliveries() []Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Delivery(nil), r.deliveries...)
}

// Attempts is how many requests carried this webhook-id.
func (r *Receiver) Attempts(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.attempts[id]
}

// Processed is how many times the delivery with this id took effect. An
// idempotent receiver keeps it at most 1, however many retries come.
func (r *Receiver) Processed(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.processed[id]
}

func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	d := Delivery{
		ID:        req.Header.Get(webhook.HeaderID),
		Timestamp: req.Header.Get(webhook.HeaderTimestamp),
		Header:    req.Header.Clone(),
		Body:      body,
	}
	d.Header.Del("Authorization")

	r.mu.Lock()
	r.attempts[d.ID]++
	var fault *Fault
	if len(r.faults) > 0 {
		f := r.faults[0]
		r.faults = r.faults[1:]
		fault = &f
	}
	status, reason := r.check(req, body)
	switch {
	case status != http.StatusOK:
		d.Rejected = reason
	case fault != nil && fault.Status != 0:
		status = fault.Status
		if fault.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int((fault.RetryAfter+time.Second-1)/time.Second)))
		}
	case r.processed[d.ID] > 0:
		d.Duplicate = true // acknowledged, not processed again
	default:
		r.processed[d.ID]++
	}
	d.Status = status
	r.deliveries = append(r.deliveries, d)
	r.mu.Unlock()

	if fault != nil && fault.Status == 0 && fault.Delay > 0 {
		t := time.NewTimer(fault.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-req.Context().Done():
			return
		}
	}
	if status == http.StatusOK {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"ok":true}`))
		return
	}
	http.Error(w, fmt.Sprintf("refused: %s", firstNonEmpty(reason, http.StatusText(status))), status)
}

// check is called with r.mu held.
func (r *Receiver) check(req *http.Request, body []byte) (int, string) {
	if r.opts.Bearer.IsSet() {
		want := "Bearer " + r.opts.Bearer.Reveal()
		if subtle.ConstantTimeCompare([]byte(req.Header.Get("Authorization")), []byte(want)) != 1 {
			return http.StatusUnauthorized, "bearer token missing or wrong"
		}
	}
	if r.verifier != nil {
		if err := r.verifier.Verify(req.Header, body); err != nil {
			return http.StatusUnauthorized, err.Error()
		}
	}
	return http.StatusOK, ""
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
