// Package receiver is a small Standard Webhooks receiver: an http.Handler
// that checks each delivery's signature (with the standard-webhooks
// library, not accessbot's own signer, so the two are checked against each
// other), drops a repeat of a webhook-id it already accepted, and keeps the
// latest deliveries for a page or a test to show.
//
// The playground mounts one in its process as the target of the example
// tenant's `playground_webhook_{endpoint}` steps (and playbooks' webhooks);
// tests use it as a receiver that behaves like a careful real one.
package receiver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// DefaultKeep is how many deliveries a Receiver keeps (the oldest go first).
const DefaultKeep = 200

// maxBody caps a delivery's body; accessbot's are small.
const maxBody = 256 << 10

// Delivery is one accepted webhook (its first arrival; repeats are counted).
type Delivery struct {
	// ID is the webhook-id header: the same for every retry of one event.
	ID string `json:"id"`
	// Endpoint is the last element of the path it was posted to
	// ("grant" for .../hooks/grant).
	Endpoint string `json:"endpoint"`
	// Type, Timestamp and Data are the body's fields (accessbot's webhook
	// body is {"type", "timestamp", "data"}); a body of another shape is
	// kept whole in Data.
	Type      string          `json:"type,omitempty"`
	Timestamp string          `json:"timestamp,omitempty"`
	Data      json.RawMessage `json:"data,omitempty"`
	// ReceivedAt is when it first arrived (the receiver's clock).
	ReceivedAt time.Time `json:"received_at"`
	// Repeats counts later arrivals of the same webhook-id, answered 204
	// without being recorded again.
	Repeats int `json:"repeats"`
}

// Stats counts what a Receiver answered.
type Stats struct {
	Accepted int `json:"accepted"` // new deliveries recorded
	Repeats  int `json:"repeats"`  // a webhook-id seen before
	Rejected int `json:"rejected"` // bad signature, timestamp, method or body
}

// Receiver records verified deliveries. Safe for concurrent use.
type Receiver struct {
	wh   *standardwebhooks.Webhook
	keep int
	now  func() time.Time

	mu      sync.Mutex
	list    []Delivery     // oldest first
	byID    map[string]int // webhook-id → index in list
	seen    map[string]bool
	order   []string // seen ids, oldest first: the latest 10×keep are remembered
	stats   Stats
	changed chan struct{} // closed and replaced on every change
}

// Option changes a Receiver.
type Option func(*Receiver)

// WithKeep keeps the latest n deliveries (default DefaultKeep).
func WithKeep(n int) Option { return func(r *Receiver) { r.keep = max(n, 1) } }

// WithClock sets the clock of ReceivedAt (the signature's timestamp is
// always checked against the real time, as any receiver would).
func WithClock(now func() time.Time) Option { return func(r *Receiver) { r.now = now } }

// New builds a receiver that accepts deliveries signed with secret, a
// Standard Webhooks "whsec_<base64>" key. The error never holds the secret.
func New(secret string, opts ...Option) (*Receiver, error) {
	if !strings.HasPrefix(secret, "whsec_") {
		return nil, errors.New("webhook receiver: the signing secret must be whsec_ followed by base64")
	}
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		return nil, errors.New("webhook receiver: the signing secret must be whsec_ followed by base64")
	}
	r := &Receiver{wh: wh, keep: DefaultKeep, now: time.Now, byID: map[string]int{}, seen: map[string]bool{}, changed: make(chan struct{})}
	for _, o := range opts {
		o(r)
	}
	return r, nil
}

var _ http.Handler = (*Receiver)(nil)

// ServeHTTP takes one delivery: POST, signed, within the timestamp
// tolerance. 204 for a new or repeated delivery, 401 for a bad signature or
// timestamp, 400 for an unreadable body, 405 for another method.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		r.reject()
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, maxBody))
	if err != nil {
		r.reject()
		http.Error(w, "body unreadable or too large", http.StatusBadRequest)
		return
	}
	if err := r.wh.Verify(body, req.Header); err != nil {
		r.reject()
		// The library's words name the failed check, never the secret.
		http.Error(w, "signature refused: "+err.Error(), http.StatusUnauthorized)
		return
	}
	d := Delivery{ID: req.Header.Get("webhook-id"), Endpoint: endpoint(req.URL.Path), ReceivedAt: r.now().UTC()}
	var b struct {
		Type      string          `json:"type"`
		Timestamp string          `json:"timestamp"`
		Data      json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &b); err == nil && (b.Type != "" || b.Data != nil) {
		d.Type, d.Timestamp, d.Data = b.Type, b.Timestamp, b.Data
	} else if json.Valid(body) {
		d.Data = json.RawMessage(body)
	} else {
		d.Data, _ = json.Marshal(string(body))
	}
	r.record(d)
	w.WriteHeader(http.StatusNoContent)
}

func endpoint(path string) string {
	path = strings.TrimRight(path, "/")
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		return path[i+1:]
	}
	return path
}

func (r *Receiver) reject() {
	r.mu.Lock()
	r.stats.Rejected++
	r.notifyLocked()
	r.mu.Unlock()
}

func (r *Receiver) record(d Delivery) {
	r.mu.Lock()
	defer r.mu.Unlock()
	defer r.notifyLocked()
	if r.seen[d.ID] {
		if i, ok := r.byID[d.ID]; ok {
			r.list[i].Repeats++
		}
		r.stats.Repeats++
		return
	}
	r.stats.Accepted++
	r.seen[d.ID] = true
	r.order = append(r.order, d.ID)
	if over := len(r.order) - 10*r.keep; over > 0 {
		for _, id := range r.order[:over] {
			delete(r.seen, id)
		}
		r.order = append([]string(nil), r.order[over:]...)
	}
	r.list = append(r.list, d)
	if over := len(r.list) - r.keep; over > 0 {
		r.list = append([]Delivery(nil), r.list[over:]...)
	}
	r.byID = make(map[string]int, len(r.list))
	for i, x := range r.list {
		r.byID[x.ID] = i
	}
}

func (r *Receiver) notifyLocked() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// Deliveries returns the kept deliveries, newest first.
func (r *Receiver) Deliveries() []Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Delivery, len(r.list))
	for i, d := range r.list {
		out[len(r.list)-1-i] = d
	}
	return out
}

// Stats returns the counts so far.
func (r *Receiver) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats
}

// Wait blocks until ok holds for the deliveries (newest first), or ctx ends.
func (r *Receiver) Wait(ctx context.Context, ok func([]Delivery) bool) ([]Delivery, error) {
	for {
		r.mu.Lock()
		ch := r.changed
		r.mu.Unlock()
		ds := r.Deliveries()
		if ok(ds) {
			return ds, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ds, fmt.Errorf("webhook receiver: waiting for deliveries (have %d): %w", len(ds), ctx.Err())
		}
	}
}
