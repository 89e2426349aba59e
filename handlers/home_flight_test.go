package handlers_test

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot/bot"
	"github.com/accessbot/accessbot/bot/identity"
	"github.com/accessbot/accessbot/handlers"
)

// gatedPublisher records publishes; the first waits until released.
type gatedPublisher struct {
	bot.WebAPI
	mu       sync.Mutex
	views    []slack.HomeTabViewRequest
	started  chan struct{}
	release  chan struct{}
	inFlight atomic.Bool
}

func (p *gatedPublisher) PublishView(_ context.Context, _ string, v slack.HomeTabViewRequest, _ string) (*slack.ViewResponse, error) {
	p.mu.Lock()
	first := len(p.views) == 0
	p.views = append(p.views, v)
	p.mu.Unlock()
	if first {
		close(p.started)
		<-p.release
	}
	return &slack.ViewResponse{}, nil
}

func (p *gatedPublisher) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.views)
}

func (p *gatedPublisher) last() slack.HomeTabViewRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.views[len(p.views)-1]
}

// TestHomeOpensCoalesced: the first opens of a Home, sent before it was
// ever published, carry no view. Opens that come while one renders are done
// after it, and find it current: one publish, not one per open. An open
// sent before the publish reached Slack (no view, or the view from before)
// is answered by it for HomeInFlight; after that the view an open carries
// is believed again.
func TestHomeOpensCoalesced(t *testing.T) {
	ctx := context.Background()
	st, svc, ten, users := homeFixture(t)
	api := &gatedPublisher{started: make(chan struct{}), release: make(chan struct{})}
	var skew atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	o := handlers.NewHomeOpener(handlers.Deps{Requests: handlers.NewRequests(svc, st, zerolog.Nop()),
		HomeVersions: st, Published: identity.NewMemoryCache(0, now), Now: now})
	actor := &bot.Actor{TeamID: "T1", SlackUserID: "U1", Tenant: *ten, User: *users["rita"]}
	open := func(raw []byte) error {
		req := &bot.Request{Kind: bot.KindEvent, TeamID: "T1", UserID: "U1", Actor: actor, API: api, Log: zerolog.Nop(),
			Event: &bot.Event{Type: "app_home_opened", Raw: raw}}
		return o.Open(ctx, req)
	}
	noView := []byte(`{"type":"app_home_opened","user":"U1","channel":"D1","tab":"home"}`)
	withView := func(meta string) []byte {
		b, err := json.Marshal(map[string]any{"type": "app_home_opened", "user": "U1", "channel": "D1", "tab": "home",
			"view": map[string]any{"id": "V1", "type": "home", "private_metadata": meta}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	first := make(chan error, 1)
	go func() { first <- open(noView) }()
	<-api.started // the first open is publishing
	for range 3 {
		if err := open(noView); err != nil { // returns at once: done after the first
			t.Fatal(err)
		}
	}
	close(api.release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if n := api.count(); n != 1 {
		t.Fatalf("4 opens without a view, 3 of them during the first's publish: %d publishes, want 1", n)
	}

	// Sent before the publish reached Slack: no view, or an older one.
	published := api.last().PrivateMetadata
	for _, raw := range [][]byte{noView, withView("home2.1.0.0.1.x.y")} {
		if err := open(raw); err != nil {
			t.Fatal(err)
		}
	}
	if n := api.count(); n != 1 {
		t.Fatalf("opens sent before the publish landed: %d publishes, want 1", n)
	}
	if err := open(withView(published)); err != nil {
		t.Fatal(err)
	}
	if n := api.count(); n != 1 {
		t.Fatalf("an open showing the published view: %d publishes, want 1", n)
	}

	// Long after the render, an open without a view means Slack has none.
	skew.Store(int64(handlers.HomeInFlight + time.Second))
	if err := open(noView); err != nil {
		t.Fatal(err)
	}
	if n := api.count(); n != 2 {
		t.Fatalf("an open without a view %s after the last render: %d publishes, want 2", handlers.HomeInFlight+time.Second, n)
	}
}
