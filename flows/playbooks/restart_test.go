package playbooks_test

import (
	"context"
	"crypto/x509"
	"database/sql"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
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
	"github.com/accessbot/accessbot/store/backend"
	"github.com/accessbot/accessbot/store/storetest"
)

// Environment of the delivery process TestPendingDeliverySurvivesKill starts.
const (
	envChildDriver = "PLAYBOOK_CHILD_DRIVER"
	envChildDSN    = "PLAYBOOK_CHILD_DSN"
	envChildRoots  = "PLAYBOOK_CHILD_ROOTS" // PEM file of the receiver's certificate
)

// A process working playbook deliveries is killed (SIGKILL, no shutdown)
// while a delivery waits for its retry; a new process on the same database
// delivers it, with the same event id, and the receiver processes it once.
func TestPendingDeliverySurvivesKill(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			f := newFixture(t, driver, fixtureOpts{noStart: true})
			f.playbook("Ticket", accessbot.PlaybookRequest, f.recv.URL(), nil)
			f.recv.InjectFaults(webhookfake.Fault{Status: 503})
			roots := filepath.Join(t.TempDir(), "roots.pem")
			cert := f.recv.HTTPServer().Certificate()
			must(t, os.WriteFile(roots, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o600))

			runs, err := f.svc.Emit(context.Background(), f.tenant.ID, requestEvent("r1", "created"))
			if err != nil || len(runs) != 1 {
				t.Fatalf("emit: %v, %d runs", err, len(runs))
			}
			first := startDeliveryProcess(t, f.driver, f.dsn, roots)
			// Attempt 1 got the 503 and was recorded; the job waits for its
			// retry (3 s). (Killed during an attempt instead, the job stays
			// "running" until River's rescuer takes it for dead: jobs.timeout
			// plus a minute.)
			db := f.st.(interface{ DB() *sql.DB }).DB()
			waitFor(t, "attempt 1 recorded and its retry scheduled", func() bool {
				r, err := f.st.GetPlaybookRun(context.Background(), f.tenant.ID, runs[0].ID)
				var state string
				_ = db.QueryRow(`SELECT state FROM river_job WHERE kind = 'playbook_deliver'`).Scan(&state)
				// A retry this soon is "available" with a later scheduled_at.
				return err == nil && r.Attempts == 1 && r.Status == accessbot.RunPending && (state == "retryable" || state == "available")
			})
			must(t, first.Process.Signal(syscall.SIGKILL))
			_ = first.Wait()
			if n := f.recv.Attempts(runs[0].EventID); n != 1 {
				t.Fatalf("%d attempts before the kill; want 1", n)
			}

			startDeliveryProcess(t, f.driver, f.dsn, roots) // the restart
			run := f.waitRun(runs[0].ID)
			if run.Status != accessbot.RunDelivered || run.Attempts != 2 {
				t.Fatalf("after the restart: %+v; want delivered at attempt 2", run)
			}
			ids := map[string]bool{}
			for _, d := range f.recv.Deliveries() {
				ids[d.ID] = true
			}
			if len(ids) != 1 || !ids[runs[0].EventID] || f.recv.Attempts(runs[0].EventID) != 2 || f.recv.Processed(runs[0].EventID) != 1 {
				t.Fatalf("ids %v, attempts %d, processed %d; want one id, two attempts, processed once",
					ids, f.recv.Attempts(runs[0].EventID), f.recv.Processed(runs[0].EventID))
			}
			t.Logf("%s: killed after attempt 1, delivered by the next process at attempt %d, event %s", driver, run.Attempts, run.EventID)
		})
	}
}

// startDeliveryProcess runs this test binary as a delivery process
// (TestDeliveryProcess) on the database at dsn; it is killed at cleanup
// if still running.
func startDeliveryProcess(t *testing.T, driver, dsn, roots string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestDeliveryProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), envChildDriver+"="+driver, envChildDSN+"="+dsn, envChildRoots+"="+roots)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	must(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd
}

// TestDeliveryProcess is the delivery process of
// TestPendingDeliverySurvivesKill: a playbook service working its jobs
// until it is killed. Run on its own, it skips.
func TestDeliveryProcess(t *testing.T) {
	driver, dsn := os.Getenv(envChildDriver), os.Getenv(envChildDSN)
	if dsn == "" {
		t.Skip("the child process of TestPendingDeliverySurvivesKill")
	}
	ctx := context.Background()
	st, err := backend.Open(ctx, driver, dsn, zerolog.Nop())
	must(t, err)
	pemData, err := os.ReadFile(os.Getenv(envChildRoots))
	must(t, err)
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pemData) {
		t.Fatal("no certificate in the roots file")
	}
	keys, err := secrets.NewKeyring(secrets.Key{ID: "k1", Key: make([]byte, 32)})
	must(t, err)
	svc := playbooks.New(playbooks.Config{Store: st, Keys: keys, HTTP: outbound.Options{Timeout: 30 * time.Second, RootCAs: roots},
		RetryDelay: func(int) time.Duration { return 3 * time.Second }, Log: zerolog.Nop()})
	workers := river.NewWorkers()
	svc.AddWorkers(workers)
	q, err := jobs.New(jobs.Config{Driver: driver, DB: st.(interface{ DB() *sql.DB }).DB(), Workers: workers,
		PollInterval: 20 * time.Millisecond, Log: zerolog.Nop()})
	must(t, err)
	svc.SetEnqueuer(q)
	err = q.Run(ctx, time.Second) // until killed
	t.Fatalf("the delivery process stopped: %v", err)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s after 90s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
