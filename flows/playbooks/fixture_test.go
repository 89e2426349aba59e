package playbooks_test

import (
	"context"
	"crypto/x509"
	"database/sql"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/connectors/outbound"
	"github.com/accessbot/accessbot/connectors/webhook/webhookfake"
	"github.com/accessbot/accessbot/flows/playbooks"
	"github.com/accessbot/accessbot/internal/secrets"
	"github.com/accessbot/accessbot/jobs"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/storetest"
)

const (
	testToken   = secrets.Secret("tok-3f9a-very-secret")
	testSigning = secrets.Secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
)

// fixture is one tenant, its playbook service on a real job queue, and a
// TLS receiver (webhookfake) that checks the token and signature.
type fixture struct {
	t        *testing.T
	driver   string
	dsn      string // another process opens the same database with it
	st       store.Store
	tenant   *accessbot.Tenant
	keys     *secrets.Keyring
	svc      *playbooks.Service
	queue    *jobs.Queue
	recv     *webhookfake.Server
	roots    *x509.CertPool
	reporter *recordReporter
}

type fixtureOpts struct {
	timeout     time.Duration
	maxAttempts int
	noStart     bool
	noRoots     bool
	noAllow     bool
}

func newFixture(t *testing.T, driver string, o fixtureOpts) *fixture {
	t.Helper()
	st, dsn := storetest.OpenDSN(t, driver)
	ten := &accessbot.Tenant{Slug: "acme", Name: "Acme"}
	if err := st.CreateTenant(context.Background(), ten); err != nil {
		t.Fatal(err)
	}
	keys, err := secrets.NewKeyring(secrets.Key{ID: "k1", Key: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	recv, err := webhookfake.NewServer(webhookfake.Options{SigningSecrets: []secrets.Secret{testSigning}, Bearer: testToken}, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(recv.Close)
	f := &fixture{t: t, driver: driver, dsn: dsn, st: st, tenant: ten, keys: keys, recv: recv, reporter: &recordReporter{}}
	f.roots = recv.HTTPServer().Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	if !o.noAllow {
		f.allow("127.0.0.1")
	}
	httpOpts := outbound.Options{Timeout: o.timeout}
	if !o.noRoots {
		httpOpts.RootCAs = f.roots
	}
	f.svc = playbooks.New(playbooks.Config{Store: st, Keys: keys, HTTP: httpOpts, MaxAttempts: o.maxAttempts,
		RetryDelay: func(int) time.Duration { return 10 * time.Millisecond }, Reporter: f.reporter, Log: zerolog.Nop()})
	f.queue = f.newQueue()
	f.svc.SetEnqueuer(f.queue)
	if !o.noStart {
		f.start(f.queue)
	}
	return f
}

func (f *fixture) newQueue() *jobs.Queue {
	f.t.Helper()
	workers := river.NewWorkers()
	f.svc.AddWorkers(workers)
	db := f.st.(interface{ DB() *sql.DB }).DB()
	q, err := jobs.New(jobs.Config{Driver: f.driver, DB: db, Workers: workers, PollInterval: 20 * time.Millisecond, Log: zerolog.Nop()})
	if err != nil {
		f.t.Fatal(err)
	}
	return q
}

func (f *fixture) start(q *jobs.Queue) {
	f.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- q.Run(ctx, 5*time.Second) }()
	f.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			f.t.Errorf("job queue: %v", err)
		}
	})
}

func (f *fixture) allow(entries ...string) {
	f.t.Helper()
	if err := f.st.PutOutboundAllow(context.Background(), f.tenant.ID, entries); err != nil {
		f.t.Fatal(err)
	}
}

// playbook stores an active playbook with the fixture's token and signing secret.
func (f *fixture) playbook(name string, typ accessbot.PlaybookType, url string, mod func(*accessbot.Playbook)) *accessbot.Playbook {
	f.t.Helper()
	ctx := context.Background()
	p := &accessbot.Playbook{TenantID: f.tenant.ID, Name: name, Type: typ, URL: url, Active: true}
	if mod != nil {
		mod(p)
	}
	if err := f.st.CreatePlaybook(ctx, p); err != nil {
		f.t.Fatal(err)
	}
	p.TokenSecret, p.SigningSecret = playbooks.TokenSecretName(p.ID), playbooks.SigningSecretName(p.ID)
	for name, v := range map[string]secrets.Secret{p.TokenSecret: testToken, p.SigningSecret: testSigning} {
		if err := playbooks.PutSecret(ctx, f.st, f.keys, f.tenant.ID, name, v); err != nil {
			f.t.Fatal(err)
		}
	}
	if err := f.st.UpdatePlaybook(ctx, p); err != nil {
		f.t.Fatal(err)
	}
	return p
}

// waitRun waits until the run left pending and returns it.
func (f *fixture) waitRun(id string) *accessbot.PlaybookRun {
	f.t.Helper()
	deadline := time.Now().Add(90 * time.Second) // generous: -race on a loaded machine
	for {
		r, err := f.st.GetPlaybookRun(context.Background(), f.tenant.ID, id)
		if err != nil {
			f.t.Fatal(err)
		}
		if r.Status != accessbot.RunPending {
			return r
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("run %s still pending after 90s: status %s attempts %d error %q", id, r.Status, r.Attempts, r.Error)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// recordReporter records RunFinished calls.
type recordReporter struct {
	mu   sync.Mutex
	runs []accessbot.PlaybookRun
}

func (r *recordReporter) RunFinished(_ context.Context, _ *accessbot.Playbook, run *accessbot.PlaybookRun) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.runs = append(r.runs, *run)
	return nil
}

func (r *recordReporter) count(runID string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, x := range r.runs {
		if x.ID == runID {
			n++
		}
	}
	return n
}

func (r *recordReporter) wait(t *testing.T, runID string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for r.count(runID) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("run %s was never reported", runID)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
