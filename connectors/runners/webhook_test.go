package runners

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/accessbot/accessbot/connectors/outbound"
	"github.com/accessbot/accessbot/connectors/webhook"
	"github.com/accessbot/accessbot/connectors/webhook/webhookfake"
	"github.com/accessbot/accessbot/flows/provision"
	"github.com/accessbot/accessbot/internal/secrets"
)

const (
	testBearer  = "bearer-TOPSECRET-1234"
	testSigning = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
)

func webhookEnv(t *testing.T) (*env, *webhookfake.Server) {
	t.Helper()
	srv, err := webhookfake.NewServer(webhookfake.Options{Bearer: testBearer, SigningSecrets: []secrets.Secret{testSigning}}, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	e := newEnv(t, outbound.Options{})
	e.connector("hooks", "webhook", map[string]string{"url": srv.URL() + "/accessbot/{endpoint}"}, map[string]string{"bearer": testBearer, "signing_secret": testSigning})
	return e, srv
}

func TestWebhookRunnerDelivers(t *testing.T) {
	t.Parallel()
	e, srv := webhookEnv(t)
	e.allow("127.0.0.1")
	r := NewWebhook(e.cat, e.log)
	// The runner's clock moves between the attempts; the body must not.
	clock := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	r.now = func() time.Time { clock = clock.Add(time.Minute); return clock }
	s := e.step("hooks_webhook_grant", 0, map[string]string{"user": "ada@example.com", "group": "admins"})
	s.Started = time.Date(2026, 12, 5, 11, 59, 30, 0, time.UTC)
	res, err := r.Run(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	if res.Wait || !strings.Contains(res.Note, "hooks/grant delivered (HTTP 200)") {
		t.Fatalf("result %+v", res)
	}
	// A retry of the step (its answer lost) sends the same webhook-id: the receiver drops it.
	s.Attempt = 2
	if _, err := r.Run(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	ds := srv.Deliveries()
	if len(ds) != 2 || ds[0].ID != s.Key || ds[1].ID != s.Key || !ds[1].Duplicate || srv.Processed(s.Key) != 1 {
		t.Fatalf("deliveries %+v", ds)
	}
	if ds[0].Rejected != "" {
		t.Fatalf("rejected: %s", ds[0].Rejected)
	}
	if string(ds[0].Body) != string(ds[1].Body) {
		t.Fatalf("the retry's body differs:\n%s\n%s", ds[0].Body, ds[1].Body)
	}
	var body struct {
		Type      string            `json:"type"`
		Timestamp string            `json:"timestamp"`
		Data      map[string]string `json:"data"`
	}
	if err := json.Unmarshal(ds[0].Body, &body); err != nil {
		t.Fatal(err)
	}
	if body.Timestamp != "2026-12-05T11:59:30Z" {
		t.Fatalf("body timestamp %q, want the step's first start", body.Timestamp)
	}
	if body.Type != "hooks.grant" || body.Data["user"] != "ada@example.com" || body.Data["group"] != "admins" {
		t.Fatalf("body %s", ds[0].Body)
	}
	if ds[0].Header.Get(webhook.HeaderSignature) == "" {
		t.Fatal("no signature header")
	}
}

func TestWebhookRunnerErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		fault     webhookfake.Fault
		permanent bool
	}{
		{"4xx is permanent", webhookfake.Fault{Status: http.StatusUnprocessableEntity}, true},
		{"5xx is retried", webhookfake.Fault{Status: http.StatusServiceUnavailable}, false},
		{"429 is retried", webhookfake.Fault{Status: http.StatusTooManyRequests}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, srv := webhookEnv(t)
			e.allow("127.0.0.1")
			srv.InjectFaults(tc.fault)
			_, err := NewWebhook(e.cat, e.log).Run(context.Background(), e.step("hooks_webhook_grant", 0, map[string]string{"a": "b"}))
			if err == nil || provision.IsPermanent(err) != tc.permanent {
				t.Fatalf("err = %v, permanent = %v, want %v", err, provision.IsPermanent(err), tc.permanent)
			}
			e.noSecret(err)
		})
	}
	t.Run("no such connector", func(t *testing.T) {
		e, _ := webhookEnv(t)
		_, err := NewWebhook(e.cat, e.log).Run(context.Background(), e.step("other_webhook_grant", 0, nil))
		if !provision.IsPermanent(err) || !strings.Contains(err.Error(), `no connector "other"`) {
			t.Fatalf("err = %v", err)
		}
	})
}

// TestWebhookSSRF: loopback, the metadata address and private ranges are
// refused at dial time, as a permanent error, unless the tenant allow-lists them.
func TestWebhookSSRF(t *testing.T) {
	t.Parallel()
	srv, err := webhookfake.NewServer(webhookfake.Options{}, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	port := srv.URL()[strings.LastIndex(srv.URL(), ":"):]
	for _, tc := range []struct {
		name, url string
		allow     []string
	}{
		{"loopback", "http://127.0.0.1" + port + "/{endpoint}", nil},
		{"metadata", "http://169.254.169.254/latest/meta-data/{endpoint}", nil},
		{"private 10/8", "http://10.1.2.3/{endpoint}", nil},
		{"private, other range allow-listed", "http://10.1.2.3/{endpoint}", []string{"192.168.0.0/16"}},
		{"loopback ipv6", "http://[::1]" + port + "/{endpoint}", nil},
		{"https to loopback", "https://127.0.0.1" + port + "/{endpoint}", nil},
		{"loopback allow-listed", "http://127.0.0.1" + port + "/{endpoint}", []string{"127.0.0.1"}},
		{"private allow-listed", "http://10.1.2.3/{endpoint}", []string{"10.0.0.0/8"}},
		{"metadata allow-listed", "http://169.254.169.254/{endpoint}", []string{"169.254.169.254"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, outbound.Options{})
			e.connector("hooks", "webhook", map[string]string{"url": tc.url}, nil)
			if tc.allow != nil {
				e.allow(tc.allow...)
			}
			before := len(srv.Deliveries())
			_, err := NewWebhook(e.cat, e.log).Run(context.Background(), e.step("hooks_webhook_grant", 0, nil))
			blocked := errors.Is(err, outbound.ErrBlocked) || errors.Is(err, outbound.ErrInsecureScheme)
			if tc.allow == nil || tc.name == "private, other range allow-listed" {
				if !blocked || !provision.IsPermanent(err) {
					t.Fatalf("err = %v: want a permanent refusal of the address", err)
				}
				return
			}
			if blocked {
				t.Fatalf("allow-listed, yet refused: %v", err)
			}
			if strings.Contains(tc.url, "127.0.0.1") && (err != nil || len(srv.Deliveries()) != before+1) {
				t.Fatalf("allow-listed loopback: err = %v, deliveries %d→%d", err, before, len(srv.Deliveries()))
			}
		})
	}
}
