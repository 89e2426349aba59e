package inventory_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/csvrows"
	"github.com/accessbot/accessbot/flows/findings"
	"github.com/accessbot/accessbot/flows/inventory"
	"github.com/accessbot/accessbot/internal/invgen"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/storetest"
)

// TestScaleFiles imports generated files (internal/invgen) from disk the
// way the CLI does, finding rules included, and reports each step's time,
// peak Go heap and peak RSS. By default it runs a tiny size so CI exercises
// the path; the BENCHMARKS.md figures come from
//
//	ACCESSBOT_SCALE_IDENTITIES=100000 ACCESSBOT_SCALE_DRIVER=sqlite go test -run TestScaleFiles -v -count=1 -timeout 60m ./flows/inventory/
//
// ACCESSBOT_SCALE_PROFILE=dir writes each step's CPU profile there.
// ACCESSBOT_SCALE_RULES=0 leaves the finding rules out, to see the import
// alone. ACCESSBOT_SCALE_RELATIONS=0 writes and imports no relations (for a
// large identity count: identities, entitlements, then the full rule run).
func TestScaleFiles(t *testing.T) {
	spec := invgen.Spec{Identities: 200, Roles: 40, PerIdentity: 10, Seed: 1, At: time.Date(2025, 6, 2, 9, 0, 0, 0, time.UTC)}
	if s := os.Getenv("ACCESSBOT_SCALE_IDENTITIES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 10 {
			t.Fatalf("ACCESSBOT_SCALE_IDENTITIES=%q: want a number >= 10", s)
		}
		spec.Identities, spec.Roles = n, max(20, min(1000, n/100))
	}
	dir, changed := t.TempDir(), t.TempDir()
	withRelations := os.Getenv("ACCESSBOT_SCALE_RELATIONS") != "0"
	if withRelations {
		must(t, spec.WriteDir(dir))
		spec1 := spec
		spec1.ChangePercent = 1
		must(t, spec1.WriteDir(changed))
	} else {
		for name, write := range map[string]func(io.Writer) error{"identities.csv": spec.WriteIdentities, "entitlements.csv": spec.WriteEntitlements} {
			var b bytes.Buffer
			must(t, write(&b))
			must(t, os.WriteFile(filepath.Join(dir, name), b.Bytes(), 0o600))
		}
	}
	for _, driver := range storetest.Drivers(t) {
		if d := os.Getenv("ACCESSBOT_SCALE_DRIVER"); d != "" && d != driver {
			continue
		}
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			st := storetest.Open(t, driver)
			clock := func() time.Time { return spec.At }
			ten := seedEmployees(t, st, spec, clock())
			rules := &timedRules{r: findings.NewEngine(clock, zerolog.Nop())}
			im := inventory.NewImporter(st, rules, clock, zerolog.Nop())
			if os.Getenv("ACCESSBOT_SCALE_RULES") == "0" { // the import alone
				im = inventory.NewImporter(st, nil, clock, zerolog.Nop())
			}
			step := func(name, path string, kind inventory.Kind, wantWrites bool) *inventory.Result {
				t.Helper()
				var res *inventory.Result
				resetPeakRSS()
				rules.d = 0
				defer profileStep(t, name)()
				d, peak, err := measure(func() error {
					f, err := os.Open(path)
					if err != nil {
						return err
					}
					defer f.Close()
					// A million identities are over the default 32 MiB upload limit.
					res, err = im.Import(ctx, ten.ID, kind, "Big", filepath.Base(path), f, inventory.Options{Strict: true, AllowRemovals: true,
						Limits: csvrows.Limits{MaxBytes: 1 << 30}})
					return err
				})
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				t.Logf("%-8s %-34s %8.2fs (rules %6.2fs)  peak heap %6.1f MiB  peak RSS %6.1f MiB  %s",
					driver, name, d.Seconds(), rules.d.Seconds(), float64(peak)/(1<<20), float64(peakRSS())/(1<<20), res.Summaries())
				writes := res.Created+res.Updated+res.Restored+res.Removed > 0
				if writes != wantWrites {
					t.Fatalf("%s: writes %v, want %v: %s", name, writes, wantWrites, res.Summary())
				}
				return res
			}
			step("identities", filepath.Join(dir, "identities.csv"), inventory.Identities, true)
			step("entitlements", filepath.Join(dir, "entitlements.csv"), inventory.Entitlements, true)
			if !withRelations {
				if got := step("identities (unchanged)", filepath.Join(dir, "identities.csv"), inventory.Identities, false).SnapshotResult; got != (accessbot.SnapshotResult{Unchanged: spec.Identities}) {
					t.Fatalf("identities (unchanged): %+v", got)
				}
			}
			if withRelations {
				step(fmt.Sprintf("relations %d (first)", spec.Relations()), filepath.Join(dir, "relations.csv"), inventory.Relations, true)
				n := spec.Relations()
				// Writes scale with the change: an unchanged upload writes no
				// row, and one that moves 1% of the rows to another role
				// (invgen: every 100th row) creates and removes that 1% only.
				for _, c := range []struct {
					name, dir string
					writes    bool
					want      accessbot.SnapshotResult
				}{
					{"relations (unchanged)", dir, false, accessbot.SnapshotResult{Unchanged: n}},
					{"relations (1% changed)", changed, true, accessbot.SnapshotResult{Created: n / 100, Removed: n / 100, Unchanged: n - n/100}},
				} {
					if got := step(c.name, filepath.Join(c.dir, "relations.csv"), inventory.Relations, c.writes).SnapshotResult; got != c.want {
						t.Fatalf("%s: %+v, want %+v", c.name, got, c.want)
					}
				}
			}
			if os.Getenv("ACCESSBOT_SCALE_RULES") == "0" {
				return
			}
			// `accessbot findings run`: every rule over every identity.
			resetPeakRSS()
			var fr *findings.RunResult
			d, peak, err := measure(func() (err error) { fr, err = rules.r.RunTx(ctx, st, ten.ID); return err })
			if err != nil {
				t.Fatalf("findings run: %v", err)
			}
			t.Logf("%-8s %-34s %8.2fs                 peak heap %6.1f MiB  peak RSS %6.1f MiB  %s",
				driver, "findings run (full)", d.Seconds(), float64(peak)/(1<<20), float64(peakRSS())/(1<<20), fr.Summary())
		})
	}
}

// profileStep starts a CPU profile of the step when
// ACCESSBOT_SCALE_PROFILE names a directory; the returned func stops it.
func profileStep(t *testing.T, step string) func() {
	t.Helper()
	dir := os.Getenv("ACCESSBOT_SCALE_PROFILE")
	if dir == "" {
		return func() {}
	}
	name := strings.NewReplacer(" ", "-", "(", "", ")", "", "%", "pct").Replace(step)
	f, err := os.Create(filepath.Join(dir, name+".pprof"))
	must(t, err)
	must(t, pprof.StartCPUProfile(f))
	return func() {
		pprof.StopCPUProfile()
		must(t, f.Close())
	}
}

// seedEmployees creates the tenant, employees for 90% of the identities
// (every 50th terminated) and the application "Big".
func seedEmployees(t *testing.T, st store.Store, spec invgen.Spec, now time.Time) *accessbot.Tenant {
	t.Helper()
	ctx := context.Background()
	ten := &accessbot.Tenant{Slug: "bench", Name: "Bench"}
	must(t, st.CreateTenant(ctx, ten))
	var owner *accessbot.User
	must(t, st.InTx(ctx, func(q store.Queries) error {
		for i := 0; i < spec.Identities*9/10; i++ {
			u := &accessbot.User{TenantID: ten.ID, Email: fmt.Sprintf("user%d@acme.com", i), Name: fmt.Sprintf("User %d", i)}
			if i%50 == 49 {
				term := now.Add(-time.Hour)
				u.Status, u.TerminatedAt = accessbot.UserTerminated, &term
			}
			if err := q.CreateUser(ctx, u); err != nil {
				return err
			}
			if owner == nil {
				owner = u
			}
		}
		return nil
	}))
	must(t, st.CreateApplication(ctx, &accessbot.Application{TenantID: ten.ID, Name: "Big", PrimaryOwnerID: owner.ID}))
	return ten
}

// resetPeakRSS resets the kernel's peak-RSS mark of this process (Linux);
// peakRSS reads it (VmHWM), 0 where unsupported.
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	_, rest, ok := bytes.Cut(b, []byte("VmHWM:"))
	if !ok {
		return 0
	}
	var kb int64
	fmt.Sscan(string(rest), &kb)
	return kb << 10
}

// timedRules times the finding rules run inside each import.
type timedRules struct {
	r *findings.Engine
	d time.Duration
}

func (t *timedRules) Run(ctx context.Context, q store.Queries, tenantID string) (*findings.RunResult, error) {
	start := time.Now()
	defer func() { t.d += time.Since(start) }()
	return t.r.Run(ctx, q, tenantID)
}

func (t *timedRules) RunRelations(ctx context.Context, q store.Queries, tenantID string, ids []string) (*findings.RunResult, error) {
	start := time.Now()
	defer func() { t.d += time.Since(start) }()
	return t.r.RunRelations(ctx, q, tenantID, ids)
}
