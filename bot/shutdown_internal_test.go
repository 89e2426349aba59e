package bot

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"testing"

	"github.com/rs/zerolog"
)

type countingAcker struct{ n atomic.Int32 }

func (a *countingAcker) AckCtx(context.Context, string, any) error { a.n.Add(1); return nil }

type nobody struct{}

func (nobody) Resolve(context.Context, string, string) (Actor, error) {
	return Actor{}, errors.New("nobody")
}
func (nobody) Invalidate(context.Context, string, string) error             { return nil }
func (nobody) ProfileChanged(context.Context, string, string, string) error { return nil }

// TestDrainReadsNothingAfterShutdown: once ctx ends, an envelope the socket
// read returns is neither acked nor dispatched, so Slack
// redelivers it (to another replica) instead of it racing the drain.
func TestDrainReadsNothingAfterShutdown(t *testing.T) {
	r := NewRouter()
	r.Event("app_mention", NoActor, func(context.Context, *Request) error { return nil })
	d, err := NewDispatcher(DispatcherConfig{Router: r, Resolver: nobody{},
		Clients: ClientsFunc(func(context.Context, string) (WebAPI, error) { return nil, errors.New("no client") }),
		Log:     zerolog.New(io.Discard)})
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewManager(ManagerConfig{AppToken: "xapp-test"}, d, zerolog.New(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	acker := &countingAcker{}
	d.Start(ctx)
	frame := []byte(`{"envelope_id":"e1","type":"events_api","payload":{"type":"event_callback","team_id":"T1",` +
		`"event":{"type":"app_mention","user":"U1","text":"hi","channel":"C1"}}}`)
	// The read returns a frame, but shutdown began while it waited.
	reads := 0
	read := func() ([]byte, error) {
		if reads++; reads > 1 {
			return nil, io.EOF
		}
		return frame, nil
	}
	err = m.readLoop(ctx, read, acker, zerolog.New(io.Discard))
	if err != nil {
		t.Errorf("read loop after shutdown: %v, want nil", err)
	}
	d.Wait()
	if n := acker.n.Load(); n != 0 {
		t.Errorf("%d envelopes acked after shutdown started, want none", n)
	}
	if st := d.Stats(); st.Queued != 0 || st.Dropped != 0 || st.Running != 0 {
		t.Errorf("stats %+v: an envelope was dispatched after shutdown started", st)
	}
}
