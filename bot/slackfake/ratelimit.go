package slackfake

import (
	"net/http"
	"time"
)

// rateLimit models Slack's limit on one method: once tripped for a team, every
// call of that method from that team is answered 429 until the window ends.
type rateLimit struct {
	retryAfter time.Duration
	trips      int                  // windows still to open
	until      map[string]time.Time // team -> end of its open window
	stats      RateLimitStats
	// capN, per: RateCap's limit; served holds each team's recent served calls.
	capN   int
	per    time.Duration
	served map[string][]time.Time
}

// RateLimitStats is what the fake counted for a method armed by RateLimit.
type RateLimitStats struct {
	// Limited is every 429 answered, the calls that opened a window included.
	Limited int
	// Windows is how many windows were opened.
	Windows int
	// InsideWait is the calls that arrived while their team's window was
	// open: calls made inside the Retry-After wait Slack asked for.
	InsideWait int
}

// RateLimit makes method behave as rate-limited the way Slack answers it:
// the next call from a team (after any FailNext faults) is answered 429 with
// Retry-After: retryAfter, and every call of method from that team in the
// following retryAfter is answered 429 too, with the time left (rounded up
// to whole seconds, as Slack's header carries). trips windows are opened in
// all; later calls are served normally. The window runs on the fake's clock.
func (s *Server) RateLimit(method string, retryAfter time.Duration, trips int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limits[method] = &rateLimit{retryAfter: retryAfter, trips: trips, until: map[string]time.Time{}}
}

// RateCap makes method behave as a Slack rate tier: a team may make n calls
// of it in any per (on the fake's clock); a call over that is answered 429
// with Retry-After until the oldest counted call leaves the window. Counts
// land in RateLimitCounts (Limited; Windows stays 0). It replaces RateLimit.
func (s *Server) RateCap(method string, n int, per time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limits[method] = &rateLimit{capN: n, per: per, until: map[string]time.Time{}, served: map[string][]time.Time{}}
}

// RateLimitCounts returns what the fake counted for method since RateLimit.
func (s *Server) RateLimitCounts(method string) RateLimitStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rl := s.limits[method]; rl != nil {
		return rl.stats
	}
	return RateLimitStats{}
}

// rateLimitedLocked decides whether a call of method from team is answered
// 429 and with which Retry-After.
func (s *Server) rateLimitedLocked(method, team string) (time.Duration, bool) {
	rl := s.limits[method]
	if rl == nil {
		return 0, false
	}
	now := s.now()
	if rl.capN > 0 {
		recent := rl.served[team]
		for len(recent) > 0 && !recent[0].After(now.Add(-rl.per)) {
			recent = recent[1:]
		}
		if len(recent) >= rl.capN {
			rl.served[team] = recent
			rl.stats.Limited++
			return recent[0].Add(rl.per).Sub(now), true
		}
		rl.served[team] = append(recent, now)
		return 0, false
	}
	if until, ok := rl.until[team]; ok && now.Before(until) {
		rl.stats.Limited++
		rl.stats.InsideWait++
		return until.Sub(now), true
	}
	if rl.trips <= 0 {
		return 0, false
	}
	rl.trips--
	rl.until[team] = now.Add(rl.retryAfter)
	rl.stats.Limited++
	rl.stats.Windows++
	return rl.retryAfter, true
}

// writeRateLimited answers a call refused by RateLimit.
func writeRateLimited(w http.ResponseWriter, retryAfter time.Duration) (int, string) {
	return writeFault(w, fault{status: http.StatusTooManyRequests, retryAfter: retryAfter})
}
