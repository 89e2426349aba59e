package inventory_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot/flows/inventory"
	"github.com/accessbot/accessbot/internal/invgen"
	"github.com/accessbot/accessbot/store/storetest"
)

// TestRelationsMemoryFlat imports a relations snapshot of N and of 10N rows
// (first upload, then the same file again) on each store and checks that the
// peak Go heap of the import does not grow with the snapshot: the file is
// streamed and compared with the stored snapshot in the database.
func TestRelationsMemoryFlat(t *testing.T) {
	const small = 500 // identities; ×10 relations each
	at := time.Date(2025, 6, 2, 9, 0, 0, 0, time.UTC)
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			peaks := map[int][2]uint64{}
			for _, n := range []int{small, 10 * small} {
				spec := invgen.Spec{Identities: n, Roles: 200, PerIdentity: 10, Seed: 7, At: at}
				dir := t.TempDir()
				must(t, spec.WriteDir(dir))
				st := storetest.Open(t, driver)
				ten := seedEmployees(t, st, invgen.Spec{Identities: 10}, at)
				im := inventory.NewImporter(st, nil, func() time.Time { return at }, zerolog.Nop())
				imp := func(kind inventory.Kind) (*inventory.Result, error) {
					f, err := os.Open(filepath.Join(dir, string(kind)+".csv"))
					if err != nil {
						return nil, err
					}
					defer f.Close()
					return im.Import(context.Background(), ten.ID, kind, "Big", string(kind)+".csv", f, inventory.Options{Strict: true})
				}
				for _, k := range []inventory.Kind{inventory.Identities, inventory.Entitlements} {
					if _, err := imp(k); err != nil {
						t.Fatal(err)
					}
				}
				var p [2]uint64
				for i, want := range []string{"created", "unchanged"} {
					var res *inventory.Result
					d, peak, err := measure(func() (err error) { res, err = imp(inventory.Relations); return err })
					if err != nil {
						t.Fatal(err)
					}
					if got := map[string]int{"created": res.Created, "unchanged": res.Unchanged}[want]; got != spec.Relations() {
						t.Fatalf("%d relations: %s %d: %s", spec.Relations(), want, got, res.Summary())
					}
					t.Logf("%s: %7d relations, %-9s %6.2fs, peak heap %5.1f MiB", driver, spec.Relations(), want, d.Seconds(), float64(peak)/(1<<20))
					p[i] = peak
				}
				peaks[n] = p
			}
			for i, what := range []string{"first upload", "unchanged re-upload"} {
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
