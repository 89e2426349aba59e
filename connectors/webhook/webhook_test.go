package webhook_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot/connectors/outbound"
	"github.com/accessbot/accessbot/connectors/webhook"
	"github.com/accessbot/accessbot/connectors/webhook/webhookfake"
	"github.com/accessbot/accessbot/internal/secrets"
)

const (
	signing = secrets.Secret("whsec_c2lnbmluZy1zZWNyZXQtZm9yLXRlc3RzLTAxMjM0NTY3")
	bearer  = secrets.Secret("bearer-token-7f3a9c1e5d")
)

func localClient(t *testing.T, timeout time.Duration) *outbound.Client {
	t.Helper()
	al, err := outbound.ParseAllowlist([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	return outbound.New(outbound.Options{Allow: al, Timeout: timeout})
}

func startFake(t *testing.T) *webhookfake.Server {
	t.Helper()
	s, err := webhookfake.NewServer(webhookfake.Options{SigningSecrets: []secrets.Secret{signing}, Bearer: bearer}, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func TestSendDelivers(t *testing.T) {
	t.Parallel()
	fake := startFake(t)
	c := webhook.New(localClient(t, 5*time.Second), zerolog.Nop())
	ep := webhook.Endpoint{Name: "grant", URL: fake.URL() + "/hooks/grant", Bearer: bearer, SigningSecrets: []secrets.Secret{signing}}
	msg := webhook.Message{
		ID:        webhook.MessageID("flow-1", "step-1"),
		Type:      "access.granted",
		Timestamp: time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC),
		Data:      map[string]string{"user": "U123", "application": "grafana"},
	}
	res, err := c.Send(context.Background(), ep, msg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != http.StatusOK || res.ID != msg.ID {
		t.Fatalf("result %+v", res)
	}
	ds := fake.Deliveries()
	if len(ds) != 1 || ds[0].Status != http.StatusOK || ds[0].Rejected != "" || ds[0].ID != msg.ID {
		t.Fatalf("deliveries %+v", ds)
	}
	var got struct {
		Type      string            `json:"type"`
		Timestamp string            `json:"timestamp"`
		Data      map[string]string `json:"data"`
	}
	if err := json.Unmarshal(ds[0].Body, &got); err != nil {
		t.Fatal(err)
	}
	if got.Type != "access.granted" || got.Timestamp != "2026-12-04T10:00:00Z" || got.Data["user"] != "U123" {
		t.Fatalf("body %s", ds[0].Body)
	}
	if ct := ds[0].Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
	if fake.Processed(msg.ID) != 1 {
		t.Fatalf("processed %d", fake.Processed(msg.ID))
	}
}

func TestReceiverRefuses(t *testing.T) {
	t.Parallel()
	fake := startFake(t)
	c := webhook.New(localClient(t, 5*time.Second), zerolog.Nop())
	otherKey := secrets.Secret("whsec_" + base64.StdEncoding.EncodeToString([]byte("a different key")))
	for _, tc := range []struct {
		name string
		ep   webhook.Endpoint
	}{
		{"no bearer", webhook.Endpoint{Name: "x", URL: fake.URL(), SigningSecrets: []secrets.Secret{signing}}},
		{"unsigned", webhook.Endpoint{Name: "x", URL: fake.URL(), Bearer: bearer}},
		{"wrong key", webhook.Endpoint{Name: "x", URL: fake.URL(), Bearer: bearer, SigningSecrets: []secrets.Secret{otherKey}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := webhook.MessageID(tc.name)
			_, err := c.Send(context.Background(), tc.ep, webhook.Message{ID: id, Type: "t"})
			var de *webhook.DeliveryError
			if !errors.As(err, &de) || de.Status != http.StatusUnauthorized || de.Retryable {
				t.Fatalf("err = %v; want a non-retryable 401", err)
			}
			if fake.Processed(id) != 0 {
				t.Fatal("refused delivery was processed")
			}
		})
	}
	// A key rotation in progress: the old key (which the receiver has) still signs.
	id := webhook.MessageID("rotating")
	ep := webhook.Endpoint{Name: "x", URL: fake.URL(), Bearer: bearer, SigningSecrets: []secrets.Secret{otherKey, signing}}
	if _, err := c.Send(context.Background(), ep, webhook.Message{ID: id, Type: "t"}); err != nil {
		t.Fatalf("rotation: %v", err)
	}
}

// The durable job retries a step with the same message; the receiver sees
// one webhook-id on every attempt and takes effect once, including when an
// attempt took effect but its answer never arrived.
func TestRetriesKeepIDAndReceiverIsIdempotent(t *testing.T) {
	t.Parallel()
	fake := startFake(t)
	fake.InjectFaults(
		webhookfake.Fault{Status: http.StatusServiceUnavailable},
		webhookfake.Fault{Status: http.StatusTooManyRequests, RetryAfter: 7 * time.Second},
		webhookfake.Fault{Delay: 5 * time.Second}, // processed, answer lost to our timeout
	)
	// 1 s: long enough for the normal attempts on a loaded machine, far below the 5 s stall.
	c := webhook.New(localClient(t, time.Second), zerolog.Nop())
	ep := webhook.Endpoint{Name: "grant", URL: fake.URL(), Bearer: bearer, SigningSecrets: []secrets.Secret{signing}}
	msg := webhook.Message{ID: webhook.MessageID("flow-9", "step-1"), Type: "access.granted", Timestamp: time.Unix(1, 0)}

	var errs []*webhook.DeliveryError
	for attempt := 1; attempt <= 6; attempt++ {
		_, err := c.Send(context.Background(), ep, msg)
		if err == nil {
			break
		}
		var de *webhook.DeliveryError
		if !errors.As(err, &de) || !de.Retryable {
			t.Fatalf("attempt %d: %v; want a retryable DeliveryError", attempt, err)
		}
		errs = append(errs, de)
	}
	if len(errs) != 3 {
		t.Fatalf("%d failed attempts; want 3 (503, 429, timeout)", len(errs))
	}
	if errs[0].Status != 503 || errs[1].Status != 429 || errs[1].RetryAfter != 7*time.Second || errs[2].Status != 0 {
		t.Fatalf("failures: %+v %+v %+v", errs[0], errs[1], errs[2])
	}
	ds := fake.Deliveries()
	if len(ds) != 4 || fake.Attempts(msg.ID) != 4 {
		t.Fatalf("%d deliveries, %d attempts for the id; want 4", len(ds), fake.Attempts(msg.ID))
	}
	for i, d := range ds {
		if d.ID != msg.ID || d.Rejected != "" {
			t.Fatalf("delivery %d: id %q rejected %q", i, d.ID, d.Rejected)
		}
	}
	if !ds[3].Duplicate || fake.Processed(msg.ID) != 1 {
		t.Fatalf("last delivery duplicate=%v, processed=%d; want true, 1", ds[3].Duplicate, fake.Processed(msg.ID))
	}
}

// A receiver that echoes the request (headers included) into its error
// page, and a logger at debug: neither the bearer token nor the signing
// secret may come back in our error or logs.
func TestSecretsNeverInErrorsOrLogs(t *testing.T) {
	t.Parallel()
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b bytes.Buffer
		r.Header.Write(&b)
		http.Error(w, b.String(), http.StatusInternalServerError)
	}))
	t.Cleanup(echo.Close)
	var logs bytes.Buffer
	log := zerolog.New(&logs).Level(zerolog.DebugLevel)
	c := webhook.New(localClient(t, 2*time.Second), log)
	ep := webhook.Endpoint{Name: "echo", URL: echo.URL + "/?token=query-secret-123", Bearer: bearer, SigningSecrets: []secrets.Secret{signing}}

	_, err := c.Send(context.Background(), ep, webhook.Message{ID: "msg_1", Type: "t"})
	if err == nil {
		t.Fatal("want an error from a 500")
	}
	_, err2 := c.Send(context.Background(), webhook.Endpoint{Name: "down", URL: "http://127.0.0.1:1/?token=query-secret-123", Bearer: bearer}, webhook.Message{ID: "msg_2"})
	if err2 == nil {
		t.Fatal("want an error from a closed port")
	}
	_, err3 := c.Send(context.Background(), webhook.Endpoint{Name: "badkey", URL: echo.URL, SigningSecrets: []secrets.Secret{"whsec_!!" + bearer}}, webhook.Message{ID: "msg_3"})
	if err3 == nil {
		t.Fatal("want an error from a malformed signing secret")
	}
	var de *webhook.DeliveryError
	if !errors.As(err, &de) || !strings.Contains(de.Detail, "Webhook-Signature") {
		t.Fatalf("the echo did not come back as detail, so this test proves nothing: %v", err)
	}
	key := strings.TrimPrefix(signing.Reveal(), webhook.SecretPrefix)
	for what, s := range map[string]string{
		"error":         err.Error(),
		"error %+v":     fmt.Sprintf("%+v %#v", err, err),
		"transport err": err2.Error(),
		"bad key err":   err3.Error(),
		"logs":          logs.String(),
		"endpoint %+v":  fmt.Sprintf("%+v", ep),
		"endpoint JSON": mustJSON(t, ep),
	} {
		for _, secret := range []string{bearer.Reveal(), key, "query-secret-123"} {
			// The URL is configuration, not a secret: printing the Endpoint shows
			// it. Errors and logs still leave its query out.
			if strings.HasPrefix(what, "endpoint") && secret == "query-secret-123" {
				continue
			}
			if strings.Contains(s, secret) {
				t.Errorf("%s contains a secret (%q): %s", what, secret, s)
			}
		}
	}
	if !strings.Contains(logs.String(), `"webhook":"echo"`) {
		t.Fatalf("expected a log line for the delivery, got %q", logs.String())
	}
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestBlockedAddressIsRefused(t *testing.T) {
	t.Parallel()
	c := webhook.New(outbound.New(outbound.Options{}), zerolog.Nop())
	for _, u := range []string{"https://127.0.0.1/hook", "https://169.254.169.254/latest", "https://10.0.0.8/hook"} {
		_, err := c.Send(context.Background(), webhook.Endpoint{Name: "x", URL: u}, webhook.Message{ID: "msg_1"})
		if !errors.Is(err, outbound.ErrBlocked) {
			t.Fatalf("%s: err = %v; want outbound.ErrBlocked", u, err)
		}
	}
}

func TestBadMessageID(t *testing.T) {
	t.Parallel()
	c := webhook.New(outbound.New(outbound.Options{}), zerolog.Nop())
	for _, id := range []string{"", "msg.1", "msg 1", strings.Repeat("a", 129)} {
		if _, err := c.Send(context.Background(), webhook.Endpoint{Name: "x", URL: "https://example.com"}, webhook.Message{ID: id}); err == nil {
			t.Fatalf("id %q accepted", id)
		}
	}
}
