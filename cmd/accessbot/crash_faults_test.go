package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/flows/requests/requestjobs"
	"github.com/accessbot/accessbot/jobs"
	"github.com/accessbot/accessbot/store"
)

// childEnv marks a re-executed test binary that is to run `accessbot run`.
const childEnv = "ACCESSBOT_TEST_RUN_CHILD"

// TestMain lets the crash test run the real `accessbot run` as a separate
// process it can kill: the test binary re-executes itself with childEnv
// set and runs main's code path (NewMain().Run with the process's real
// environment and signals), not a test double.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := NewMain().Run(ctx, os.Args[1:])
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, "accessbot:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// child is one `accessbot run` process, restarted after each kill; its
// output goes to a log file in the test's temp dir.
type child struct {
	t    *testing.T
	env  []string
	log  string
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	runs int
}

func newChild(t *testing.T, env map[string]string) *child {
	c := &child{t: t, log: filepath.Join(t.TempDir(), "run.log")}
	c.env = append(os.Environ(), childEnv+"=1")
	for k, v := range env {
		c.env = append(c.env, k+"="+v)
	}
	t.Cleanup(func() { c.stop(syscall.SIGKILL) })
	return c
}

func (c *child) start() {
	c.t.Helper()
	f, err := os.OpenFile(c.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		c.t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "run")
	cmd.Env, cmd.Stdout, cmd.Stderr = c.env, f, f
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		f.Close()
		close(done)
	}()
	c.mu.Lock()
	c.cmd, c.done = cmd, done
	c.runs++
	c.mu.Unlock()
}

// stop sends sig and waits for the process to exit (SIGTERM: up to 30 s,
// then SIGKILL).
func (c *child) stop(sig syscall.Signal) {
	c.mu.Lock()
	cmd, done := c.cmd, c.done
	c.cmd = nil
	c.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// exited reports whether the running process ended by itself.
func (c *child) exited() bool {
	c.mu.Lock()
	done := c.done
	c.mu.Unlock()
	select {
	case <-done:
		return true
	default:
		return false
	}
}

// tail is the end of the child's log, for failure messages.
func (c *child) tail() string {
	b, _ := os.ReadFile(c.log)
	if len(b) > 60000 {
		b = b[len(b)-60000:]
	}
	return string(b)
}

// count is how many lines of the child's log (all its runs) contain s.
func (c *child) count(s string) int {
	b, _ := os.ReadFile(c.log)
	return strings.Count(string(b), s)
}

// outage makes the database unreachable for a while.
type outage interface {
	Cut(ctx context.Context, d time.Duration) error
}

// sqliteLock is the nearest honest outage of a SQLite file, which has no
// network to cut: another process takes the write lock (BEGIN IMMEDIATE)
// and holds it. The child's writes wait busy_timeout (10 s) and then fail;
// shorter holds stall every write (claims, records, River's) past the lease.
type sqliteLock struct{ db *sql.DB }

func (l sqliteLock) Cut(ctx context.Context, d time.Duration) error {
	conn, err := l.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return fmt.Errorf("take the write lock: %w", err)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	_, err = conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
	return err
}

// jobsLeft lists the River jobs of q not completed: waiting, running, or
// given up (discarded, cancelled), whose work would be lost.
func jobsLeft(ctx context.Context, q *jobs.Queue) []*rivertype.JobRow {
	res, err := q.Client().JobList(ctx, river.NewJobListParams().States(rivertype.JobStateAvailable, rivertype.JobStateRunning,
		rivertype.JobStateRetryable, rivertype.JobStateScheduled, rivertype.JobStatePending, rivertype.JobStateDiscarded,
		rivertype.JobStateCancelled).First(1000))
	if err != nil {
		return []*rivertype.JobRow{{Kind: "list failed: " + err.Error()}}
	}
	return res.Jobs
}

// describeJobs counts jobs per kind and state, then gives one line per job:
// attempts, snoozes, args and last error.
func describeJobs(jobs []*rivertype.JobRow) string {
	var b strings.Builder
	count := map[string]int{}
	for _, j := range jobs {
		count[j.Kind+" "+string(j.State)]++
	}
	for _, k := range slices.Sorted(maps.Keys(count)) {
		fmt.Fprintf(&b, "%d× %s\n", count[k], k)
	}
	for _, j := range jobs {
		last := ""
		if n := len(j.Errors); n > 0 {
			last = j.Errors[n-1].Error
		}
		var meta struct{ Snoozes int }
		_ = json.Unmarshal(j.Metadata, &meta)
		fmt.Fprintf(&b, "job %d %s %s attempt %d/%d snoozed %d scheduled %s args %s last error %q\n", j.ID, j.Kind, j.State,
			j.Attempt, j.MaxAttempts, meta.Snoozes, j.ScheduledAt.UTC().Format(time.TimeOnly), j.EncodedArgs, last)
	}
	return b.String()
}

// faultTenant is what the crash and replica tests set up alike: tenant acme
// bound to the fake Slack's team, Eve (every request's one approver), Olly
// (GitLab's owner, asked by its manual provisioning step), the people who
// request, and the test's own requests service, which stores each change
// with its jobs as the Slack handlers do; only the `accessbot run`
// processes work them.
type faultTenant struct {
	tenant    string
	eve, olly *accessbot.User
	people    []*accessbot.User // the i-th is Slack user faultPersonID(prefix, i)
	app       *accessbot.Application
	q         *jobs.Queue
	svc       *requests.Service
}

// faultPersonID is the Slack id of the i-th person of a prefix ("r": UR0000).
func faultPersonID(prefix string, i int) string {
	return fmt.Sprintf("U%s%04d", strings.ToUpper(prefix), i)
}

// seedFaultTenant makes the faultTenant in st and the fake Slack's team:
// Eve, Olly and n people (emails <prefix><i>@acme.test).
func seedFaultTenant(t *testing.T, ctx context.Context, fake *slackfake.Server, teamID string, st store.Store, driver, prefix string, n int) *faultTenant {
	t.Helper()
	for _, u := range []slackfake.User{{ID: "UEVE", TeamID: teamID, Name: "eve", Email: "eve@acme.test"},
		{ID: "UOLLY", TeamID: teamID, Name: "olly", Email: "olly@acme.test"}} {
		_, err := fake.AddUser(u)
		must(t, err)
	}
	for i := range n {
		_, err := fake.AddUser(slackfake.User{ID: faultPersonID(prefix, i), TeamID: teamID, Name: fmt.Sprintf("%s%d", prefix, i),
			Email: fmt.Sprintf("%s%d@acme.test", prefix, i)})
		must(t, err)
	}
	ft := &faultTenant{}
	ten := &accessbot.Tenant{Slug: "acme", Name: "Acme"}
	must(t, st.CreateTenant(ctx, ten))
	ft.tenant = ten.ID
	must(t, st.BindWorkspace(ctx, &accessbot.Workspace{TenantID: ten.ID, TeamID: teamID, TeamName: "Acme"}))
	user := func(email, name string) *accessbot.User {
		u := &accessbot.User{TenantID: ten.ID, Status: accessbot.UserActive, Role: accessbot.RoleMember, Email: email, Name: name}
		must(t, st.CreateUser(ctx, u))
		return u
	}
	ft.eve, ft.olly = user("eve@acme.test", "Eve"), user("olly@acme.test", "Olly")
	for i := range n {
		ft.people = append(ft.people, user(fmt.Sprintf("%s%d@acme.test", prefix, i), fmt.Sprintf("%s%d", strings.ToUpper(prefix), i)))
	}
	ft.app = &accessbot.Application{TenantID: ten.ID, Name: "GitLab", Connector: "gitlab", PrimaryOwnerID: ft.olly.ID, MaxDuration: 24 * time.Hour}
	must(t, st.CreateApplication(ctx, ft.app))
	must(t, st.UpsertApprovalChain(ctx, &accessbot.ApprovalChain{TenantID: ten.ID, Name: "default",
		Levels: []accessbot.ApprovalLevel{{Rule: accessbot.RuleAny, Approvers: []accessbot.Approver{{Kind: accessbot.ApproverUser, UserID: ft.eve.ID}}}}}))

	workers := river.NewWorkers()
	requestjobs.AddWorkers(workers, func(context.Context, requests.Job) error { return nil }, nil, zerolog.Nop())
	q, err := jobs.New(jobs.Config{Driver: driver, DB: st.(interface{ DB() *sql.DB }).DB(), Workers: workers, Log: zerolog.Nop()})
	must(t, err)
	ft.q = q
	ft.svc = requests.New(st, nil, nil, nil, requests.Policy{}, zerolog.Nop(), requests.WithEnqueuer(requestjobs.NewEnqueuer(q)))
	return ft
}

// faultEnv is the environment of an `accessbot run` of these tests: the
// store, the fake Slack's team as tenant acme, warnings logged, and jobs
// that time out after timeout and are rescued after rescue.
func faultEnv(driver, dsn string, fake *slackfake.Server, team slackfake.Team, timeout, rescue, lease time.Duration) map[string]string {
	return map[string]string{
		"ACCESSBOT_HTTP_LISTEN":     "127.0.0.1:0",
		"ACCESSBOT_STORE_DRIVER":    driver,
		"ACCESSBOT_STORE_DSN":       dsn,
		"ACCESSBOT_SLACK_APP_TOKEN": fake.AppToken(),
		"ACCESSBOT_SLACK_BOT_TOKEN": team.BotToken,
		"ACCESSBOT_SLACK_TENANT":    "acme",
		"ACCESSBOT_SLACK_API_URL":   fake.URL(),
		"ACCESSBOT_LOG_LEVEL":       "warn",
		"ACCESSBOT_JOBS_TIMEOUT":    timeout.String(),
		// Provisioning steps run inside jobs: at most the job timeout.
		"ACCESSBOT_JOBS_STEP_TIMEOUT":   (timeout / 2).String(),
		"ACCESSBOT_JOBS_RESCUE_AFTER":   rescue.String(),
		"ACCESSBOT_JOBS_DELIVERY_LEASE": lease.String(),
		"ACCESSBOT_JOBS_MAX_BACKOFF":    "1s",
		// The shared test server allows 100 connections: three replicas
		// keep 3 × (6 + 2 listening). SQLite ignores it.
		"ACCESSBOT_STORE_POOL_SIZE": "6",
	}
}
