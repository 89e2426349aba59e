package bot_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack/socketmode"

	"github.com/accessbot/accessbot/bot"
)

// syncBuffer is a log sink written from handler goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// lines decodes every JSON line written so far.
func (s *syncBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

// TestEnvelopeLogFields: the fields an envelope's lines carry (added only
// when a line is written, see logStrs) are all there, once each, on the
// line of a handler that fails and on one the handler writes itself; the
// base logger's own fields stay; lines below the level are not written.
func TestEnvelopeLogFields(t *testing.T) {
	var sink syncBuffer
	r := bot.NewRouter()
	r.Command("/access", "fail", func(_ context.Context, req *bot.Request) error {
		req.Log.Debug().Msg("below the level")
		req.Log.Warn().Str("own", "x").Msg("handler's own line")
		return errors.New("db down")
	})
	d, err := bot.NewDispatcher(bot.DispatcherConfig{
		Router: r, Resolver: &stubResolver{},
		Clients:     bot.ClientsFunc(func(context.Context, string) (bot.WebAPI, error) { return nil, errors.New("no client") }),
		AckDeadline: time.Second,
		Log:         zerolog.New(&sink).Level(zerolog.InfoLevel).With().Str("service", "accessbot").Logger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.Start(ctx)
	t.Cleanup(func() { cancel(); d.Wait() })
	acks := newAckRecorder()
	payload, _ := json.Marshal(map[string]string{"team_id": "T1", "user_id": "U1", "command": "/access", "text": "fail", "channel_id": "C1"})
	d.Handle(ctx, acks, &socketmode.Request{Type: "slash_commands", EnvelopeID: "e-fail", Payload: payload})
	waitFor(t, "the ack", func() bool { return len(acks.get("e-fail")) > 0 })

	want := map[string]any{"service": "accessbot", "envelope": "e-fail", "type": "slash_commands",
		"command": "/access", "team": "T1", "user": "U1", "tenant": "t1"}
	seen := map[string]map[string]any{}
	for _, l := range sink.lines(t) {
		msg, _ := l["message"].(string)
		seen[msg] = l
		if msg == "below the level" {
			t.Errorf("a debug line was written at level info: %v", l)
		}
	}
	for _, msg := range []string{"handler failed", "handler's own line"} {
		l, ok := seen[msg]
		if !ok {
			t.Fatalf("no %q line in %v", msg, seen)
		}
		for k, v := range want {
			if l[k] != v {
				t.Errorf("%q line: %s = %v, want %v (line %v)", msg, k, l[k], v, l)
			}
		}
	}
	if seen["handler's own line"]["own"] != "x" || seen["handler failed"]["error"] != "db down" {
		t.Errorf("the lines' own fields are missing: %v", seen)
	}
	// Each field once: a line with a key twice is still valid JSON to
	// Unmarshal (the last wins), so count in the raw text.
	sink.mu.Lock()
	raw := sink.b.String()
	sink.mu.Unlock()
	for _, line := range strings.Split(strings.TrimSpace(raw), "\n") {
		if !strings.Contains(line, "handler failed") {
			continue
		}
		for k := range want {
			if n := strings.Count(line, `"`+k+`":`); n != 1 {
				t.Errorf("field %s appears %d times in %s", k, n, line)
			}
		}
	}
}
