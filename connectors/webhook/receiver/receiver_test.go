package receiver_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot/connectors/outbound"
	"github.com/accessbot/accessbot/connectors/webhook"
	"github.com/accessbot/accessbot/connectors/webhook/receiver"
	"github.com/accessbot/accessbot/internal/secrets"
)

const (
	signing = "whsec_c2lnbmluZy1zZWNyZXQtZm9yLXRlc3RzLTAxMjM0NTY3"
	other   = "whsec_b3RoZXItc2VjcmV0LW5vdC10aGUtcmVjZWl2ZXJzLTk4"
)

func start(t *testing.T) (*receiver.Receiver, string) {
	t.Helper()
	r, err := receiver.New(signing, receiver.WithKeep(3))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return r, srv.URL
}

func sender(t *testing.T) *webhook.Client {
	t.Helper()
	al, err := outbound.ParseAllowlist([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	return webhook.New(outbound.New(outbound.Options{Allow: al, Timeout: 5 * time.Second}), zerolog.Nop())
}

// accessbot's signer against the standard-webhooks library's verifier:
// signed deliveries are kept once, repeats counted, anything else refused.
func TestReceiver(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	at := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	type send struct {
		id, secret, endpoint string
		wantErr              bool
	}
	tests := []struct {
		name      string
		sends     []send
		wantIDs   []string // kept, newest first
		wantStats receiver.Stats
		repeats   map[string]int
	}{
		{
			name:      "one delivery",
			sends:     []send{{id: "msg_a", secret: signing, endpoint: "grant"}},
			wantIDs:   []string{"msg_a"},
			wantStats: receiver.Stats{Accepted: 1},
		},
		{
			name:      "a retry of the same id is answered but kept once",
			sends:     []send{{id: "msg_a", secret: signing, endpoint: "grant"}, {id: "msg_a", secret: signing, endpoint: "grant"}, {id: "msg_b", secret: signing, endpoint: "revoke"}},
			wantIDs:   []string{"msg_b", "msg_a"},
			wantStats: receiver.Stats{Accepted: 2, Repeats: 1},
			repeats:   map[string]int{"msg_a": 1},
		},
		{
			name:      "another key is refused",
			sends:     []send{{id: "msg_x", secret: other, endpoint: "grant", wantErr: true}},
			wantStats: receiver.Stats{Rejected: 1},
		},
		{
			name: "only the latest are kept; an id dropped from the list is still known",
			sends: []send{{id: "m1", secret: signing, endpoint: "e"}, {id: "m2", secret: signing, endpoint: "e"},
				{id: "m3", secret: signing, endpoint: "e"}, {id: "m4", secret: signing, endpoint: "e"}, {id: "m1", secret: signing, endpoint: "e"}},
			wantIDs:   []string{"m4", "m3", "m2"},
			wantStats: receiver.Stats{Accepted: 4, Repeats: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, url := start(t)
			c := sender(t)
			for _, s := range tt.sends {
				ep := webhook.Endpoint{Name: s.endpoint, URL: url + "/hooks/" + s.endpoint, SigningSecrets: []secrets.Secret{secrets.Secret(s.secret)}}
				_, err := c.Send(ctx, ep, webhook.Message{ID: s.id, Type: "playground." + s.endpoint, Timestamp: at, Data: map[string]string{"user": "sofia@acme.com"}})
				var de *webhook.DeliveryError
				if s.wantErr {
					if !errors.As(err, &de) || de.Status != http.StatusUnauthorized {
						t.Fatalf("send %s with another key: got %v, want HTTP 401", s.id, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("send %s: %v", s.id, err)
				}
			}
			got := r.Deliveries()
			var ids []string
			for _, d := range got {
				ids = append(ids, d.ID)
			}
			if strings.Join(ids, ",") != strings.Join(tt.wantIDs, ",") {
				t.Fatalf("kept %v, want %v", ids, tt.wantIDs)
			}
			if r.Stats() != tt.wantStats {
				t.Fatalf("stats %+v, want %+v", r.Stats(), tt.wantStats)
			}
			for _, d := range got {
				if d.Repeats != tt.repeats[d.ID] {
					t.Errorf("%s repeats %d, want %d", d.ID, d.Repeats, tt.repeats[d.ID])
				}
				if d.Timestamp != "2026-12-05T10:00:00Z" || !strings.HasPrefix(d.Type, "playground.") || d.Type != "playground."+d.Endpoint {
					t.Errorf("delivery %s: type %q endpoint %q timestamp %q", d.ID, d.Type, d.Endpoint, d.Timestamp)
				}
				var data map[string]string
				if err := json.Unmarshal(d.Data, &data); err != nil || data["user"] != "sofia@acme.com" {
					t.Errorf("delivery %s data %s (%v)", d.ID, d.Data, err)
				}
			}
		})
	}
}

func TestReceiverRefusesUnsignedAndGet(t *testing.T) {
	t.Parallel()
	r, url := start(t)
	for _, tt := range []struct {
		method string
		header http.Header
		want   int
	}{
		{http.MethodGet, nil, http.StatusMethodNotAllowed},
		{http.MethodPost, http.Header{"Content-Type": {"application/json"}}, http.StatusUnauthorized},
		{http.MethodPost, http.Header{"webhook-id": {"msg_1"}, "webhook-timestamp": {"1"}, "webhook-signature": {"v1,AAAA"}}, http.StatusUnauthorized},
	} {
		req, _ := http.NewRequest(tt.method, url+"/hooks/grant", strings.NewReader(`{"type":"x","data":{}}`))
		for k, v := range tt.header {
			req.Header[k] = v
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%s %v: HTTP %d, want %d", tt.method, tt.header, resp.StatusCode, tt.want)
		}
	}
	if got := r.Stats(); got.Rejected != 3 || got.Accepted != 0 || len(r.Deliveries()) != 0 {
		t.Fatalf("stats %+v, deliveries %d: want 3 rejected, none kept", got, len(r.Deliveries()))
	}
	if _, err := receiver.New("not-a-secret"); err == nil {
		t.Fatal("New accepted a secret without whsec_")
	}
}

func TestReceiverWait(t *testing.T) {
	t.Parallel()
	r, url := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go func() {
		time.Sleep(50 * time.Millisecond)
		ep := webhook.Endpoint{Name: "grant", URL: url + "/hooks/grant", SigningSecrets: []secrets.Secret{signing}}
		_, _ = sender(t).Send(ctx, ep, webhook.Message{ID: "msg_w", Type: "t", Timestamp: time.Now(), Data: map[string]string{}})
	}()
	ds, err := r.Wait(ctx, func(ds []receiver.Delivery) bool { return len(ds) == 1 })
	if err != nil || ds[0].ID != "msg_w" || ds[0].Endpoint != "grant" {
		t.Fatalf("wait: %v %+v", err, ds)
	}
	short, cancel2 := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel2()
	if _, err := r.Wait(short, func(ds []receiver.Delivery) bool { return len(ds) == 2 }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("wait for what never comes: %v", err)
	}
}
