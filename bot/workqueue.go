package bot

import (
	"context"
	"sync"
)

// workQueue holds the async jobs of acked envelopes until a worker is free.
// put never blocks, because its caller is a socket's read loop: a loop that
// waits here stops reading, so the envelopes behind it (and slack-go's view
// of Slack's pings) wait too. Jobs queue in memory up to limit; put refuses
// beyond that. Workers take jobs round robin across workspaces, so one
// workspace's burst does not hold back another's button clicks.
type workQueue struct {
	mu    sync.Mutex
	byKey map[string]*jobList
	ring  []*jobList // keys with jobs waiting, in turn order
	n     int        // jobs waiting
	limit int
	ready chan struct{} // a wake-up for one idle worker
	// closed: put refuses and workers return once nothing waits (shutdown drain).
	closed  bool
	closing chan struct{}
}

type jobList struct {
	key  string
	jobs []func()
}

func newWorkQueue(limit int) *workQueue {
	return &workQueue{byKey: map[string]*jobList{}, limit: limit, ready: make(chan struct{}, 1), closing: make(chan struct{})}
}

// put queues job under key (a workspace id; "" when unknown). It reports
// false, keeping nothing, when limit jobs are already waiting or the queue is closed.
func (q *workQueue) put(key string, job func()) bool {
	q.mu.Lock()
	if q.n >= q.limit || q.closed {
		q.mu.Unlock()
		return false
	}
	l := q.byKey[key]
	if l == nil {
		l = &jobList{key: key}
		q.byKey[key] = l
		q.ring = append(q.ring, l)
	}
	l.jobs = append(l.jobs, job)
	q.n++
	q.mu.Unlock()
	q.wake()
	return true
}

// take returns the next job in turn, or nil when none waits.
func (q *workQueue) take() func() {
	q.mu.Lock()
	if q.n == 0 {
		q.mu.Unlock()
		return nil
	}
	l := q.ring[0]
	job := l.jobs[0]
	l.jobs[0] = nil
	l.jobs = l.jobs[1:]
	q.ring[0] = nil
	q.ring = q.ring[1:]
	if len(l.jobs) > 0 {
		q.ring = append(q.ring, l) // its next job waits for the others' turns
	} else {
		delete(q.byKey, l.key)
	}
	q.n--
	more := q.n > 0
	q.mu.Unlock()
	if more {
		q.wake() // another idle worker takes the next one
	}
	return job
}

// wake signals one idle worker without blocking.
func (q *workQueue) wake() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// len is the number of jobs waiting.
func (q *workQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}

// close refuses further jobs; workers finish what waits, then return.
func (q *workQueue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.closed {
		q.closed = true
		close(q.closing)
	}
}

// drop empties the queue, returning how many jobs were abandoned.
func (q *workQueue) drop() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := q.n
	q.byKey, q.ring, q.n = map[string]*jobList{}, nil, 0
	return n
}

// work runs jobs until ctx ends, or until the queue is closed and empty;
// jobs still waiting when ctx ends are abandoned.
func (q *workQueue) work(ctx context.Context, run func(job func())) {
	for ctx.Err() == nil {
		if job := q.take(); job != nil {
			run(job)
			continue
		}
		q.mu.Lock()
		closed, empty := q.closed, q.n == 0
		q.mu.Unlock()
		if closed && empty {
			return
		}
		if closed {
			continue // a job came in between take and close
		}
		select {
		case <-ctx.Done():
		case <-q.ready:
		case <-q.closing:
		}
	}
}
