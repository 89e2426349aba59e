package bot_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot/bot"
	"github.com/accessbot/accessbot/bot/slackfake"
)

func TestNewManagerValidates(t *testing.T) {
	d, err := bot.NewDispatcher(bot.DispatcherConfig{Router: bot.NewRouter(), Resolver: &stubResolver{}, Clients: bot.ClientsFunc(nil)})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		cfg  bot.ManagerConfig
		want string // "" = ok
	}{
		{"defaults", bot.ManagerConfig{AppToken: "xapp-1"}, ""},
		{"ten", bot.ManagerConfig{AppToken: "xapp-1", Connections: 10}, ""},
		{"eleven", bot.ManagerConfig{AppToken: "xapp-1", Connections: 11}, "slack.connections is 11, want 1 to 10"},
		{"negative", bot.ManagerConfig{AppToken: "xapp-1", Connections: -1}, "want 1 to 10"},
		{"bot token as app token", bot.ManagerConfig{AppToken: "xoxb-1"}, "must be an app-level token starting with xapp-"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := bot.NewManager(c.cfg, d, zerolog.New(io.Discard))
			switch {
			case c.want == "" && err != nil:
				t.Fatal(err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("err = %v, want %q", err, c.want)
			}
		})
	}
}

// TestManagerReconnects runs the Manager's own socket client against the
// fake: it replaces a socket that gets no PING for PingInterval, honours a
// 429's Retry-After on apps.connections.open, replaces a socket Slack
// disconnects, and acks on the new socket afterwards.
func TestManagerReconnects(t *testing.T) {
	cases := []struct {
		name  string
		opts  []slackfake.Option
		setup func(f *slackfake.Server)
		act   func(t *testing.T, f *slackfake.Server)
		opens int // apps.connections.open calls expected at least
		min   time.Duration
	}{
		{"no pings", []slackfake.Option{slackfake.WithPingInterval(0)}, nil, nil, 3, 0},
		{"rate limited open", nil, func(f *slackfake.Server) {
			f.FailNext("apps.connections.open", 1, http.StatusTooManyRequests, time.Second)
		}, nil, 2, time.Second},
		{"disconnect warning", nil, nil, func(t *testing.T, f *slackfake.Server) {
			if _, err := f.Disconnect("warning"); err != nil {
				t.Fatal(err)
			}
		}, 2, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := slackfake.New(append([]slackfake.Option{slackfake.WithPingInterval(100 * time.Millisecond)}, c.opts...)...)
			t.Cleanup(f.Close)
			f.AddTeam(slackfake.Team{ID: "T1", Name: "Acme"})
			if c.setup != nil {
				c.setup(f)
			}
			d, err := bot.NewDispatcher(bot.DispatcherConfig{Router: bot.NewRouter(), Resolver: &stubResolver{},
				Clients: bot.ClientsFunc(func(context.Context, string) (bot.WebAPI, error) { return nil, errors.New("no client") }),
				Log:     zerolog.New(io.Discard)})
			if err != nil {
				t.Fatal(err)
			}
			m, err := bot.NewManager(bot.ManagerConfig{AppToken: f.AppToken(), APIURL: f.URL(), Connections: 1,
				PingInterval: 400 * time.Millisecond}, d, zerolog.New(io.Discard))
			if err != nil {
				t.Fatal(err)
			}
			ctx, stop := context.WithCancel(context.Background())
			runErr := make(chan error, 1)
			started := time.Now()
			go func() { runErr <- m.Run(ctx) }()
			t.Cleanup(func() {
				stop()
				if err := <-runErr; err != nil {
					t.Errorf("Run: %v", err)
				}
			})
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if err := f.WaitForConnections(wctx, 1); err != nil {
				t.Fatal(err)
			}
			if c.act != nil {
				c.act(t, f)
			}
			waitUntil(t, 10*time.Second, "reconnects", func() bool {
				return f.CallCount("apps.connections.open") >= c.opens && m.Connected() == 1 && len(f.Conns()) == 1
			})
			if el := time.Since(started); el < c.min {
				t.Errorf("connected again after %v, before the %v Retry-After", el, c.min)
			}
			env := f.SendEvent(f.AppMention("T1", "U1", "C1", "hi"))
			if _, err := f.AwaitAck(wctx, env); err != nil {
				t.Fatalf("no ack after reconnecting: %v", err)
			}
		})
	}
}
