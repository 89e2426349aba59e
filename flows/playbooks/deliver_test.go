package playbooks_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/connectors/webhook/webhookfake"
	"github.com/accessbot/accessbot/flows/playbooks"
	"github.com/accessbot/accessbot/store/storetest"
)

func requestEvent(id, status string) playbooks.Event {
	return playbooks.Event{Type: "request." + status, Key: id + ":" + status, ObjectType: "access_request", ObjectID: id,
		Object: map[string]string{"id": id, "status": status}, ActorID: "u-1"}
}

// A delivery carries the stable schema and a signature that the Standard
// Webhooks reference library (not our code) verifies, plus the bearer
// token; the run and the audit log record it.
func TestDeliverySignedAndAudited(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			f := newFixture(t, driver, fixtureOpts{})
			p := f.playbook("Ticket", accessbot.PlaybookRequest, f.recv.URL()+"/hook", nil)
			runs, err := f.svc.Emit(context.Background(), f.tenant.ID, requestEvent("r1", "created"))
			if err != nil || len(runs) != 1 {
				t.Fatalf("emit: %v, %d runs", err, len(runs))
			}
			run := f.waitRun(runs[0].ID)
			if run.Status != accessbot.RunDelivered || run.Attempts != 1 || run.ResponseStatus != 200 || run.ResponseBody != `{"ok":true}` {
				t.Fatalf("run = %+v; want delivered at the first attempt with the receiver's answer", run)
			}
			ds := f.recv.Deliveries()
			if len(ds) != 1 || ds[0].Rejected != "" {
				t.Fatalf("deliveries = %+v", ds)
			}
			d := ds[0]
			wh, err := standardwebhooks.NewWebhook(testSigning.Reveal())
			if err != nil {
				t.Fatal(err)
			}
			if err := wh.Verify(d.Body, d.Header); err != nil {
				t.Fatalf("standard webhooks library rejects the signature: %v", err)
			}
			tampered := []byte(strings.Replace(string(d.Body), "r1", "r2", 1))
			if err := wh.Verify(tampered, d.Header); err == nil {
				t.Fatal("the library accepts a tampered body; the check proves nothing")
			}
			var env struct {
				Type      string          `json:"type"`
				Timestamp string          `json:"timestamp"`
				Data      playbooks.Body  `json:"data"`
				Extra     json.RawMessage `json:"-"`
			}
			if err := json.Unmarshal(d.Body, &env); err != nil {
				t.Fatal(err)
			}
			b := env.Data
			if env.Type != "request.created" || b.EventID != d.ID || b.EventID != run.EventID || b.Type != "request.created" ||
				b.Tenant.ID != f.tenant.ID || b.Tenant.Slug != "acme" || b.Playbook.ID != p.ID || b.Playbook.Scope != "global" ||
				b.Trigger.Kind != "event" || b.Trigger.ActorID != "u-1" || b.ObjectType != "access_request" || b.ObjectID != "r1" ||
				string(b.Object) != `{"id":"r1","status":"created"}` || b.Time.IsZero() {
				t.Fatalf("body = %s", d.Body)
			}
			entries, err := f.st.ListAudit(context.Background(), f.tenant.ID, p.ID)
			if err != nil || len(entries) != 1 || entries[0].Action != playbooks.ActionDelivered || entries[0].ActorID != "u-1" {
				t.Fatalf("audit = %+v, %v", entries, err)
			}
			var a map[string]any
			_ = json.Unmarshal(entries[0].After, &a)
			if a["status"] != "delivered" || a["event_id"] != run.EventID || a["attempts"] != float64(1) || a["response_status"] != float64(200) ||
				a["response_body"] != `{"ok":true}` || a["trigger"] != "event" || a["duration_ms"] == nil {
				t.Fatalf("audit after = %s", entries[0].After)
			}
			if strings.Contains(string(entries[0].After), testToken.Reveal()) {
				t.Fatal("the token is in the audit log")
			}
			f.reporter.wait(t, run.ID)
		})
	}
}

// 5xx, timeouts and 429 (after its Retry-After) are retried with the same
// event id; the receiver processes the event once.
func TestRetriesKeepOneEventID(t *testing.T) {
	f := newFixture(t, "sqlite", fixtureOpts{timeout: 3 * time.Second})
	f.playbook("Ticket", accessbot.PlaybookRequest, f.recv.URL(), nil)
	f.recv.InjectFaults(webhookfake.Fault{Status: 503}, webhookfake.Fault{Delay: 8 * time.Second},
		webhookfake.Fault{Status: 429, RetryAfter: time.Second}, webhookfake.Fault{Status: 500})
	runs, err := f.svc.Emit(context.Background(), f.tenant.ID, requestEvent("r1", "approved"))
	if err != nil || len(runs) != 1 {
		t.Fatalf("emit: %v, %d runs", err, len(runs))
	}
	run := f.waitRun(runs[0].ID)
	if run.Status != accessbot.RunDelivered || run.Attempts != 5 {
		t.Fatalf("run = %+v; want delivered at attempt 5", run)
	}
	ids := map[string]bool{}
	for _, d := range f.recv.Deliveries() {
		ids[d.ID] = true
	}
	if len(ids) != 1 || !ids[run.EventID] || f.recv.Attempts(run.EventID) != 5 || f.recv.Processed(run.EventID) != 1 {
		t.Fatalf("ids %v, attempts %d, processed %d; want one id, 5 attempts, processed once", ids, f.recv.Attempts(run.EventID), f.recv.Processed(run.EventID))
	}
	f.reporter.wait(t, run.ID)
	time.Sleep(100 * time.Millisecond)
	if n := f.reporter.count(run.ID); n != 1 {
		t.Fatalf("reported %d times; want once", n)
	}
	// Emitting the same occurrence again queues nothing.
	if again, err := f.svc.Emit(context.Background(), f.tenant.ID, requestEvent("r1", "approved")); err != nil || len(again) != 0 {
		t.Fatalf("second emit: %v, %d runs; want none", err, len(again))
	}
}

// Bad input at the far end: each ends in a recorded failure with a clear
// message, reported once; 4xx and unfixable transport errors are not retried.
func TestDeliveryFailures(t *testing.T) {
	big := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(4<<20))
		w.Write(make([]byte, 4<<20))
	}))
	t.Cleanup(big.Close)
	// The same, chunked (no Content-Length) and accepted: the cap is only
	// met while reading, after a 200.
	bigChunked := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		for range 64 {
			w.Write(make([]byte, 64<<10))
			w.(http.Flusher).Flush()
		}
	}))
	t.Cleanup(bigChunked.Close)
	redirect := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://[::ffff:169.254.169.254]/latest/meta-data/", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirect.Close)
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := strings.Replace(dead.URL, "http:", "https:", 1)
	dead.Close()

	for _, tc := range []struct {
		name     string
		opts     fixtureOpts
		url      func(f *fixture) string
		fault    *webhookfake.Fault
		attempts int
		want     string
		status   int
	}{
		{"4xx not retried", fixtureOpts{}, func(f *fixture) string { return f.recv.URL() }, &webhookfake.Fault{Status: 400}, 1, "answered HTTP 400", 400},
		{"private address blocked", fixtureOpts{noAllow: true}, func(f *fixture) string { return f.recv.URL() }, nil, 1, "private", 0},
		{"plain http refused", fixtureOpts{noAllow: true}, func(f *fixture) string { return "http://hooks.example.com/" }, nil, 1, "not https", 0},
		{"redirect to metadata", fixtureOpts{}, func(f *fixture) string { return redirect.URL }, nil, 1, "private", 0},
		{"huge answer", fixtureOpts{}, func(f *fixture) string { return big.URL }, nil, 1, "larger than", 0},
		{"huge chunked 200", fixtureOpts{}, func(f *fixture) string { return bigChunked.URL }, nil, 1, "HTTP 200 with a body larger than", 200},
		{"408 not retried", fixtureOpts{}, func(f *fixture) string { return f.recv.URL() }, &webhookfake.Fault{Status: 408}, 1, "answered HTTP 408", 408},
		{"tls not trusted", fixtureOpts{noRoots: true}, func(f *fixture) string { return f.recv.URL() }, nil, 1, "TLS failed", 0},
		{"dead url", fixtureOpts{maxAttempts: 2}, func(f *fixture) string { return deadURL }, nil, 2, "could not be reached", 0},
		{"slow server", fixtureOpts{maxAttempts: 2, timeout: 2 * time.Second}, func(f *fixture) string { return f.recv.URL() },
			&webhookfake.Fault{Delay: 8 * time.Second}, 2, "timeout", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // each has its own store, queue and receiver
			f := newFixture(t, "sqlite", tc.opts)
			if tc.fault != nil {
				f.recv.InjectFaults(*tc.fault, *tc.fault)
			}
			p := f.playbook("Ticket", accessbot.PlaybookRequest, tc.url(f), nil)
			runs, err := f.svc.Emit(context.Background(), f.tenant.ID, requestEvent("r9", "denied"))
			if err != nil || len(runs) != 1 {
				t.Fatalf("emit: %v, %d runs", err, len(runs))
			}
			run := f.waitRun(runs[0].ID)
			if run.Status != accessbot.RunFailed || run.Attempts != tc.attempts || !strings.Contains(run.Error, tc.want) || run.ResponseStatus != tc.status {
				t.Fatalf("run = status %s attempts %d http %d error %q; want failed after %d with %q", run.Status, run.Attempts, run.ResponseStatus, run.Error, tc.attempts, tc.want)
			}
			if strings.Contains(run.Error, testToken.Reveal()) {
				t.Fatal("token in the error")
			}
			f.reporter.wait(t, run.ID)
			time.Sleep(50 * time.Millisecond)
			if n := f.reporter.count(run.ID); n != 1 {
				t.Fatalf("reported %d times; want once", n)
			}
			entries, _ := f.st.ListAudit(context.Background(), f.tenant.ID, p.ID)
			if len(entries) != 1 || entries[0].Action != playbooks.ActionFailed {
				t.Fatalf("audit = %+v", entries)
			}
		})
	}
}

// A delivery queued while no worker runs survives a restart: the next
// queue on the same database delivers it.
func TestPendingDeliverySurvivesRestart(t *testing.T) {
	f := newFixture(t, "sqlite", fixtureOpts{noStart: true})
	f.playbook("Ticket", accessbot.PlaybookRequest, f.recv.URL(), nil)
	runs, err := f.svc.Emit(context.Background(), f.tenant.ID, requestEvent("r1", "created"))
	if err != nil || len(runs) != 1 {
		t.Fatalf("emit: %v, %d runs", err, len(runs))
	}
	time.Sleep(100 * time.Millisecond)
	if n := len(f.recv.Deliveries()); n != 0 {
		t.Fatalf("%d deliveries with no worker running", n)
	}
	q := f.newQueue() // a new process on the same database
	f.svc.SetEnqueuer(q)
	f.start(q)
	if run := f.waitRun(runs[0].ID); run.Status != accessbot.RunDelivered {
		t.Fatalf("run = %+v", run)
	}
}

// A playbook disabled after its event was queued does not fire.
func TestDisabledAfterQueueNeverFires(t *testing.T) {
	f := newFixture(t, "sqlite", fixtureOpts{noStart: true})
	p := f.playbook("Ticket", accessbot.PlaybookRequest, f.recv.URL(), nil)
	runs, err := f.svc.Emit(context.Background(), f.tenant.ID, requestEvent("r1", "created"))
	if err != nil || len(runs) != 1 {
		t.Fatalf("emit: %v, %d runs", err, len(runs))
	}
	p.Active = false
	if err := f.st.UpdatePlaybook(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	f.start(f.queue)
	run := f.waitRun(runs[0].ID)
	if run.Status != accessbot.RunFailed || run.Attempts != 0 || !strings.Contains(run.Error, "disabled") {
		t.Fatalf("run = %+v", run)
	}
	if n := len(f.recv.Deliveries()); n != 0 {
		t.Fatalf("%d deliveries from a disabled playbook", n)
	}
}
