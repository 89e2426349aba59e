package bot

import (
	"sync"
	"time"
)

// answers remembers the ack payload of recently answered synchronous
// envelopes, so a redelivery (Slack retries when an ack is lost, e.g. on a
// socket that closed under it) gets the same answer without running the
// handler again. In process only: a redelivery that lands on another
// replica is acked empty.
type answers struct {
	now func() time.Time
	ttl time.Duration
	max int

	mu    sync.Mutex
	byEnv map[string]answer
	order []string
}

type answer struct {
	payload any
	until   time.Time
}

func newAnswers(max int, ttl time.Duration) *answers {
	return &answers{now: time.Now, ttl: ttl, max: max, byEnv: map[string]answer{}}
}

func (a *answers) put(envelopeID string, payload any) {
	if payload == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.byEnv[envelopeID]; !ok {
		a.order = append(a.order, envelopeID)
	}
	a.byEnv[envelopeID] = answer{payload: payload, until: a.now().Add(a.ttl)}
	for len(a.order) > a.max {
		delete(a.byEnv, a.order[0])
		a.order = a.order[1:]
	}
}

func (a *answers) get(envelopeID string) (any, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	ans, ok := a.byEnv[envelopeID]
	if !ok || !a.now().Before(ans.until) {
		return nil, false
	}
	return ans.payload, true
}
