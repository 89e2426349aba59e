package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/digest"
	"github.com/accessbot/accessbot/internal/testenv"
	"github.com/accessbot/accessbot/store/backend"
	"github.com/accessbot/accessbot/store/storetest"
)

// TestScaleFindings fills a tenant with open findings through the store
// (storetest.FillFindings: rules of 10,000, a minute apart) and times what
// people run against them: `findings list` as typed (the whole command:
// opening the store, the query, printing), its --json and filtered forms,
// and the digest's query (digest.Service.Build), on both stores. CI runs
// 2,000 findings; the BENCHMARKS.md figures come from
//
//	ACCESSBOT_SCALE_FINDINGS=100000 go test -run TestScaleFindings -v -count=1 -timeout 30m ./cmd/accessbot/
//
// (ACCESSBOT_SCALE_DRIVER=sqlite or postgres runs one store).
func TestScaleFindings(t *testing.T) {
	n := 2000
	if s := os.Getenv("ACCESSBOT_SCALE_FINDINGS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 100 {
			t.Fatalf("ACCESSBOT_SCALE_FINDINGS=%q: want a number >= 100", s)
		}
		n = v
	}
	const perRule = 10000
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for _, driver := range storetest.Drivers(t) {
		if d := os.Getenv("ACCESSBOT_SCALE_DRIVER"); d != "" && d != driver {
			continue
		}
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			dsn := "file:" + filepath.Join(t.TempDir(), "a.db")
			if driver == backend.Postgres {
				dsn = testenv.PostgresDSN(t)
			}
			st, err := backend.Open(ctx, driver, dsn, zerolog.Nop())
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			ten := &accessbot.Tenant{Slug: "acme", Name: "Acme"}
			if err := st.CreateTenant(ctx, ten); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			last := storetest.FillFindings(t, st, ten.ID, n, perRule, at)
			t.Logf("[counts] %s: %d open findings in %d rule(s), filled in %.1fs", driver, n, (n+perRule-1)/perRule, time.Since(start).Seconds())

			env := map[string]string{"ACCESSBOT_STORE_DRIVER": driver, "ACCESSBOT_STORE_DSN": dsn}
			// best of 3 whole-command runs, with what the last one printed
			cli := func(args ...string) (time.Duration, string, string) {
				t.Helper()
				best := time.Duration(1 << 62)
				var out, errOut string
				for range 3 {
					m, stdout, stderr := testMain(env)
					t0 := time.Now()
					if err := m.Run(ctx, append([]string{"findings", "list"}, args...)); err != nil {
						t.Fatalf("findings list %v: %v\n%s", args, err, stderr)
					}
					best = min(best, time.Since(t0))
					out, errOut = stdout.String(), stderr.String()
				}
				return best, out, errOut
			}
			d, out, errOut := cli()
			rows := strings.Count(out, "\n") - 1
			t.Logf("[counts] %s: findings list: %d rows printed in %v (best of 3); stderr: %q", driver, rows, d.Round(time.Microsecond), strings.TrimSpace(errOut))
			if want := min(n, defaultFindingsLimit); rows != want {
				t.Fatalf("findings list printed %d rows, want %d:\n%.2000s", rows, want, out)
			}
			if !strings.HasPrefix(strings.SplitN(out, "\n", 3)[1], "critical") {
				t.Fatalf("findings list does not start with the critical ones:\n%.500s", out)
			}
			if n > defaultFindingsLimit && !strings.Contains(errOut, "showing "+strconv.Itoa(defaultFindingsLimit)+" of "+strconv.Itoa(n)) {
				t.Fatalf("findings list says nothing of the %d left out: %q", n-defaultFindingsLimit, errOut)
			}
			d, out, _ = cli("--status", "open", "--severity", "high,low", "--limit", "50")
			t.Logf("[counts] %s: findings list --status open --severity high,low --limit 50: %d rows in %v", driver, strings.Count(out, "\n")-1, d.Round(time.Microsecond))
			d, out, _ = cli("--json", "--limit", "100")
			t.Logf("[counts] %s: findings list --json --limit 100: %d findings in %v", driver, strings.Count(out, `"rule":`), d.Round(time.Microsecond))
			d, out, _ = cli("--json")
			t.Logf("[counts] %s: findings list --json: %d findings in %v", driver, strings.Count(out, `"rule":`), d.Round(time.Microsecond))
			if got := strings.Count(out, `"rule":`); got != n {
				t.Fatalf("--json printed %d findings, want all %d", got, n)
			}
			d, out, _ = cli("--limit", "0")
			t.Logf("[counts] %s: findings list --limit 0 (all): %d rows in %v", driver, strings.Count(out, "\n")-1, d.Round(time.Microsecond))
			if rows := strings.Count(out, "\n") - 1; rows != n {
				t.Fatalf("--limit 0 printed %d rows, want %d", rows, n)
			}

			// The digest (digest.Service.Build, whose window starts at the
			// last digest: none here, so every finding is new), and its query
			// alone (store NewFindings) for a day's window: only the last
			// rule's findings new among all of them open.
			svc := digest.New(st, nil, digest.Config{})
			lastRule := n - (n-1)/perRule*perRule
			for _, w := range []struct {
				name string
				run  func() (total, listed int, err error)
				want int
			}{
				{"Build, all new", func() (int, int, error) {
					d, err := svc.Build(ctx, ten.ID, last.Add(time.Hour))
					if err != nil {
						return 0, 0, err
					}
					return d.Total(), len(d.Items), nil
				}, n},
				{"query, last rule new", func() (int, int, error) {
					nf, err := st.NewFindings(ctx, ten.ID, last.Add(-time.Second), last.Add(time.Hour), 1000)
					if err != nil {
						return 0, 0, err
					}
					total := 0
					for _, c := range nf.Counts {
						total += c
					}
					return total, len(nf.Items), nil
				}, lastRule},
			} {
				var ds []time.Duration
				var total, listed int
				for range 5 {
					t0 := time.Now()
					total, listed, err = w.run()
					ds = append(ds, time.Since(t0))
					if err != nil {
						t.Fatal(err)
					}
				}
				slices.Sort(ds)
				t.Logf("[counts] %s: digest %s: %d new, %d listed, in %v (median of 5; min %v)", driver, w.name, total, listed,
					ds[2].Round(time.Microsecond), ds[0].Round(time.Microsecond))
				if total != w.want || listed != min(w.want, 1000) {
					t.Fatalf("digest %s: %d new, %d listed; want %d", w.name, total, listed, w.want)
				}
			}
		})
	}
}
