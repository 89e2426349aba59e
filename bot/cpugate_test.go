package bot

import (
	"context"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestCPUGate: the limit halves (not below the floor) while samples say
// goroutines wait for CPU and climbs one step per good sample; workers past
// the limit wait until a running job leaves or the limit rises.
func TestCPUGate(t *testing.T) {
	g := &cpuGate{limit: 32, floor: 4, ceil: 32, lowestLimit: 32}
	g.cond = sync.NewCond(&g.mu)
	steps := []struct {
		short bool
		want  int
	}{{true, 16}, {true, 8}, {true, 4}, {true, 4}, {false, 5}, {false, 6}, {true, 4}}
	for i, s := range steps {
		g.adjust(s.short)
		if got := g.admitted(); got != s.want {
			t.Fatalf("step %d (short %v): limit %d, want %d", i, s.short, got, s.want)
		}
	}
	var ran atomic.Int32
	for range 4 {
		g.enter()
	}
	go func() { g.enter(); ran.Add(1) }()
	time.Sleep(50 * time.Millisecond)
	if ran.Load() != 0 {
		t.Fatal("a 5th job ran with the limit at 4")
	}
	g.adjust(false) // 5
	deadline := time.Now().Add(2 * time.Second)
	for ran.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	t.Logf("[counts] limit %d after %d lowerings (lowest %d); 5th job ran: %v", g.admitted(), g.lowered, g.lowestLimit, ran.Load() == 1)
	if ran.Load() != 1 {
		t.Fatal("the 5th job did not run when the limit rose to 5")
	}
}

func TestShortOfCPU(t *testing.T) {
	buckets := []float64{0, 1e-4, 1e-3, 1e-2} // bucket i is [buckets[i], buckets[i+1])
	for _, tc := range []struct {
		name      string
		prev, now []uint64
		wantShort bool
	}{
		{"no starts", []uint64{5, 5, 5}, []uint64{5, 5, 5}, false},
		{"all prompt", []uint64{0, 0, 0}, []uint64{90, 10, 0}, false},
		{"a tenth waited 1-10 ms", []uint64{0, 0, 0}, []uint64{80, 9, 11}, true},
		{"only old slow starts", []uint64{0, 0, 50}, []uint64{90, 0, 50}, false},
	} {
		h := &metrics.Float64Histogram{Counts: tc.now, Buckets: buckets}
		if got := shortOfCPU(h, tc.prev); got != tc.wantShort {
			t.Errorf("%s: short %v, want %v", tc.name, got, tc.wantShort)
		}
	}
}

// TestCPUGateRestsWhenIdle: the gate samples the scheduler only while jobs
// run (and for restAfter after the last), so an idle bot is not woken every
// 20 ms.
func TestCPUGateRestsWhenIdle(t *testing.T) {
	g := newCPUGate(64)
	if g.floor >= g.ceil {
		t.Skip("GOMAXPROCS too high for the gate to adjust")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { g.watch(ctx); close(done) }()
	samples := func() int { g.mu.Lock(); defer g.mu.Unlock(); return g.samples }
	// rests waits until no sample comes for 10 sample periods (within 20
	// s: on a busy machine ticks come late, and restAfter counts samples).
	rests := func() bool {
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
			n := samples()
			time.Sleep(10 * gateSampleEvery)
			if samples() == n {
				return true
			}
		}
		return false
	}

	if !rests() {
		t.Fatalf("still sampling with no job run since start (%d samples)", samples())
	}
	rested := samples()
	g.enter()
	deadline := time.Now().Add(5 * time.Second)
	for samples()-rested < 3 && time.Now().Before(deadline) {
		time.Sleep(gateSampleEvery)
	}
	if n := samples() - rested; n < 3 {
		t.Fatalf("%d samples in 5 s with a job running, want at least 3", n)
	}
	g.leave()
	if !rests() {
		t.Fatalf("still sampling 20 s after the last job left (%d samples)", samples())
	}
	t.Logf("[counts] %d samples at start before resting, %d while the job ran and after it, then none for %s", rested, samples()-rested, 10*gateSampleEvery)
	cancel()
	<-done
}
