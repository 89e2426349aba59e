package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"path/filepath"
	"time"

	"github.com/riverqueue/river"
	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/flows/requests/requestjobs"
	"github.com/accessbot/accessbot/jobs"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/backend"
)

// Slack ids of the people in every run.
const (
	teamID        = "T0LOAD"
	approverSlack = "UEVE"
	ownerSlack    = "UOLLY"
)

func userSlack(i int) string      { return fmt.Sprintf("U%04d", i) }
func requesterSlack(i int) string { return fmt.Sprintf("UR%04d", i) }

// world is one run's fake Slack, and for accessbot its store: a fresh
// SQLite file or PostgreSQL schema, seeded with one tenant bound to the
// fake's workspace, linked users, and an application whose one approval
// level is Eve.
type world struct {
	fake  *slackfake.Server
	team  slackfake.Team
	users []string // Slack ids sending the envelope mix

	// accessbot runs only
	driver, dsn string
	pgAdmin     *sql.DB // PostgreSQL runs: to find the bot's backends
	pgApp       string  // the application_name the bot's connections carry
	st          store.Store
	svc         *requests.Service
	tenant      string
	eve         *accessbot.User
	requesters  []*accessbot.User
	app         *accessbot.Application
	conn        *accessbot.Connection
	cleanup     []func()
}

func (w *world) close() {
	for i := len(w.cleanup) - 1; i >= 0; i-- {
		w.cleanup[i]()
	}
}

// newWorld starts the fake Slack, which redelivers an envelope not acked
// within 3 s, at most 3 times, as Slack does.
func newWorld(users, requesters int) *world {
	fake := slackfake.New(slackfake.WithPingInterval(10*time.Second), slackfake.WithAckTimeout(3*time.Second))
	w := &world{fake: fake, cleanup: []func(){fake.Close}}
	w.team = fake.AddTeam(slackfake.Team{ID: teamID, Name: "Acme"})
	add := func(id, email string) {
		if _, err := fake.AddUser(slackfake.User{ID: id, TeamID: teamID, Name: id, Email: email}); err != nil {
			panic(err) // fixed, valid users: cannot fail
		}
	}
	add(approverSlack, "eve@acme.test")
	add(ownerSlack, "olly@acme.test")
	for i := range users {
		add(userSlack(i), fmt.Sprintf("user%d@acme.test", i))
		w.users = append(w.users, userSlack(i))
	}
	for i := range requesters {
		add(requesterSlack(i), fmt.Sprintf("r%d@acme.test", i))
	}
	return w
}

func randomSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// openStore creates the run's store: a SQLite file in dir, or a fresh
// schema of the PostgreSQL database at pgDSN (dropped on close).
func (w *world) openStore(ctx context.Context, driver, dir, pgDSN, warmIDs string) error {
	w.driver = driver
	var ownDSN string // loadgen's own connections
	switch driver {
	case backend.SQLite:
		w.dsn = "file:" + filepath.Join(dir, "accessbot.db")
		ownDSN = w.dsn
	case backend.Postgres:
		admin, err := sql.Open("pgx", pgDSN)
		if err != nil {
			return fmt.Errorf("open postgres: %w", err)
		}
		schema := "loadgen_" + randomSuffix()
		if _, err := admin.ExecContext(ctx, `CREATE SCHEMA "`+schema+`"`); err != nil {
			admin.Close()
			return fmt.Errorf("create schema %s: %w", schema, err)
		}
		w.cleanup = append(w.cleanup, func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, _ = admin.ExecContext(ctx, `DROP SCHEMA "`+schema+`" CASCADE`)
			admin.Close()
		})
		u, err := url.Parse(pgDSN)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			return fmt.Errorf("-pg-dsn must be a postgres:// URL")
		}
		q := u.Query()
		q.Set("search_path", schema)
		// Names the bot's backends in pg_stat_activity, to count their CPU;
		// loadgen's own (seeding, reading the Home version) are named apart.
		q.Set("application_name", schema+"_loadgen")
		u.RawQuery = q.Encode()
		ownDSN = u.String()
		q.Set("application_name", schema)
		u.RawQuery = q.Encode()
		w.pgAdmin, w.pgApp = admin, schema
		w.dsn = u.String()
	default:
		return fmt.Errorf("unknown store %q (want sqlite or postgres)", driver)
	}
	st, err := backend.Open(ctx, driver, ownDSN, zerolog.Nop())
	if err != nil {
		return err
	}
	w.st = st
	w.cleanup = append(w.cleanup, func() { st.Close() })
	return w.seed(ctx, warmIDs)
}

// -warm-ids: the Slack ids (slack_ids) stored for the linked users.
const (
	warmIDsNone  = "none"
	warmIDsStale = "stale"
	warmIDsFresh = "fresh"
)

// warmIDsAge is how long before the run a stale Slack id was verified:
// past the identity cache TTL (10 m), within the daily refresh.
const warmIDsAge = time.Hour

func (w *world) seed(ctx context.Context, warmIDs string) error {
	st := w.st
	ten := &accessbot.Tenant{Slug: "acme", Name: "Acme"}
	if err := st.CreateTenant(ctx, ten); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	w.tenant = ten.ID
	if err := st.BindWorkspace(ctx, &accessbot.Workspace{TenantID: ten.ID, TeamID: teamID, TeamName: "Acme"}); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	verified := time.Now()
	if warmIDs == warmIDsStale {
		verified = verified.Add(-warmIDsAge)
	}
	user := func(email, name, slackID string, role accessbot.Role) (*accessbot.User, error) {
		u := &accessbot.User{TenantID: ten.ID, Status: accessbot.UserActive, Role: role, Email: email, Name: name}
		if err := st.CreateUser(ctx, u); err != nil {
			return nil, fmt.Errorf("seed user %s: %w", email, err)
		}
		if warmIDs != warmIDsNone {
			if err := st.PutSlackID(ctx, &store.SlackID{TenantID: ten.ID, UserID: u.ID, TeamID: teamID, SlackUserID: slackID,
				Email: email, VerifiedAt: verified}); err != nil {
				return nil, fmt.Errorf("seed the Slack id of %s: %w", email, err)
			}
		}
		return u, nil
	}
	var err error
	if w.eve, err = user("eve@acme.test", "Eve", approverSlack, accessbot.RoleMember); err != nil {
		return err
	}
	olly, err := user("olly@acme.test", "Olly", ownerSlack, accessbot.RoleAdmin)
	if err != nil {
		return err
	}
	for i := range w.users {
		if _, err := user(fmt.Sprintf("user%d@acme.test", i), userSlack(i), userSlack(i), accessbot.RoleMember); err != nil {
			return err
		}
	}
	w.app = &accessbot.Application{TenantID: ten.ID, Name: "GitLab", Connector: "gitlab", PrimaryOwnerID: olly.ID, MaxDuration: 24 * time.Hour}
	if err := st.CreateApplication(ctx, w.app); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	w.conn = &accessbot.Connection{TenantID: ten.ID, AppID: w.app.ID, Name: "developers", Type: "group"}
	if err := st.CreateConnection(ctx, w.conn); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	if err := st.UpsertApprovalChain(ctx, &accessbot.ApprovalChain{TenantID: ten.ID, Name: "default",
		Levels: []accessbot.ApprovalLevel{{Rule: accessbot.RuleAny, Approvers: []accessbot.Approver{{Kind: accessbot.ApproverUser, UserID: w.eve.ID}}}}}); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	// Requests are created here, as the Slack handlers would, with their
	// jobs in the store's queue; only the bot works them.
	workers := river.NewWorkers()
	requestjobs.AddWorkers(workers, func(context.Context, requests.Job) error { return nil }, nil, zerolog.Nop())
	q, err := jobs.New(jobs.Config{Driver: w.driver, DB: st.(interface{ DB() *sql.DB }).DB(), Workers: workers, Log: zerolog.Nop()})
	if err != nil {
		return fmt.Errorf("seed: job queue: %w", err)
	}
	w.svc = requests.New(st, nil, nil, nil, requests.Policy{}, zerolog.Nop(), requests.WithEnqueuer(requestjobs.NewEnqueuer(q)))
	return nil
}

// addRequesters links n more people who each ask for access once.
func (w *world) addRequesters(ctx context.Context, n int) error {
	for i := range n {
		u := &accessbot.User{TenantID: w.tenant, Status: accessbot.UserActive, Role: accessbot.RoleMember,
			Email: fmt.Sprintf("r%d@acme.test", i), Name: fmt.Sprintf("R%d", i)}
		if err := w.st.CreateUser(ctx, u); err != nil {
			return fmt.Errorf("seed requester %d: %w", i, err)
		}
		w.requesters = append(w.requesters, u)
	}
	return nil
}

// accessbotEnv is `accessbot run`'s whole configuration: the defaults,
// but for where Slack and the store are and a quieter log.
func (w *world) accessbotEnv(adminAddr string, pprof bool) []string {
	env := []string{
		"ACCESSBOT_HTTP_LISTEN=127.0.0.1:0",
		"ACCESSBOT_STORE_DRIVER=" + w.driver,
		"ACCESSBOT_STORE_DSN=" + w.dsn,
		"ACCESSBOT_SLACK_APP_TOKEN=" + w.fake.AppToken(),
		"ACCESSBOT_SLACK_BOT_TOKEN=" + w.team.BotToken,
		"ACCESSBOT_SLACK_TENANT=acme",
		"ACCESSBOT_SLACK_API_URL=" + w.fake.URL(),
		"ACCESSBOT_LOG_LEVEL=warn",
		"ACCESSBOT_LOG_FORMAT=json",
	}
	if adminAddr != "" {
		env = append(env, "ACCESSBOT_HTTP_ADMIN_LISTEN="+adminAddr)
	}
	if pprof {
		env = append(env, "ACCESSBOT_HTTP_PPROF=true")
	}
	return env
}

func (w *world) barebotEnv() []string {
	return []string{"BAREBOT_APP_TOKEN=" + w.fake.AppToken(), "BAREBOT_API_URL=" + w.fake.URL()}
}

// requestsInput is requester i's request for the developers group.
func requestsInput(w *world, i int) requests.UserAccess {
	return requests.UserAccess{TenantID: w.tenant, RequesterID: w.requesters[i].ID, AppID: w.app.ID,
		ConnectionID: w.conn.ID, Duration: time.Hour, Justification: "Load test."}
}

// pgBackends is the CPU time so far of each PostgreSQL backend serving the
// bot (by application_name); nil for SQLite. Reading /proc needs the server
// on this machine; a backend whose /proc cannot be read is left out.
func (w *world) pgBackends(ctx context.Context) (map[int]time.Duration, error) {
	if w.pgAdmin == nil {
		return nil, nil
	}
	rows, err := w.pgAdmin.QueryContext(ctx, `SELECT pid FROM pg_stat_activity WHERE application_name = $1`, w.pgApp)
	if err != nil {
		return nil, fmt.Errorf("list the bot's PostgreSQL backends: %w", err)
	}
	defer rows.Close()
	out := map[int]time.Duration{}
	for rows.Next() {
		var pid int
		if err := rows.Scan(&pid); err != nil {
			return nil, fmt.Errorf("list the bot's PostgreSQL backends: %w", err)
		}
		if t, err := cpuTime(pid); err == nil {
			out[pid] = t
		}
	}
	return out, rows.Err()
}

// backendCPU is the CPU the backends used between two pgBackends readings;
// a backend started in between counts from zero. Backends that ended in
// between are missed (the bot keeps its idle connections for 5 minutes).
func backendCPU(before, after map[int]time.Duration) time.Duration {
	var d time.Duration
	for pid, t := range after {
		d += t - before[pid]
	}
	return d
}
