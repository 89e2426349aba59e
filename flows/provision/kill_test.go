package provision_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/connectors/webhook"
	"github.com/accessbot/accessbot/connectors/webhook/webhookfake"
	"github.com/accessbot/accessbot/flows/provision"
	"github.com/accessbot/accessbot/internal/testenv"
	"github.com/accessbot/accessbot/jobs"
	"github.com/accessbot/accessbot/store/backend"
)

// The kill test's child: this test binary re-executed as a worker process.
const (
	killChildEnv  = "ACCESSBOT_PROVISION_KILL_CHILD"
	killDriverEnv = "ACCESSBOT_PROVISION_KILL_DRIVER"
	killDSNEnv    = "ACCESSBOT_PROVISION_KILL_DSN"
	killURLEnv    = "ACCESSBOT_PROVISION_KILL_URL"
	// killsEnv sets the number of kills (default 30), for a quick local run.
	killsEnv = "ACCESSBOT_PROVISION_KILLS"
)

func TestMain(m *testing.M) {
	if os.Getenv(killChildEnv) == "1" {
		if err := killChild(); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// webhookRunner sends each step as a webhook whose id is the step's key:
// the receiver recognises a step sent again after a crash.
func webhookRunner(url string) provision.Runner {
	c := webhook.New(http.DefaultClient, zerolog.Nop())
	return provision.RunnerFunc(func(ctx context.Context, s provision.Step) (provision.Result, error) {
		_, err := c.Send(ctx, webhook.Endpoint{Name: s.Provider, URL: url}, webhook.Message{ID: s.Key, Type: "access." + s.Op,
			Timestamp: time.Unix(1_700_000_000, 0), Data: s.Params})
		if err != nil {
			return provision.Result{}, err
		}
		return provision.Result{Note: "sent"}, nil
	})
}

func killChild() error {
	ctx := context.Background()
	driver := os.Getenv(killDriverEnv)
	st, err := backend.Open(ctx, driver, os.Getenv(killDSNEnv), zerolog.Nop())
	if err != nil {
		return err
	}
	db := st.(interface{ DB() *sql.DB })
	eng := provision.New(provision.Config{Store: st, StepAttempts: 100, Backoff: func(int) time.Duration { return 50 * time.Millisecond }, Log: zerolog.Nop()})
	eng.RegisterProvider(provision.KindWebhook, "", webhookRunner(os.Getenv(killURLEnv)))
	workers := river.NewWorkers()
	eng.AddWorkers(workers)
	q, err := jobs.New(jobs.Config{Driver: driver, DB: db.DB(), Workers: workers, PollInterval: 50 * time.Millisecond,
		Timeout: 2 * time.Second, RescueAfter: 2 * time.Second, Log: zerolog.Nop()})
	if err != nil {
		return err
	}
	eng.SetQueue(q)
	if err := q.Start(ctx); err != nil {
		return err
	}
	select {} // until killed
}

// TestKillDuringFlows SIGKILLs a worker process running provisioning flows
// at random moments, 30 times, on SQLite and PostgreSQL, while flows are
// started; then lets the last one finish. Every flow must end done, and
// every step's webhook (its id: the step's key) must take effect exactly
// once at the receiver, however often a crash made it be sent again.
func TestKillDuringFlows(t *testing.T) {
	kills := 30
	if n, err := strconv.Atoi(os.Getenv(killsEnv)); err == nil && n > 0 {
		kills = n
	}
	drivers := []string{backend.SQLite}
	if testenv.PostgresAvailable(t) {
		drivers = append(drivers, backend.Postgres)
	}
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) { killFlows(t, driver, kills) })
	}
}

func killFlows(t *testing.T, driver string, kills int) {
	ctx := context.Background()
	recv, err := webhookfake.NewServer(webhookfake.Options{}, false)
	must(t, err)
	t.Cleanup(recv.Close)
	dsn := "file:" + filepath.Join(t.TempDir(), "accessbot.db")
	if driver == backend.Postgres {
		dsn = testenv.PostgresDSN(t)
	}
	st, err := backend.Open(ctx, driver, dsn, zerolog.Nop())
	must(t, err)
	t.Cleanup(func() { _ = st.Close() })
	eng := provision.New(provision.Config{Store: st, Log: zerolog.Nop()})
	workers := river.NewWorkers()
	eng.AddWorkers(workers)
	q, err := jobs.New(jobs.Config{Driver: driver, DB: st.(interface{ DB() *sql.DB }).DB(), Workers: workers, Log: zerolog.Nop()})
	must(t, err)
	eng.SetQueue(q) // inserts only: the child works the jobs

	ten := &accessbot.Tenant{Slug: "kill", Name: "Kill"}
	must(t, st.CreateTenant(ctx, ten))
	u := &accessbot.User{TenantID: ten.ID, Email: "u@example.com", Name: "U", Status: accessbot.UserActive}
	must(t, st.CreateUser(ctx, u))
	steps := []accessbot.ActionScript{
		{Type: "hr_webhook_create", Params: map[string]string{"user": "{{.Target.Email}}"}},
		{Type: "hr_webhook_add", Params: map[string]string{"group": "{{.Connection.Name}}"}},
		{Type: "hr_webhook_notify", Params: map[string]string{"request": "{{.Request.ID}}"}},
	}
	app := &accessbot.Application{TenantID: ten.ID, Name: "HR", Provisioning: map[string]accessbot.ActionChain{"group": {Provision: steps}}}
	must(t, st.CreateApplication(ctx, app))

	env := append(os.Environ(), killChildEnv+"=1", killDriverEnv+"="+driver, killDSNEnv+"="+dsn, killURLEnv+"="+recv.URL())
	logPath := filepath.Join(t.TempDir(), "child.log")
	start := func() *exec.Cmd {
		lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		must(t, err)
		defer lf.Close()
		c := exec.Command(os.Args[0], "-test.run=^$")
		c.Env, c.Stdout, c.Stderr = env, lf, lf
		must(t, c.Start())
		return c
	}
	var flows []string
	newFlow := func(i int) {
		conn := &accessbot.Connection{TenantID: ten.ID, AppID: app.ID, Name: "g" + strconv.Itoa(i), Type: "group"}
		must(t, st.CreateConnection(ctx, conn))
		now := time.Now().UTC()
		r := &accessbot.AccessRequest{TenantID: ten.ID, Kind: accessbot.RequestUserAccess, RequesterID: u.ID, TargetUserID: u.ID,
			AppID: app.ID, ConnectionID: conn.ID, Status: accessbot.StatusApproved, DecidedAt: &now,
			Levels: []accessbot.ApprovalLevel{{Approvers: []accessbot.Approver{{Kind: accessbot.ApproverOwners}}, Rule: accessbot.RuleAny}}}
		must(t, st.CreateRequest(ctx, r))
		must(t, eng.Provision(ctx, r))
		flows = append(flows, provision.FlowKey(provision.Provision, r.ID))
	}

	for i := range kills {
		c := start()
		newFlow(i)
		time.Sleep(time.Duration(100+rand.IntN(900)) * time.Millisecond)
		_ = c.Process.Signal(syscall.SIGKILL)
		_ = c.Wait()
	}
	c := start()
	t.Cleanup(func() { _ = c.Process.Signal(syscall.SIGKILL); _ = c.Wait() })

	deadline := time.Now().Add(4 * time.Minute)
	for _, key := range flows {
		for {
			f, err := st.GetActionFlowByKey(ctx, ten.ID, key)
			must(t, err)
			if f.Status == accessbot.FlowDone {
				break
			}
			if f.Status == accessbot.FlowFailed || time.Now().After(deadline) {
				log, _ := os.ReadFile(logPath)
				left, _ := q.Client().JobList(ctx, river.NewJobListParams().First(100).States(rivertype.JobStateAvailable,
					rivertype.JobStateRunning, rivertype.JobStateRetryable, rivertype.JobStateScheduled, rivertype.JobStateDiscarded))
				var jobs []string
				for _, j := range left.Jobs {
					jobs = append(jobs, fmt.Sprintf("%s %s attempt %d %s", j.Kind, j.State, j.Attempt, j.EncodedArgs))
				}
				t.Fatalf("flow %s: %s, steps %+v\njobs left: %v\nchild log:\n%s", key, f.Status, f.Steps, jobs, log)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	attempts, dups := 0, 0
	for _, key := range flows {
		f, err := st.GetActionFlowByKey(ctx, ten.ID, key)
		must(t, err)
		for i := range f.Steps {
			id := f.ID + "_" + strconv.Itoa(i)
			if n := recv.Processed(id); n != 1 {
				t.Errorf("step %s took effect %d times, want once", id, n)
			}
			attempts += recv.Attempts(id)
			dups += recv.Attempts(id) - 1
		}
	}
	t.Logf("[counts] provision kill on %s: kills %d, flows %d, steps %d, deliveries %d, sent again after a kill %d, each step took effect once",
		driver, kills, len(flows), len(flows)*len(steps), attempts, dups)
}
