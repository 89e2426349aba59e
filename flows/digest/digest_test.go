package digest_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/digest"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/storetest"
)

var base = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// fill reports n open findings of mixed severities for a new tenant, in
// batches opened a minute apart (so opened_at both differs and ties), and
// returns the tenant id.
func fill(tb testing.TB, s store.Store, n, batch int) string {
	tb.Helper()
	ctx := context.Background()
	ten := &accessbot.Tenant{Slug: fmt.Sprintf("d-%d", time.Now().UnixNano()), Name: "Digest"}
	if err := s.CreateTenant(ctx, ten); err != nil {
		tb.Fatalf("create tenant: %v", err)
	}
	kinds := []accessbot.SubjectKind{accessbot.SubjectEmployee, accessbot.SubjectIdentity}
	for start := 0; start < n; start += batch {
		var ms []accessbot.FindingMatch
		for i := start; i < min(n, start+batch); i++ {
			ms = append(ms, accessbot.FindingMatch{
				// Severities not in order, and critical the rarest, as in life.
				Severity: accessbot.Severities[[]int{3, 2, 1, 3, 2, 3, 1, 0}[i%8]],
				Subject:  accessbot.Subject{Kind: kinds[i%2], ID: fmt.Sprintf("s-%05d", i), Display: fmt.Sprintf("Person <%d> & co", i)},
				Details:  []byte(fmt.Sprintf(`{"why":"no MFA on account %d","since":"2026-01-01"}`, i)),
			})
		}
		at := base.Add(time.Duration(start/batch) * time.Minute)
		if _, err := s.ReportFindings(ctx, ten.ID, "no-mfa", ms, at); err != nil {
			tb.Fatalf("report findings: %v", err)
		}
	}
	return ten.ID
}

// want is the digest as it was first built: every open finding read in
// the list order, the window and the cap applied in Go.
func want(t *testing.T, s store.Store, tenantID string, from, to time.Time, maxItems int) *digest.Digest {
	t.Helper()
	all, err := s.ListFindings(context.Background(), tenantID, accessbot.FindingFilter{Statuses: []accessbot.FindingStatus{accessbot.FindingOpen}})
	if err != nil {
		t.Fatal(err)
	}
	d := &digest.Digest{TenantID: tenantID, Slot: to, From: from, To: to, Counts: map[accessbot.Severity]int{}, Location: time.UTC}
	for _, f := range all {
		if !f.OpenedAt.After(from) || f.OpenedAt.After(to) {
			continue
		}
		d.Counts[f.Severity]++
		if maxItems < 0 || len(d.Items) < maxItems {
			d.Items = append(d.Items, f)
		} else {
			d.More++
		}
	}
	return d
}

// TestBuildWindowAndCap: the digest lists and counts exactly the open
// findings opened in (previous slot, slot], most severe first, then newest,
// then by id, capped at MaxItems.
func TestBuildWindowAndCap(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			s := storetest.Open(t, driver)
			ctx := context.Background()
			tid := fill(t, s, 300, 40) // opened at base+0..7 min
			fill(t, s, 50, 50)         // a neighbour's, never shown
			// Not open any more: left out.
			some, err := s.ListFindings(ctx, tid, accessbot.FindingFilter{Limit: 3})
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range some {
				if err := s.SetFindingStatus(ctx, tid, f.ID, []accessbot.FindingStatus{accessbot.FindingOpen},
					accessbot.FindingAcknowledged, "U1", base); err != nil {
					t.Fatal(err)
				}
			}
			// The previous done digest was at base+2m: findings opened then
			// are the previous digest's; those after the slot the next one's.
			prev := base.Add(2 * time.Minute)
			slot := base.Add(5 * time.Minute)
			sl, _, err := s.ClaimSlot(ctx, tid, digest.Job, prev, "test", base, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.FinishSlot(ctx, tid, digest.Job, prev, "test", sl.Attempts, store.SlotDone, "", base, base); err != nil {
				t.Fatal(err)
			}
			tests := []struct {
				name     string
				from     time.Time
				slot     time.Time
				maxItems int
			}{
				{"capped", prev, slot, 50},
				{"cap inside a severity", prev, slot, 7},
				{"uncapped", prev, slot, -1},
				{"cap above total", prev, slot, 1000},
				{"first digest", time.Time{}, prev, 10},
				{"empty window", prev, prev.Add(30 * time.Second), 10},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					svc := digest.New(s, nil, digest.Config{MaxItems: tt.maxItems})
					got, err := svc.Build(ctx, tid, tt.slot)
					if err != nil {
						t.Fatal(err)
					}
					w := want(t, s, tid, got.From, tt.slot, tt.maxItems)
					if !got.From.Equal(tt.from) {
						t.Fatalf("from = %v, want %v", got.From, tt.from)
					}
					if got.Total() == 0 && tt.name != "empty window" {
						t.Fatal("test data has nothing in the window")
					}
					if !reflect.DeepEqual(got.Counts, w.Counts) || got.More != w.More || len(got.Items) != len(w.Items) {
						t.Fatalf("counts %v more %d items %d, want %v, %d, %d", got.Counts, got.More, len(got.Items), w.Counts, w.More, len(w.Items))
					}
					for i := range w.Items {
						if !reflect.DeepEqual(got.Items[i], w.Items[i]) {
							t.Fatalf("item %d:\n got %+v\nwant %+v", i, got.Items[i], w.Items[i])
						}
					}
				})
			}
		})
	}
}

// BenchmarkBuild: the digest of 10,000 new findings (at most 1,000 listed).
// See BENCHMARKS.md.
func BenchmarkBuild(b *testing.B) {
	for _, driver := range storetest.Drivers(b) {
		b.Run(driver, func(b *testing.B) {
			s := storetest.Open(b, driver)
			tid := fill(b, s, 10000, 1000)
			fill(b, s, 2000, 1000) // a neighbour's rows to skip
			svc := digest.New(s, nil, digest.Config{})
			slot := base.Add(time.Hour)
			b.ReportAllocs()
			for b.Loop() {
				d, err := svc.Build(context.Background(), tid, slot)
				if err != nil || d.Total() != 10000 || len(d.Items) != 1000 {
					b.Fatalf("build: %v (%d)", err, d.Total())
				}
			}
		})
	}
}
