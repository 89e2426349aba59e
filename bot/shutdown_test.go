package bot_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack/socketmode"

	"github.com/accessbot/accessbot/bot"
)

// shutdownDispatcher runs a dispatcher whose "slow" button handler calls
// slow, with the given workers and grace.
func shutdownDispatcher(t *testing.T, workers int, grace time.Duration, slow func(ctx context.Context) error) *bot.Dispatcher {
	t.Helper()
	r := bot.NewRouter()
	r.Action("slow", func(ctx context.Context, _ *bot.Request) error { return slow(ctx) })
	d, err := bot.NewDispatcher(bot.DispatcherConfig{
		Router: r, Resolver: &stubResolver{}, Workers: workers, ShutdownGrace: grace,
		Clients: bot.ClientsFunc(func(context.Context, string) (bot.WebAPI, error) { return nil, errors.New("no client") }),
		Log:     zerolog.New(io.Discard),
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func clickSlow(ctx context.Context, d *bot.Dispatcher, acks bot.Acker, i int) {
	payload := `{"type":"block_actions","team":{"id":"T1"},"user":{"id":"U1"},"trigger_id":"tr` + strconv.Itoa(i) +
		`","actions":[{"block_id":"b","action_id":"slow","value":"v","action_ts":"1"}]}`
	d.Handle(ctx, acks, &socketmode.Request{Type: "interactive", EnvelopeID: "e" + strconv.Itoa(i), Payload: json.RawMessage(payload)})
}

// waitDone waits for d.Wait to return, failing after limit.
func waitDone(t *testing.T, d *bot.Dispatcher, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	done := make(chan struct{})
	go func() { d.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(limit):
		t.Fatalf("dispatcher still busy %v after shutdown", limit)
	}
	return time.Since(start)
}

// TestShutdownFinishesQueuedWork: acked work queued behind slow handlers when
// shutdown starts is still done within the grace period, not dropped.
func TestShutdownFinishesQueuedWork(t *testing.T) {
	var done atomic.Int32
	d := shutdownDispatcher(t, 2, 10*time.Second, func(ctx context.Context) error {
		select {
		case <-time.After(50 * time.Millisecond): // a slow Web API call
		case <-ctx.Done():
			return ctx.Err()
		}
		done.Add(1)
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	d.Start(ctx)
	acks := newAckRecorder()
	const n = 10
	for i := range n {
		clickSlow(ctx, d, acks, i)
	}
	if st := d.Stats(); st.Queued+int(st.Running) < n-2 {
		t.Fatalf("stats %+v: want most of the %d jobs still waiting when shutdown starts", st, n)
	}
	cancel()
	took := waitDone(t, d, 10*time.Second)
	if got := done.Load(); got != n {
		t.Errorf("%d of %d queued jobs done after shutdown (took %v), want all", got, n, took)
	}
	if st := d.Stats(); st.Dropped != 0 || st.Queued != 0 {
		t.Errorf("stats %+v, want nothing dropped or left", st)
	}
	// Work arriving after shutdown started is refused and counted.
	clickSlow(ctx, d, acks, n)
	if st := d.Stats(); st.Dropped != 1 {
		t.Errorf("after shutdown: stats %+v, want the late job dropped", st)
	}
}

// TestShutdownGraceBoundsTheDrain: a handler running past the grace period
// has its context cancelled, and the work still queued behind it is dropped
// and counted, so shutdown ends near the grace period.
func TestShutdownGraceBoundsTheDrain(t *testing.T) {
	var started, cancelled, ran atomic.Int32
	d := shutdownDispatcher(t, 1, 200*time.Millisecond, func(ctx context.Context) error {
		if started.Add(1) == 1 { // the first job hangs until cancelled
			<-ctx.Done()
			cancelled.Add(1)
			return ctx.Err()
		}
		ran.Add(1)
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	d.Start(ctx)
	acks := newAckRecorder()
	clickSlow(ctx, d, acks, 0)
	waitUntil(t, 5*time.Second, "the worker busy", func() bool { return d.Stats().Running == 1 })
	const queued = 3
	for i := 1; i <= queued; i++ {
		clickSlow(ctx, d, acks, i)
	}
	cancel()
	took := waitDone(t, d, 5*time.Second)
	if took < 150*time.Millisecond {
		t.Errorf("shutdown took %v, want about the 200ms grace", took)
	}
	if cancelled.Load() != 1 || ran.Load() != 0 {
		t.Errorf("hanging handler cancelled %d times, %d queued ran; want 1 and 0", cancelled.Load(), ran.Load())
	}
	if st := d.Stats(); st.Dropped != queued || st.Queued != 0 || st.Running != 0 {
		t.Errorf("stats %+v, want %d dropped and nothing left", st, queued)
	}
}
