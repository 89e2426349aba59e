package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/accessbot/accessbot/flows/schedule"
	"github.com/accessbot/accessbot/internal/config"
	"github.com/accessbot/accessbot/internal/logging"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/backend"
)

// Main is the program as a value, so end-to-end tests start it for real,
// in process, with their own output, environment and arguments.
type Main struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Env is the only door to the environment: config.Load reads it.
	Env config.LookupEnv
	// Now is the clock handed to everything that schedules.
	Now func() time.Time
	// Version and Commit are printed by `version` and logged at start.
	Version, Commit string
	// IsTerminal reports whether w is a terminal: log.format auto then
	// logs for people instead of JSON.
	IsTerminal func(w io.Writer) bool

	configPath string        // --config
	settings   []settingFlag // flags that set config keys (--listen, --log-format…)
	console    bool          // the logger writes for people (log.format console)
	// schedulerStarted, when set, is handed the scheduler `run` builds,
	// before it starts (the playground ticks it after moving its clock).
	schedulerStarted func(*schedule.Scheduler)

	mu        sync.Mutex
	httpAddr  string
	adminAddr string
	ready     chan struct{} // closed once `run` is serving HTTP
}

// NewMain returns a Main wired to the real process: stdio, os.LookupEnv,
// time.Now and the build's version.
func NewMain() *Main {
	v, c := buildVersion()
	return &Main{
		Stdin:      os.Stdin,
		Stdout:     os.Stdout,
		Stderr:     os.Stderr,
		Env:        os.LookupEnv,
		Now:        time.Now,
		Version:    v,
		Commit:     c,
		IsTerminal: isTerminal,
		ready:      make(chan struct{}),
	}
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// Run executes the command line args (without the program name) until it
// finishes or ctx is cancelled (SIGINT/SIGTERM in main).
func (m *Main) Run(ctx context.Context, args []string) error {
	root := m.rootCommand()
	root.SetArgs(args)
	root.SetIn(m.Stdin)
	root.SetOut(m.Stdout)
	root.SetErr(m.Stderr)
	return root.ExecuteContext(ctx)
}

func (m *Main) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "accessbot",
		Short: "Slack-first identity governance: access requests, approvals, reviews",
		Long: `accessbot is a self-hosted Slack bot for access requests, approval chains,
access reviews and findings.

Configuration comes from --config FILE (see config.example.yaml), then from
ACCESSBOT_<SECTION>_<KEY> environment variables, e.g. ACCESSBOT_SLACK_APP_TOKEN.
Without --config, defaults apply: an embedded SQLite store in ./accessbot.db
and health on http://127.0.0.1:8080/healthz.`,
		SilenceUsage:  true, // a failed command prints its error, not the usage
		SilenceErrors: true, // main prints it once
		Version:       m.Version,
	}
	root.SetVersionTemplate(m.versionLine() + "\n")
	root.PersistentFlags().StringVar(&m.configPath, "config", "", "YAML config `FILE` (default: built-in defaults + ACCESSBOT_* environment)")
	m.settingFlags(root.PersistentFlags(),
		setting{"log-level", "log.level", "`LEVEL`: debug, info, warn or error"},
		setting{"log-format", "log.format", "`FORMAT`: auto (console on a terminal, else json), json or console"},
	)
	root.AddCommand(
		m.runCommand(),
		m.migrateCommand(),
		m.versionCommand(),
		m.manifestCommand(),
		m.applyCommand(),
		m.importCommand(),
		m.findingsCommand(),
		m.installLinkCommand(),
		m.playgroundCommand(),
		m.healthcheckCommand(),
		m.secretsCommand(),
		m.backupCommand(),
		m.syncCommand(),
		m.connectorsCommand(),
		m.reportCommand(),
		m.explainCommand(),
		// Other commands (apply, import, manifest, findings…) are added here,
		// each built by a method in its own file.
	)
	// Every command that opens the store can be pointed at one.
	for _, c := range root.Commands() {
		switch c.Name() {
		case "run", "migrate", "apply", "import", "findings", "install-link", "secrets", "backup", "sync", "connectors", "report", "explain":
			m.settingFlags(c.PersistentFlags(), storeSettings...)
		}
	}
	return root
}

// storeSettings are the flags that choose the store.
var storeSettings = []setting{
	{"store-driver", "store.driver", "`DRIVER`: sqlite (embedded) or postgres"},
	{"store-dsn", "store.dsn", "database `DSN`, e.g. file:accessbot.db or postgres://…; other users of the machine can see flags, so prefer the environment for a password"},
}

// loadConfig loads --config (or defaults) with m.Env overrides, then the
// settings flags given on the command line, validated.
func (m *Main) loadConfig() (*config.Config, error) {
	return config.Load(m.configPath, m.Env, m.givenSettings()...)
}

// logger builds the process logger from cfg, writing to m.Stderr: for
// people on a terminal, JSON for services (log.format auto).
func (m *Main) logger(cfg *config.Config) (zerolog.Logger, error) {
	terminal := m.IsTerminal != nil && m.IsTerminal(m.Stderr)
	format := logging.Resolve(cfg.Log.Format, terminal)
	log, err := logging.New(cfg.Log.Level, format, m.Stderr)
	if err != nil {
		return log, fmt.Errorf("build logger: %w", err)
	}
	m.console = format == "console"
	return log, nil
}

// boot is what every command needs first: the config and a logger.
func (m *Main) boot() (*config.Config, zerolog.Logger, error) {
	cfg, err := m.loadConfig()
	if err != nil {
		return nil, zerolog.Nop(), err
	}
	log, err := m.logger(cfg)
	if err != nil {
		return nil, zerolog.Nop(), err
	}
	return cfg, log, nil
}

// openStore opens the configured store and applies pending migrations.
func (m *Main) openStore(ctx context.Context, cfg *config.Config, log zerolog.Logger) (store.Store, error) {
	st, err := backend.Open(ctx, cfg.Store.Driver, cfg.Store.DSN.Reveal(), log, backend.WithClock(m.Now))
	if err != nil {
		return nil, fmt.Errorf("open %s store (store.driver, store.dsn): %w", cfg.Store.Driver, err)
	}
	return st, nil
}

// setReady records the HTTP addresses and tells waiters `run` is serving.
func (m *Main) setReady(addr, adminAddr string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.httpAddr, m.adminAddr = addr, adminAddr
	close(m.ready)
}

// Ready is closed once `run` serves HTTP; HTTPAddr then says where.
func (m *Main) Ready() <-chan struct{} { return m.ready }

// HTTPAddr is the address `run` serves on, "" before Ready.
func (m *Main) HTTPAddr() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.httpAddr
}

// AdminAddr is the admin address `run` serves on, "" before Ready or without
// http.admin_listen.
func (m *Main) AdminAddr() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.adminAddr
}
