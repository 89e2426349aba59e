package bot

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// Connection limits (Slack allows up to 10 sockets per app).
const (
	DefaultConnections = 2
	MaxConnections     = 10
)

// ErrSlackAuth marks a fatal Socket Mode error: the app token was rejected
// and reconnecting cannot help.
var ErrSlackAuth = errors.New("slack rejected the app-level token")

// ManagerConfig configures the Socket Mode connections.
type ManagerConfig struct {
	AppToken string // xapp-… with connections:write
	APIURL   string // Web API base, ending in "/"
	// Connections is how many sockets to keep (default 2, at most 10): a
	// refresh or disconnect on one never leaves the app unreachable.
	Connections int
	// PingInterval is how long slack-go waits for a server PING before it
	// reconnects (0: slack-go's 30 s).
	PingInterval time.Duration
	HTTPClient   *http.Client
	Debug        bool // slack-go socketmode debug lines, at debug level
}

// Manager keeps N Socket Mode connections and feeds their envelopes to a Dispatcher.
type Manager struct {
	cfg       ManagerConfig
	d         *Dispatcher
	log       zerolog.Logger
	connected atomic.Int32
}

// NewManager checks cfg.
func NewManager(cfg ManagerConfig, d *Dispatcher, log zerolog.Logger) (*Manager, error) {
	if d == nil {
		return nil, fmt.Errorf("new socket manager: no dispatcher")
	}
	if !strings.HasPrefix(cfg.AppToken, "xapp-") {
		return nil, fmt.Errorf("new socket manager: slack.app_token must be an app-level token starting with xapp-")
	}
	if cfg.APIURL == "" {
		cfg.APIURL = slack.APIURL
	}
	if !strings.HasSuffix(cfg.APIURL, "/") {
		cfg.APIURL += "/"
	}
	if cfg.Connections == 0 {
		cfg.Connections = DefaultConnections
	}
	if cfg.Connections < 1 || cfg.Connections > MaxConnections {
		return nil, fmt.Errorf("new socket manager: slack.connections is %d, want 1 to %d", cfg.Connections, MaxConnections)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	return &Manager{cfg: cfg, d: d, log: log}, nil
}

// Connected is the number of sockets currently open (for readiness).
func (m *Manager) Connected() int { return int(m.connected.Load()) }

// Run connects and serves until ctx ends (returning nil) or Slack rejects the
// token (returning an error wrapping ErrSlackAuth). When ctx ends the sockets
// close and no envelope is read any more, then Run waits for the dispatcher
// to finish acked work (see DispatcherConfig.ShutdownGrace).
func (m *Manager) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	m.d.Start(ctx)

	var wg sync.WaitGroup
	for i := range m.cfg.Connections {
		api := slack.New("",
			slack.OptionAppLevelToken(m.cfg.AppToken),
			slack.OptionAPIURL(m.cfg.APIURL),
			slack.OptionHTTPClient(m.cfg.HTTPClient),
		)
		opts := []socketmode.Option{socketmode.OptionLog(zlogWriter{m.log.With().Int("conn", i).Logger()})}
		if m.cfg.Debug {
			opts = append(opts, socketmode.OptionDebug(true))
		}
		if m.cfg.PingInterval > 0 {
			opts = append(opts, socketmode.OptionPingInterval(m.cfg.PingInterval))
		}
		sm := socketmode.New(api, opts...)
		log := m.log.With().Int("conn", i).Logger()
		wg.Go(func() { m.drain(ctx, sm, log) })
		wg.Go(func() {
			err := sm.RunContext(ctx)
			if ctx.Err() != nil {
				return
			}
			cancel(m.fatal(i, err))
		})
	}
	<-ctx.Done()
	wg.Wait()
	m.d.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// fatal explains why a connection's run loop gave up.
func (m *Manager) fatal(conn int, err error) error {
	if err == nil {
		err = errors.New("socket mode loop ended")
	}
	switch msg := err.Error(); {
	case msg == "invalid_auth" || msg == "not_authed" || msg == "token_revoked" || msg == "account_inactive":
		return fmt.Errorf("socket mode connection %d: %w (%s): check slack.app_token, an app-level xapp- token with connections:write", conn, ErrSlackAuth, msg)
	}
	if sc, ok := errors.AsType[slack.StatusCodeError](err); ok && sc.Code == http.StatusNotFound {
		return fmt.Errorf("socket mode connection %d: apps.connections.open answered 404 at %s: check slack.api_url: %w", conn, m.cfg.APIURL, err)
	}
	return fmt.Errorf("socket mode connection %d stopped: %w", conn, err)
}

// drain reads one client's events and must never wait on handlers: while it
// waits, slack-go stops reading the socket, later envelopes wait unacked and
// Slack's pings go unseen until the connection is dropped. Envelopes go to
// the dispatcher (which acks at once and never blocks), the rest are logged.
func (m *Manager) drain(ctx context.Context, sm *socketmode.Client, log zerolog.Logger) {
	m.drainEvents(ctx, sm.Events, sm, log)
}

// drainEvents is drain over a client's event channel and acker.
func (m *Manager) drainEvents(ctx context.Context, events <-chan socketmode.Event, sm Acker, log zerolog.Logger) {
	up := false
	setUp := func(v bool) {
		if v != up {
			up = v
			if v {
				m.connected.Add(1)
			} else {
				m.connected.Add(-1)
			}
		}
	}
	defer setUp(false)
	for {
		select {
		case <-ctx.Done():
			return
		case evt := <-events:
			if ctx.Err() != nil {
				// Shutting down: leave it unacked so Slack redelivers it
				// to another replica rather than racing the drain.
				return
			}
			switch evt.Type {
			case socketmode.EventTypeConnecting:
				setUp(false)
				log.Debug().Msg("socket connecting")
			case socketmode.EventTypeConnected:
				setUp(true)
				log.Info().Msg("socket connected")
			case socketmode.EventTypeHello:
				if evt.Request != nil {
					log.Debug().Int("num_connections", evt.Request.NumConnections).Str("host", evt.Request.DebugInfo.Host).Msg("socket hello")
				}
			case socketmode.EventTypeConnectionError:
				setUp(false)
				ev := &slack.ConnectionErrorEvent{}
				if e, ok := evt.Data.(*slack.ConnectionErrorEvent); ok {
					ev = e
				}
				log.Warn().Err(ev.ErrorObj).Int("attempt", ev.Attempt).Dur("backoff", ev.Backoff).Msg("socket connection error, retrying")
			case socketmode.EventTypeInvalidAuth:
				log.Error().Msg("socket mode authentication failed")
			case socketmode.EventTypeIncomingError:
				setUp(false)
				if e, ok := evt.Data.(*slack.IncomingEventError); ok {
					log.Warn().Err(e.ErrorObj).Msg("socket read error")
				}
			case socketmode.EventTypeErrorWriteFailed:
				if e, ok := evt.Data.(*socketmode.ErrorWriteFailed); ok {
					l := log.Warn().Err(e.Cause)
					if e.Response != nil {
						l = l.Str("envelope", e.Response.EnvelopeID)
					}
					l.Msg("socket write failed")
				}
			case socketmode.EventTypeErrorBadMessage:
				if e, ok := evt.Data.(*socketmode.ErrorBadMessage); ok {
					m.d.HandleBadMessage(ctx, sm, e)
				}
			case socketmode.EventTypeEventsAPI, socketmode.EventTypeSlashCommand, socketmode.EventTypeInteractive:
				if evt.Request != nil {
					m.d.handle(ctx, sm, evt.Request, evt.Data)
				}
			default:
				log.Debug().Str("event", string(evt.Type)).Msg("socket event ignored")
			}
		}
	}
}

// zlogWriter routes slack-go's debug logger into zerolog at debug level.
type zlogWriter struct{ log zerolog.Logger }

func (z zlogWriter) Output(_ int, s string) error {
	z.log.Debug().Str("src", "slack-go").Msg(strings.TrimSpace(s))
	return nil
}
