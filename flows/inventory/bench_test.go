package inventory_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/findings"
	"github.com/accessbot/accessbot/flows/inventory"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/storetest"
)

// TestScale imports identities, entitlements and relations, then runs all
// rules, and reports time and peak heap for each step. By default it runs a
// tiny size (so CI exercises the path); ACCESSBOT_BENCH_RELATIONS=100000
// runs the BENCHMARKS.md size:
//
//	ACCESSBOT_BENCH_RELATIONS=100000 go test -run TestScale -v -count=1 -timeout 30m ./flows/inventory/
func TestScale(t *testing.T) {
	relations := 200
	if s := os.Getenv("ACCESSBOT_BENCH_RELATIONS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 10 {
			t.Fatalf("ACCESSBOT_BENCH_RELATIONS=%q: want a number >= 10", s)
		}
		relations = n
	}
	// 10 entitlements per identity, out of a pool of identities/10.
	identities := relations / 10
	ents := max(10, identities/10)
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			st := storetest.Open(t, driver)
			now := time.Date(2025, 6, 2, 9, 0, 0, 0, time.UTC)
			clock := func() time.Time { return now }
			ten := &accessbot.Tenant{Slug: "bench", Name: "Bench"}
			must(t, st.CreateTenant(ctx, ten))
			// Employees for 90% of identities; every 50th one terminated.
			var owner *accessbot.User
			must(t, st.InTx(ctx, func(q store.Queries) error {
				for i := 0; i < identities*9/10; i++ {
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
			app := &accessbot.Application{TenantID: ten.ID, Name: "Big", PrimaryOwnerID: owner.ID}
			must(t, st.CreateApplication(ctx, app))

			var ib, eb, rb strings.Builder
			ib.WriteString("identity_id,email,display_name,status,last_seen_at\n")
			for i := 0; i < identities; i++ {
				seen := now.Add(-time.Duration(i%200) * 24 * time.Hour).Format(time.RFC3339)
				fmt.Fprintf(&ib, "id%d,user%d@acme.com,User %d,active,%s\n", i, i, i, seen)
			}
			eb.WriteString("entitlement_id,name,type,labels\n")
			for e := 0; e < ents; e++ {
				labels := ""
				if e%10 == 0 {
					labels = "privileged;admin"
				}
				fmt.Fprintf(&eb, "ent%d,Entitlement %d,group,%s\n", e, e, labels)
			}
			rb.WriteString("identity_id,entitlement_id\n")
			for i := 0; i < identities; i++ {
				for k := 0; k < 10; k++ {
					fmt.Fprintf(&rb, "id%d,ent%d\n", i, (i*7+k*13)%ents)
				}
			}

			im := inventory.NewImporter(st, nil, clock, zerolog.Nop())
			step := func(name string, fn func() error) {
				t.Helper()
				d, peak, err := measure(fn)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				t.Logf("%-8s %-32s %9.2fs  peak heap %6.1f MiB", driver, name, d.Seconds(), float64(peak)/(1<<20))
			}
			imp := func(kind inventory.Kind, data string) func() error {
				return func() error {
					res, err := im.Import(ctx, ten.ID, kind, "Big", string(kind)+".csv", strings.NewReader(data), inventory.Options{Strict: true})
					if err == nil && len(res.Rejected) > 0 {
						err = fmt.Errorf("rejected: %v", res.Rejected[0])
					}
					return err
				}
			}
			step(fmt.Sprintf("import %d identities", identities), imp(inventory.Identities, ib.String()))
			step(fmt.Sprintf("import %d entitlements", ents), imp(inventory.Entitlements, eb.String()))
			step(fmt.Sprintf("import %d relations", relations), imp(inventory.Relations, rb.String()))
			step(fmt.Sprintf("re-import %d relations (same)", relations), imp(inventory.Relations, rb.String()))
			eng := findings.NewEngine(clock, zerolog.Nop())
			var res *findings.RunResult
			step("run all rules (first)", func() (err error) { res, err = eng.RunTx(ctx, st, ten.ID); return err })
			t.Logf("%-8s %s", driver, res.Summary())
			if res.Total().Opened == 0 {
				t.Fatal("no findings")
			}
			// Same instant: a later one would rightly age more identities past 90 days.
			step("run all rules (again)", func() (err error) { res, err = eng.RunTx(ctx, st, ten.ID); return err })
			if tot := res.Total(); tot.Opened != 0 || tot.Resolved != 0 {
				t.Fatalf("rerun changed findings: %+v", tot)
			}
		})
	}
}

// measure runs fn and samples the Go heap every few milliseconds; peak is
// the highest HeapInuse seen (after a GC before the start).
func measure(fn func() error) (time.Duration, uint64, error) {
	runtime.GC()
	var peak uint64
	var mu sync.Mutex
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			mu.Lock()
			peak = max(peak, ms.HeapInuse)
			mu.Unlock()
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	start := time.Now()
	err := fn()
	d := time.Since(start)
	close(done)
	wg.Wait()
	return d, peak, err
}
