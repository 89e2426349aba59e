package slackapi

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path"
	"strconv"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot/internal/metrics"
)

// holdGate is the http.RoundTripper under a Client's slack-go client, so
// every Web API method the client calls passes it. It keeps Slack's
// Retry-After per workspace and method: a 429 holds that method for every
// worker of this process and, through the Limiter (Redis when configured),
// of every replica; a call to a held method waits for the hold to end, or
// fails at once (ErrPaceExceeded) when its deadline, Retry.MaxWait or its
// wait budget (a job's) ends first. Nothing is sent while a hold is known.
//
// Bound. Let t be the moment a process first learns of a hold (its first
// 429 answer is recorded, or it finds the hold in Redis). A call that
// reaches Slack inside Slack's window is answered 429; it passed the gate
// before t (after t the gate holds it back until the window is over), and it
// is still counted in flight at t (a call stops counting only after its 429
// is recorded, which is at or after t). So the calls inside the wait are at
// most the calls in flight at t, less the one that opened the window: with
// one call per worker at a time, at most workers-1 across all replicas. Each
// process logs "slack method held" with new=true and in_flight at its t, so
// the bound can be checked after a storm (bot/slackapi/retryafter_test.go).
type holdGate struct {
	base    http.RoundTripper
	team    string
	lim     Limiter
	maxWait time.Duration
	log     zerolog.Logger

	mu       sync.Mutex
	until    map[string]time.Time // method -> end of the hold known here
	inFlight map[string]int       // method -> calls past the gate, unanswered
}

func newHoldGate(base http.RoundTripper, team string, lim Limiter, maxWait time.Duration, log zerolog.Logger) *holdGate {
	if base == nil {
		base = http.DefaultTransport
	}
	return &holdGate{base: base, team: team, lim: lim, maxWait: maxWait, log: log,
		until: map[string]time.Time{}, inFlight: map[string]int{}}
}

// holdKey is the Limiter key of a workspace's method hold.
func holdKey(team, method string) string { return "hold:" + team + ":" + method }

func (g *holdGate) RoundTrip(req *http.Request) (*http.Response, error) {
	method := path.Base(req.URL.Path)
	ctx := req.Context()
	if err := g.enter(ctx, method); err != nil {
		return nil, err
	}
	resp, err := g.base.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusTooManyRequests {
		g.leave(method)
		return resp, err
	}
	d := retryAfter(resp.Header.Get("Retry-After"))
	// Record the hold here before this call stops counting as in flight, so
	// the in_flight logged covers every call that may land inside the wait.
	isNew, n := g.learn(method, d)
	g.leave(method)
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if herr := g.lim.Hold(hctx, holdKey(g.team, method), d); herr != nil {
		g.log.Warn().Err(herr).Str("method", method).Str("team", g.team).Msg("could not share a Slack Retry-After hold")
	}
	g.logHeld(method, d, isNew, n, "429")
	return resp, nil
}

// enter waits until method is not held, here or in the Limiter, and counts
// the call as in flight.
func (g *holdGate) enter(ctx context.Context, method string) error {
	for {
		g.mu.Lock()
		wait := time.Until(g.until[method])
		if wait <= 0 {
			g.inFlight[method]++
		}
		g.mu.Unlock()
		if wait <= 0 {
			remote, err := g.lim.Held(ctx, holdKey(g.team, method))
			if err != nil || remote <= 0 {
				return nil // a failing Limiter has already fallen back in process
			}
			g.leave(method)
			isNew, n := g.learn(method, remote)
			g.logHeld(method, remote, isNew, n, "remote")
			wait = remote
		}
		if err := g.sleep(ctx, method, wait); err != nil {
			return err
		}
	}
}

func (g *holdGate) leave(method string) {
	g.mu.Lock()
	g.inFlight[method]--
	g.mu.Unlock()
}

// learn extends the hold known here to now+d. It reports whether the hold
// is news to this process and how many calls were then in flight.
func (g *holdGate) learn(method string, d time.Duration) (bool, int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := time.Now()
	cur := g.until[method]
	isNew := !cur.After(now)
	if end := now.Add(d); end.After(cur) {
		g.until[method] = end
	}
	return isNew, g.inFlight[method]
}

func (g *holdGate) logHeld(method string, d time.Duration, isNew bool, inFlight int, source string) {
	g.log.Info().Str("method", method).Str("team", g.team).Dur("hold", d).Bool("new", isNew).
		Int("in_flight", inFlight).Str("source", source).Msg("slack method held")
}

// sleep waits out a hold of d (plus a little jitter, so the workers released
// together do not trip the limit again at once), or fails at once if the
// caller could not wait that long anyway.
func (g *holdGate) sleep(ctx context.Context, method string, d time.Duration) error {
	// The caller's limit: Retry.MaxWait, its deadline, a job's wait budget.
	if w := callerWait(ctx, g.maxWait); w >= 0 && d > w {
		return fmt.Errorf("slack %s held %s by Retry-After, may wait %s: %w", method, d.Round(time.Millisecond),
			w.Round(time.Millisecond), paceExceeded{after: d})
	}
	d += rand.N(min(d/10, 250*time.Millisecond) + 1)
	metrics.SlackRetryWait.WithLabelValues(method).Add(d.Seconds())
	return sleepCtx(ctx, d)
}

// retryAfter reads Slack's Retry-After (whole seconds); a 429 without a
// usable one holds for a second.
func retryAfter(h string) time.Duration {
	secs, err := strconv.Atoi(h)
	if err != nil || secs <= 0 {
		return time.Second
	}
	return time.Duration(secs) * time.Second
}
