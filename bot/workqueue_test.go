package bot

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestWorkQueueTurnsAndLimit(t *testing.T) {
	q := newWorkQueue(7)
	var order []string
	job := func(name string) func() { return func() { order = append(order, name) } }
	// One workspace floods first; the others' jobs still come up in turn.
	for _, j := range []struct{ key, name string }{
		{"TBUSY", "b1"}, {"TBUSY", "b2"}, {"TBUSY", "b3"}, {"TBUSY", "b4"},
		{"TQUIET", "q1"}, {"", "u1"}, {"TQUIET", "q2"},
	} {
		if !q.put(j.key, job(j.name)) {
			t.Fatalf("put %s refused below the limit", j.name)
		}
	}
	if q.put("TQUIET", job("q3")) {
		t.Fatal("put past the limit was accepted")
	}
	if q.len() != 7 {
		t.Fatalf("len = %d, want 7", q.len())
	}
	for fn := q.take(); fn != nil; fn = q.take() {
		fn()
	}
	want := []string{"b1", "q1", "u1", "b2", "q2", "b3", "b4"}
	if !slices.Equal(order, want) {
		t.Fatalf("order %v, want %v", order, want)
	}
	if q.len() != 0 || len(q.byKey) != 0 || len(q.ring) != 0 {
		t.Fatalf("queue not empty after draining: len %d, keys %d, ring %d", q.len(), len(q.byKey), len(q.ring))
	}
	if !q.put("TQUIET", job("q3")) {
		t.Fatal("put refused once there was room again")
	}
}

// TestWorkQueueWorkers checks that idle workers wake for every job put from
// another goroutine, and stop when the context ends.
func TestWorkQueueWorkers(t *testing.T) {
	q := newWorkQueue(10000)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	for range 4 {
		wg.Go(func() { q.work(ctx, func(job func()) { job() }) })
	}
	const n = 5000
	for i := range n {
		key := []string{"T1", "T2", "T3"}[i%3]
		if !q.put(key, func() { mu.Lock(); done++; mu.Unlock() }) {
			t.Fatal("put refused")
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		d := done
		mu.Unlock()
		if d == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d jobs ran", d, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	wg.Wait()
}
