package inventory_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot/flows/findings"
	"github.com/accessbot/accessbot/flows/inventory"
	"github.com/accessbot/accessbot/internal/invgen"
	"github.com/accessbot/accessbot/store/storetest"
)

// TestRelationsMemoryFlat imports a relations snapshot of N and of 10N rows
// (first upload, then the same file again) over N and 10N identities on
// each store, finding rules included, then runs every rule (`accessbot
// findings run`), and checks that the peak Go heap of each step does not
// grow with the snapshot: the file is streamed and compared with the stored
// snapshot in the database; the first upload's full rule run and the
// findings run read the identities a page at a time; the re-upload's rules
// re-evaluate only what changed: nothing.
func TestRelationsMemoryFlat(t *testing.T) {
	const small = 500 // identities; ×10 relations each
	at := time.Date(2025, 6, 2, 9, 0, 0, 0, time.UTC)
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			peaks := map[int][3]uint64{}
			for _, n := range []int{small, 10 * small} {
				spec := invgen.Spec{Identities: n, Roles: 200, PerIdentity: 10, Seed: 7, At: at}
				dir := t.TempDir()
				must(t, spec.WriteDir(dir))
				st := storetest.Open(t, driver)
				ten := seedEmployees(t, st, invgen.Spec{Identities: 10}, at)
				clock := func() time.Time { return at }
				plain := inventory.NewImporter(st, nil, clock, zerolog.Nop())
				eng := findings.NewEngine(clock, zerolog.Nop())
				// Pages smaller than the small size, so both sizes page.
				eng.PageSize = small / 4
				im := inventory.NewImporter(st, eng, clock, zerolog.Nop())
				imp := func(kind inventory.Kind) (*inventory.Result, error) {
					f, err := os.Open(filepath.Join(dir, string(kind)+".csv"))
					if err != nil {
						return nil, err
					}
					defer f.Close()
					imp := im
					if kind != inventory.Relations {
						imp = plain
					}
					return imp.Import(context.Background(), ten.ID, kind, "Big", string(kind)+".csv", f, inventory.Options{Strict: true})
				}
				for _, k := range []inventory.Kind{inventory.Identities, inventory.Entitlements} {
					if _, err := imp(k); err != nil {
						t.Fatal(err)
					}
				}
				var p [3]uint64
				for i, want := range []string{"created", "unchanged"} {
					var res *inventory.Result
					d, peak, err := measure(func() (err error) { res, err = imp(inventory.Relations); return err })
					if err != nil {
						t.Fatal(err)
					}
					if got := map[string]int{"created": res.Created, "unchanged": res.Unchanged}[want]; got != spec.Relations() {
						t.Fatalf("%d relations: %s %d: %s", spec.Relations(), want, got, res.Summary())
					}
					if res.Findings == nil || res.Findings.Scoped != (i == 1) {
						t.Fatalf("%s: want the rules run, scoped only on the re-upload: %+v", want, res.Findings)
					}
					t.Logf("%s: %7d relations, %-9s %6.2fs, peak heap %5.1f MiB", driver, spec.Relations(), want, d.Seconds(), float64(peak)/(1<<20))
					p[i] = peak
				}
				var fr *findings.RunResult
				d, peak, err := measure(func() (err error) { fr, err = eng.RunTx(context.Background(), st, ten.ID); return err })
				if err != nil {
					t.Fatal(err)
				}
				if tot := fr.Total(); fr.Scoped || tot.Seen == 0 || tot.Opened+tot.Reopened+tot.Resolved != 0 {
					t.Fatalf("findings run after the uploads: want every rule, nothing new: %s", fr.Summary())
				}
				t.Logf("%s: %7d identities, findings run %6.2fs, peak heap %5.1f MiB: %s", driver, n, d.Seconds(), float64(peak)/(1<<20), fr.Summary())
				p[2] = peak
				peaks[n] = p
			}
			for i, what := range []string{"first upload (finding rules included: a full run)", "unchanged re-upload (finding rules included)", "findings run (every rule, every identity)"} {
				a, b := peaks[small][i], peaks[10*small][i]
				// Flat: ten times the rows may cost at most half as much
				// again plus 4 MiB of noise; a heap that held the file
				// (about 100 bytes a row) would be ten times larger.
				if limit := a + a/2 + 4<<20; b > limit {
					t.Errorf("%s: peak heap %.1f MiB at %d relations, %.1f MiB at %d: grows with the snapshot (limit %.1f MiB)",
						what, float64(a)/(1<<20), small*10, float64(b)/(1<<20), small*100, float64(limit)/(1<<20))
				}
			}
		})
	}
}

// TestIdentitiesMemoryFlat imports an identities snapshot of N and of 10N
// rows on each store (first upload, then the same file again), finding
// rules included, and checks that the peak Go heap of each step does not
// grow with the snapshot: the file is streamed into the store's staging
// table and compared with the stored identities in the database.
func TestIdentitiesMemoryFlat(t *testing.T) {
	const small = 2000
	memoryFlat(t, inventory.Identities, small, func(n int) invgen.Spec {
		return invgen.Spec{Identities: n, Roles: 20, PerIdentity: 1, Seed: 7}
	})
}

// TestEntitlementsMemoryFlat is TestIdentitiesMemoryFlat for an
// entitlements snapshot: the rule run reads the entitlements that a page
// of identities holds, not the tenant's.
func TestEntitlementsMemoryFlat(t *testing.T) {
	const small = 2000
	memoryFlat(t, inventory.Entitlements, small, func(n int) invgen.Spec {
		return invgen.Spec{Identities: 1, Roles: n, PerIdentity: 1, Seed: 7}
	})
}

// TestMappingsMemoryFlat is TestIdentitiesMemoryFlat for a mappings
// snapshot of N and 10N identities (uploaded first, not measured), each
// mapped to one of 9 employees: the file is staged and resolved in the
// database, and the rule run (every identity) reads the mappings of a page
// of identities at a time.
func TestMappingsMemoryFlat(t *testing.T) {
	const small = 2000
	memoryFlat(t, inventory.Mappings, small, func(n int) invgen.Spec {
		return invgen.Spec{Identities: n, Roles: 20, PerIdentity: 1, Seed: 7, Employees: 9}
	}, inventory.Identities)
}

// writers write each kind of snapshot.
var writers = map[inventory.Kind]func(invgen.Spec, io.Writer) error{
	inventory.Identities: invgen.Spec.WriteIdentities, inventory.Entitlements: invgen.Spec.WriteEntitlements,
	inventory.Relations: invgen.Spec.WriteRelations, inventory.Mappings: invgen.Spec.WriteMappings,
}

// memoryFlat imports a snapshot of kind of small and of 10×small rows
// (spec(n) makes n rows of kind) on each store, first upload then the same
// file again, finding rules included (a full run, paged by small/4
// identities), and checks that the peak Go heap of each step does not grow
// with the snapshot. The snapshots of kinds before are uploaded first, not
// measured, without the rules.
func memoryFlat(t *testing.T, kind inventory.Kind, small int, spec func(n int) invgen.Spec, before ...inventory.Kind) {
	at := time.Date(2025, 6, 2, 9, 0, 0, 0, time.UTC)
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			peaks := map[int][2]uint64{}
			for _, n := range []int{small, 10 * small} {
				spec := spec(n)
				spec.At = at
				dir := t.TempDir()
				for _, k := range append(before, kind) {
					f, err := os.Create(filepath.Join(dir, string(k)+".csv"))
					must(t, err)
					must(t, writers[k](spec, f))
					must(t, f.Close())
				}
				st := storetest.Open(t, driver)
				ten := seedEmployees(t, st, invgen.Spec{Identities: 10}, at)
				clock := func() time.Time { return at }
				eng := findings.NewEngine(clock, zerolog.Nop())
				eng.PageSize = small / 4 // both sizes page
				im := inventory.NewImporter(st, eng, clock, zerolog.Nop())
				plain := inventory.NewImporter(st, nil, clock, zerolog.Nop()) // for the snapshots before
				imp := func(k inventory.Kind) (*inventory.Result, error) {
					f, err := os.Open(filepath.Join(dir, string(k)+".csv"))
					if err != nil {
						return nil, err
					}
					defer f.Close()
					app := "Big"
					if k == inventory.Mappings {
						app = ""
					}
					imp := im
					if k != kind {
						imp = plain
					}
					return imp.Import(context.Background(), ten.ID, k, app, string(k)+".csv", f, inventory.Options{Strict: true})
				}
				for _, k := range before {
					_, err := imp(k)
					must(t, err)
				}
				var p [2]uint64
				for i, want := range []string{"created", "unchanged"} {
					var res *inventory.Result
					d, peak, err := measure(func() (err error) { res, err = imp(kind); return err })
					if err != nil {
						t.Fatal(err)
					}
					if got := map[string]int{"created": res.Created, "unchanged": res.Unchanged}[want]; got != n || res.Findings == nil {
						t.Fatalf("%d %s: %s %d, rules run %v: %s", n, kind, want, got, res.Findings != nil, res.Summary())
					}
					t.Logf("[counts] %s: %6d %s, %-9s %6.2fs, peak heap %5.1f MiB", driver, n, kind, want, d.Seconds(), float64(peak)/(1<<20))
					p[i] = peak
				}
				peaks[n] = p
			}
			for i, what := range []string{"first upload", "unchanged re-upload"} {
				a, b := peaks[small][i], peaks[10*small][i]
				// Flat: ten times the rows may cost at most half as much
				// again plus 4 MiB of noise; a heap that held the file and
				// the stored snapshot (hundreds of bytes a row) would be
				// ten times larger.
				if limit := a + a/2 + 4<<20; b > limit {
					t.Errorf("%s: peak heap %.1f MiB at %d %s, %.1f MiB at %d: grows with the snapshot (limit %.1f MiB)",
						what, float64(a)/(1<<20), small, kind, float64(b)/(1<<20), 10*small, float64(limit)/(1<<20))
				}
			}
		})
	}
}
