package bot

import (
	"context"
	"runtime"
	"runtime/metrics"
	"sync"
	"time"
)

// cpuGate bounds how many async jobs run at once while the process is short
// of CPU. Jobs mostly wait on Slack's Web API, so normally every worker may
// run one. But when the Go scheduler has goroutines waiting to run, the
// socket readers and ack writers wait behind the workers' CPU work (Go has
// no priorities), and acks come late. Then the limit halves, down to
// 2×GOMAXPROCS, and climbs back a step per sample while goroutines start
// promptly again. Queued jobs wait in the queue either way, in turn.
// Sampling stops once no job has run for restAfter with the limit at its
// ceiling, so an idle bot does not wake 50 times a second; a busy one keeps
// sampling between jobs (stopping at every gap lost the deltas it needs).
type cpuGate struct {
	mu                   sync.Mutex
	cond                 *sync.Cond
	limit, floor, ceil   int
	running              int
	lowered, lowestLimit int           // for stats and tests
	busy                 chan struct{} // a job started: sampling resumes
	samples              int           // for tests
}

// Sampling of the scheduler's latency (the time goroutines spend runnable
// before they run).
const (
	gateSampleEvery = 20 * time.Millisecond
	// restAfter is how long the gate samples with nothing running before
	// it stops until the next job.
	restAfter = time.Second
	// gateSlow: a sample is "short of CPU" when over a tenth of the
	// goroutines that started in it had waited longer than this.
	gateSlow = 500 * time.Microsecond
)

func newCPUGate(workers int) *cpuGate {
	floor := min(2*runtime.GOMAXPROCS(0), workers)
	g := &cpuGate{limit: workers, floor: floor, ceil: workers, lowestLimit: workers, busy: make(chan struct{}, 1)}
	g.cond = sync.NewCond(&g.mu)
	return g
}

func (g *cpuGate) enter() {
	g.mu.Lock()
	for g.running >= g.limit {
		g.cond.Wait()
	}
	g.running++
	first := g.running == 1
	g.mu.Unlock()
	if first {
		select {
		case g.busy <- struct{}{}:
		default:
		}
	}
}

func (g *cpuGate) leave() {
	g.mu.Lock()
	g.running--
	g.mu.Unlock()
	g.cond.Signal()
}

// adjust lowers the limit when short of CPU, else raises it by one.
func (g *cpuGate) adjust(short bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if short {
		if n := max(g.limit/2, g.floor); n < g.limit {
			g.limit = n
			g.lowered++
			g.lowestLimit = min(g.lowestLimit, n)
		}
		return
	}
	if g.limit < g.ceil {
		g.limit++
		g.cond.Broadcast()
	}
}

// watch samples the scheduler until ctx ends.
func (g *cpuGate) watch(ctx context.Context) {
	if g.floor >= g.ceil {
		return // nothing to adjust
	}
	s := []metrics.Sample{{Name: "/sched/latencies:seconds"}}
	var prev []uint64
	t := time.NewTicker(gateSampleEvery)
	defer t.Stop()
	idle := 0 // samples in a row with nothing running
	for {
		if idle >= int(restAfter/gateSampleEvery) {
			t.Stop()
			prev, idle = nil, 0 // the idle time's starts say nothing about the next burst
			select {
			case <-ctx.Done():
			case <-g.busy:
			}
			t.Reset(gateSampleEvery)
		}
		select {
		case <-ctx.Done():
			g.adjust(false)
			g.mu.Lock()
			g.limit = g.ceil // let the shutdown drain use every worker
			g.mu.Unlock()
			g.cond.Broadcast()
			return
		case <-t.C:
		}
		if g.resting() {
			idle++
		} else {
			idle = 0
		}
		g.mu.Lock()
		g.samples++
		g.mu.Unlock()
		metrics.Read(s)
		if s[0].Value.Kind() != metrics.KindFloat64Histogram {
			return // not in this Go version: stay at the ceiling
		}
		h := s[0].Value.Float64Histogram()
		if prev != nil {
			g.adjust(shortOfCPU(h, prev))
		}
		prev = append(prev[:0], h.Counts...)
	}
}

// resting reports whether sampling can stop: no job runs and none is held back.
func (g *cpuGate) resting() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.running == 0 && g.limit >= g.ceil
}

// shortOfCPU reports whether over a tenth of the goroutine starts since
// prev waited longer than gateSlow to run.
func shortOfCPU(h *metrics.Float64Histogram, prev []uint64) bool {
	var all, slow uint64
	for i, c := range h.Counts {
		if i < len(prev) {
			c -= prev[i]
		}
		all += c
		if h.Buckets[i] >= gateSlow.Seconds() {
			slow += c
		}
	}
	return all > 0 && slow*10 > all
}

// admitted is the current limit.
func (g *cpuGate) admitted() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.limit
}
