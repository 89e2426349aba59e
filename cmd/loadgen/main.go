// Command loadgen measures accessbot's Socket Mode acks side by side with a
// bare slack-go bot (cmd/loadgen/barebot) that only acks. Each runs as its
// own process against the same fake Slack (bot/slackfake over a real
// WebSocket), which runs in loadgen's process, so the fake's CPU is not
// counted against either bot.
//
// Every run starts a fresh fake (and, for accessbot, a fresh store) and the
// bot, sends the same envelope mix at a fixed rate for a fixed time — a
// third each of `/access help`, app_home_opened and block_actions on an
// unknown action — and reports, from the fake's records: ack p50/p99/max
// (first write of an envelope → first ack), lost (never acked, Slack's 3
// redeliveries included), late (first ack after 3 s), the bot's CPU time per
// envelope (/proc/PID/stat from the first send until the work is done; on
// PostgreSQL also its backends', found by application_name, as "+N PG") and
// its peak RSS (VmHWM). Accessbot runs also carry approval clicks: before the
// clock starts, requests are created that wait for Eve, and she clicks
// Approve on each DM, spread over the run; loadgen reports click → the
// clicked message updated and click → the requester told the outcome.
//
// Runs of the two bots alternate (accessbot then bare, then bare then
// accessbot, ...) so both see the same machine load. With -baseline, a
// second accessbot binary (e.g. built from main) runs in the same rounds.
// Accessbot's Home work is counted from its handler metric on the admin
// listener, since an unchanged Home tab is not published again.
//
// With -idle, loadgen sends nothing and reports each bot's CPU per second
// at rest instead: the fixed cost that every rate pays.
//
// scripts/loadtable builds everything and runs the whole table.
//
//	go build -o bin/ ./cmd/accessbot ./cmd/loadgen ./cmd/loadgen/barebot
//	bin/loadgen -rates 200,1000,2000 -duration 10s -stores sqlite,postgres -rounds 2
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type config struct {
	accessbot, barebot string
	baseline           string // another accessbot build to run beside it; "" for none
	rates              []float64
	duration           time.Duration
	stores             []string
	rounds             int
	approvals          int // per accessbot run; -1: one per 2 s of the run
	users              int
	warmIDs            string // the Slack ids seeded for the users: none, stale or fresh (warmIDs* below)
	pgDSN              string
	workDir            string
	profileDir         string
	idle               time.Duration // > 0: measure each bot at rest for this long, instead of the mix
	out, progress      io.Writer
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
	cfg.out, cfg.progress = os.Stdout, os.Stderr
	if _, err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (*config, error) {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	self, _ := os.Executable()
	dir := filepath.Dir(self)
	cfg := &config{}
	var rates, stores string
	fs.StringVar(&cfg.accessbot, "accessbot", filepath.Join(dir, "accessbot"), "accessbot binary")
	fs.StringVar(&cfg.baseline, "baseline", "", "another accessbot binary (e.g. built from main) to run in the same rounds, for before/after")
	fs.StringVar(&cfg.barebot, "barebot", filepath.Join(dir, "barebot"), "bare slack-go bot binary (cmd/loadgen/barebot)")
	fs.StringVar(&rates, "rates", "200,1000,2000", "envelopes a second, comma-separated; 0 sends approval clicks only")
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "sending time of each run")
	fs.StringVar(&stores, "stores", "sqlite", "accessbot stores, comma-separated: sqlite, postgres")
	fs.IntVar(&cfg.rounds, "rounds", 1, "runs of each bot per store and rate, alternating")
	fs.IntVar(&cfg.approvals, "approvals", -1, "approval clicks per accessbot run; -1 means one per 2 s of -duration")
	fs.IntVar(&cfg.users, "users", 50, "linked users sending the mix")
	fs.StringVar(&cfg.warmIDs, "warm-ids", warmIDsStale, "Slack ids stored for the users before the bot starts: "+
		"stale (verified an hour before, as a bot that ran before has them: refreshed daily, so mostly older than the identity cache TTL), "+
		"fresh (verified at seeding: every user resolved within the TTL before a restart), "+
		"none (a first start)")
	fs.StringVar(&cfg.pgDSN, "pg-dsn", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "PostgreSQL database; each run gets a fresh schema in it")
	fs.StringVar(&cfg.workDir, "workdir", "", "where run directories (SQLite files, bot logs) go; default a temp dir, removed after")
	fs.DurationVar(&cfg.idle, "idle", 0, "instead of the mix, measure each bot's CPU at rest (no envelopes) for this long, per store and round")
	fs.StringVar(&cfg.profileDir, "cpuprofile-dir", "", "take a CPU profile of accessbot during each run into this directory (through its admin listener's pprof)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	for _, s := range strings.Split(rates, ",") {
		r, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || r < 0 {
			return nil, fmt.Errorf("-rates: %q is not a rate", s)
		}
		cfg.rates = append(cfg.rates, r)
	}
	for _, s := range strings.Split(stores, ",") {
		s = strings.TrimSpace(s)
		if s != "sqlite" && s != "postgres" {
			return nil, fmt.Errorf("-stores: %q (want sqlite or postgres)", s)
		}
		cfg.stores = append(cfg.stores, s)
	}
	if cfg.warmIDs != warmIDsNone && cfg.warmIDs != warmIDsStale && cfg.warmIDs != warmIDsFresh {
		return nil, fmt.Errorf("-warm-ids: %q (want none, stale or fresh)", cfg.warmIDs)
	}
	if cfg.duration <= 0 || cfg.rounds < 1 || cfg.users < 1 {
		return nil, fmt.Errorf("-duration, -rounds and -users must be positive")
	}
	bins := []string{cfg.accessbot, cfg.barebot}
	if cfg.baseline != "" {
		bins = append(bins, cfg.baseline)
	}
	for _, b := range bins {
		if _, err := os.Stat(b); err != nil {
			return nil, fmt.Errorf("%w (build it: go build -o bin/ ./cmd/accessbot ./cmd/loadgen/barebot)", err)
		}
	}
	return cfg, nil
}

// run does every run of cfg and prints the table; it returns the results.
func run(ctx context.Context, cfg *config) ([]*result, error) {
	if cfg.workDir == "" {
		d, err := os.MkdirTemp("", "loadgen-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		cfg.workDir = d
	}
	if cfg.profileDir != "" {
		if err := os.MkdirAll(cfg.profileDir, 0o755); err != nil {
			return nil, err
		}
	}
	approvals := cfg.approvals
	if approvals < 0 {
		approvals = max(int(cfg.duration/(2*time.Second)), 1)
	}
	if cfg.idle > 0 {
		return runIdle(ctx, cfg)
	}
	var all []*result
	printHeader(cfg.out)
	for _, st := range cfg.stores {
		for _, rate := range cfg.rates {
			var group []*result
			for round := 1; round <= cfg.rounds; round++ {
				order := []string{targetAccessbot, targetBare}
				if cfg.baseline != "" {
					order = []string{targetAccessbot, targetBaseline, targetBare}
				}
				if round%2 == 0 {
					slices.Reverse(order)
				}
				for _, target := range order {
					if rate == 0 && target == targetBare {
						continue // nothing to ack without the mix
					}
					sp := spec{target: target, store: st, rate: rate, duration: cfg.duration, round: round}
					if isAccessbot(target) {
						sp.approvals = approvals
					}
					fmt.Fprintf(cfg.progress, "loadgen: %s, store %s, %g/s for %s, round %d\n", target, st, rate, cfg.duration, round)
					r, err := runOne(ctx, cfg, sp)
					if err != nil {
						return all, fmt.Errorf("%s at %g/s (%s, round %d): %w", target, rate, st, round, err)
					}
					printRow(cfg.out, r)
					group = append(group, r)
					all = append(all, r)
					if ctx.Err() != nil {
						return all, ctx.Err()
					}
				}
			}
			printRatio(cfg.out, group)
		}
	}
	return all, nil
}

// runIdle runs each bot with no envelopes for cfg.idle and prints its CPU
// per second of wall time: the fixed cost every rate pays.
func runIdle(ctx context.Context, cfg *config) ([]*result, error) {
	fmt.Fprintln(cfg.out, "| store | bot | round | idle for | CPU (ms) | CPU per second idle (ms/s) | peak RSS (MiB) | load (uptime) |")
	fmt.Fprintln(cfg.out, "|---|---|---:|---:|---:|---:|---:|---|")
	var all []*result
	for _, st := range cfg.stores {
		for round := 1; round <= cfg.rounds; round++ {
			order := []string{targetAccessbot, targetBare}
			if cfg.baseline != "" {
				order = []string{targetAccessbot, targetBaseline, targetBare}
			}
			if round%2 == 0 {
				slices.Reverse(order)
			}
			for _, target := range order {
				sp := spec{target: target, store: st, duration: cfg.idle, round: round, idle: true}
				fmt.Fprintf(cfg.progress, "loadgen: %s at rest, store %s, for %s, round %d\n", target, st, cfg.idle, round)
				r, err := runOne(ctx, cfg, sp)
				if err != nil {
					return all, fmt.Errorf("%s at rest (%s, round %d): %w", target, st, round, err)
				}
				store, load := st, r.load
				if target == targetBare {
					store = "-"
				}
				if i := strings.Index(load, "load average"); i >= 0 {
					load = load[i:]
				}
				fmt.Fprintf(cfg.out, "| %s | %s | %d | %s | %s | %s | %.1f | %s |\n", store, target, round, cfg.idle,
					ms(r.cpu), ms(r.idlePerSecond()), float64(r.rssKiB)/1024, load)
				all = append(all, r)
			}
		}
	}
	return all, nil
}

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64)
}

func us(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Microsecond), 'f', 0, 64)
}

func printHeader(w io.Writer) {
	fmt.Fprintln(w, "| store | rate/s | bot | round | sent | ack p50 | p99 | max (ms) | lost | late | redelivered | ack p99 help / action / home / click (ms) | CPU/envelope (µs) | peak RSS (MiB) | work done after last send | click → message updated p50/p99/max (ms) | click → requester told p50/p99/max (ms) | calls during approvals (update/post/response_url) | load (uptime) |")
	fmt.Fprintln(w, "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---|---|---|---|---|")
}

func triple(sorted []time.Duration, missing int) string {
	if len(sorted) == 0 {
		if missing > 0 {
			return fmt.Sprintf("none of %d seen", missing)
		}
		return "-"
	}
	s := ms(pct(sorted, .5)) + " / " + ms(pct(sorted, .99)) + " / " + ms(pct(sorted, 1))
	if missing > 0 {
		s += fmt.Sprintf(" (%d not seen)", missing)
	}
	return s
}

func printRow(w io.Writer, r *result) {
	st := r.store
	if r.target == targetBare {
		st = "-"
	}
	work, upd, dm, calls := ms(r.drainedAfter)+" ms", "-", "-", "-"
	if r.workMissing > 0 {
		work += fmt.Sprintf(" (%d not done)", r.workMissing)
	}
	if r.target == targetBare {
		work = "-"
	} else {
		work += fmt.Sprintf("; %d Home published", r.published)
		if r.rendered > 0 || r.versionMoves > 0 || r.adminMoves > 0 {
			work += fmt.Sprintf(", %d rendered, version +%d (admins +%d)", r.rendered, r.versionMoves, r.adminMoves)
		}
		if r.versionReads >= 0 && r.store == "postgres" {
			work += fmt.Sprintf("; %d Home versions read from the database", r.versionReads)
		}
	}
	var kinds []string
	for k := range kindCount {
		if k == kindClick && r.target == targetBare {
			continue
		}
		kinds = append(kinds, ms(pct(r.kindLat[k], .99)))
	}
	if r.clicked > 0 {
		upd, dm = triple(r.updated, r.notUpdated), triple(r.dm, r.noDM)
		calls = fmt.Sprintf("%d / %d / %d for %d", r.chatUpdates, r.chatPosts, r.responseURLs, r.clicked)
	}
	load := r.load
	if i := strings.Index(load, "load average"); i >= 0 {
		load = load[i:]
	}
	cpu := us(r.cpuPerEnvelope())
	if r.pgCPU > 0 {
		cpu += " (+" + us(r.pgPerEnvelope()) + " PG)"
	}
	fmt.Fprintf(w, "| %s | %g | %s | %d | %d | %s | %s | %s | %d | %d | %d | %s | %s | %.1f | %s | %s | %s | %s | %s |\n",
		st, r.rate, r.target, r.round, r.sent, ms(pct(r.lat, .5)), ms(pct(r.lat, .99)), ms(pct(r.lat, 1)),
		r.lost, r.late, r.redelivered, strings.Join(kinds, " / "), cpu, float64(r.rssKiB)/1024, work, upd, dm, calls, load)
}

// printRatio compares the bots of one store and rate: accessbot's (and the
// baseline's) median over its rounds against the bare bot's.
func printRatio(w io.Writer, group []*result) {
	by := map[string][]*result{}
	for _, r := range group {
		by[r.target] = append(by[r.target], r)
	}
	for _, t := range []string{targetAccessbot, targetBaseline} {
		printRatioOf(w, t, by[t], by[targetBare])
	}
}

func printRatioOf(w io.Writer, target string, ab, bb []*result) {
	if len(ab) == 0 || len(bb) == 0 {
		return
	}
	med := func(rs []*result, f func(*result) time.Duration) time.Duration {
		var v []time.Duration
		for _, r := range rs {
			v = append(v, f(r))
		}
		return median(v)
	}
	p99 := func(r *result) time.Duration { return pct(r.lat, .99) }
	cpu := func(r *result) time.Duration { return r.cpuPerEnvelope() }
	ratio := func(a, b time.Duration) string {
		if b <= 0 {
			return "n/a"
		}
		return strconv.FormatFloat(float64(a)/float64(b), 'f', 1, 64) + "×"
	}
	fmt.Fprintf(w, "| **%s, %g/s: %s ÷ bare** | | | | | | **%s** | | | | | | **%s** | | | | | | |\n",
		ab[0].store, ab[0].rate, target, ratio(med(ab, p99), med(bb, p99)), ratio(med(ab, cpu), med(bb, cpu)))
}

func median(v []time.Duration) time.Duration {
	if len(v) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(v))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
