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
}

type jobList struct {
	key  string
	jobs []func()
}

func newWorkQueue(limit int) *workQueue {
	return &workQueue{byKey: map[string]*jobList{}, limit: limit, ready: make(chan struct{}, 1)}
}

// put queues job under key (a workspace id; "" when unknown). It reports
// false, keeping nothing, when limit jobs are already waiting.
func (q *workQueue) put(key string, job func()) bool {
	q.mu.Lock()
	if q.n >= q.limit {
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

// work runs jobs until ctx ends; jobs still waiting then are abandoned.
func (q *workQueue) work(ctx context.Context, run func(job func())) {
	for ctx.Err() == nil {
		if job := q.take(); job != nil {
			run(job)
			continue
		}
		select {
		case <-ctx.Done():
		case <-q.ready:
		}
	}
}
