package bot

import (
	"net/http"
	"testing"

	"github.com/accessbot/accessbot/internal/secrets"
	"github.com/accessbot/accessbot/store/storetest"
)

// TestAppKeepsAConnectionPerWorker: with no HTTP client configured, the
// Web API, response_url and socket clients share one transport that keeps
// an idle connection per worker to a host (http.DefaultTransport keeps 2,
// so busy workers dialled slack.com again on most calls).
func TestAppKeepsAConnectionPerWorker(t *testing.T) {
	for _, workers := range []int{0, 100} {
		app, err := NewApp(AppConfig{Store: storetest.Open(t, "sqlite"), AppToken: secrets.Secret("xapp-1"), Workers: workers,
			Register: func(*Router, Resolver) error { return nil }})
		if err != nil {
			t.Fatal(err)
		}
		resp, sock := app.Dispatcher.cfg.HTTPClient, app.Manager.cfg.HTTPClient
		tr, ok := resp.Transport.(*http.Transport)
		if !ok || sock.Transport != resp.Transport {
			t.Fatalf("workers %d: response_url transport %T, socket transport shared: %v", workers, resp.Transport, sock.Transport == resp.Transport)
		}
		want := max(workers, DefaultWorkers)
		t.Logf("[counts] workers %d: %d idle connections per host, timeouts %s / %s", workers, tr.MaxIdleConnsPerHost, resp.Timeout, sock.Timeout)
		if tr.MaxIdleConnsPerHost < want || resp.Timeout <= 0 || sock.Timeout <= 0 {
			t.Errorf("workers %d: %d idle connections per host (want >= %d), timeouts %s / %s (want both set)", workers, tr.MaxIdleConnsPerHost, want, resp.Timeout, sock.Timeout)
		}
	}
}
