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

	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"
	"github.com/slack-go/slack"
)

// Connection limits (Slack allows up to 10 sockets per app).
const (
	DefaultConnections = 2
	MaxConnections     = 10
	// DefaultPingInterval is how long a socket may go without a ping from
	// Slack before it is taken for dead and replaced (slack-go's default).
	DefaultPingInterval = 30 * time.Second
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
	// PingInterval is how long a socket waits for a server PING before it
	// reconnects (0: DefaultPingInterval).
	PingInterval time.Duration
	HTTPClient   *http.Client
}

// Manager keeps N Socket Mode connections and feeds their frames to a Dispatcher.
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
	if cfg.PingInterval <= 0 {
		cfg.PingInterval = DefaultPingInterval
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
		wg.Go(func() {
			if err := m.keep(ctx, i); err != nil {
				cancel(err)
			}
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

// Reconnect backoff after a failed apps.connections.open or dial (slack-go's).
const (
	backoffMin = 100 * time.Millisecond
	backoffMax = 5 * time.Minute
)

// keep holds connection i open until ctx ends, reconnecting after a
// disconnect, a dead socket or a failed connect. It returns an error only
// when Slack refuses the token (or the API URL is wrong): retrying cannot help.
func (m *Manager) keep(ctx context.Context, i int) error {
	log := m.log.With().Int("conn", i).Logger()
	slot := newSocketSlot()
	defer slot.stop()
	api := slack.New("",
		slack.OptionAppLevelToken(m.cfg.AppToken),
		slack.OptionAPIURL(m.cfg.APIURL),
		slack.OptionHTTPClient(m.cfg.HTTPClient),
	)
	for attempt := 0; ctx.Err() == nil; {
		log.Debug().Msg("socket connecting")
		ws, err := m.dial(ctx, api)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if fatal := m.fatal(i, err); fatal != nil {
				log.Error().Err(err).Msg("socket mode authentication failed")
				return fatal
			}
			wait := min(backoffMin<<min(attempt, 20), backoffMax)
			if rl, ok := errors.AsType[*slack.RateLimitedError](err); ok {
				wait = max(wait, rl.RetryAfter)
			}
			attempt++
			log.Warn().Err(err).Int("attempt", attempt).Dur("backoff", wait).Msg("socket connection error, retrying")
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(wait):
			}
			continue
		}
		attempt = 0
		err = m.serve(ctx, slot, ws, log)
		if ctx.Err() != nil {
			return nil
		}
		log.Info().Err(err).Msg("socket closed, reconnecting")
	}
	return nil
}

// fatal says, for an error of apps.connections.open, why reconnecting cannot
// help; nil when it can.
func (m *Manager) fatal(conn int, err error) error {
	switch msg := err.Error(); msg {
	case "invalid_auth", "not_authed", "token_revoked", "account_inactive":
		return fmt.Errorf("socket mode connection %d: %w (%s): check slack.app_token, an app-level xapp- token with connections:write", conn, ErrSlackAuth, msg)
	}
	if sc, ok := errors.AsType[slack.StatusCodeError](err); ok && sc.Code == http.StatusNotFound {
		return fmt.Errorf("socket mode connection %d: apps.connections.open answered 404 at %s: check slack.api_url: %w", conn, m.cfg.APIURL, err)
	}
	return nil
}

// Socket limits. Slack drops responses of 20 KB or more, and gorilla splits
// a message larger than its write buffer into frames Slack does not join, so
// the buffer holds a whole ack (as slack-go's does). Slack's own frames are
// far below readLimit; it only bounds what a broken peer can make us hold.
const (
	writeBuffer      = 32 * 1024
	readLimit        = 8 << 20
	handshakeTimeout = 45 * time.Second
	writeTimeout     = 10 * time.Second
)

// dial asks Slack for a socket URL (apps.connections.open) and opens it.
func (m *Manager) dial(ctx context.Context, api *slack.Client) (*websocket.Conn, error) {
	_, url, err := api.StartSocketModeContext(ctx)
	if err != nil {
		return nil, err
	}
	dialer := websocket.Dialer{Proxy: http.ProxyFromEnvironment, HandshakeTimeout: handshakeTimeout, WriteBufferSize: writeBuffer}
	ws, resp, err := dialer.DialContext(ctx, url, http.Header{"Origin": {"https://api.slack.com"}})
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		// The URL carries a one-time ticket: name only the host.
		host := url
		if i := strings.Index(host, "?"); i >= 0 {
			host = host[:i]
		}
		return nil, fmt.Errorf("dial socket %s: %w", host, err)
	}
	ws.SetReadLimit(readLimit)
	return ws, nil
}

// errDisconnect ends a socket Slack asked us to leave.
var errDisconnect = errors.New("slack sent disconnect")

// serve reads one socket until it fails, Slack sends disconnect, no ping
// comes for PingInterval, or ctx ends. Frames are handled on this goroutine,
// which therefore never waits on handlers: envelopes without an answer on
// their ack are acked from here before any work is queued, and a slow
// handler's ack comes from its own goroutine.
func (m *Manager) serve(ctx context.Context, slot *socketSlot, ws *websocket.Conn, log zerolog.Logger) error {
	slot.attach(ws)
	defer slot.close(ws)
	// Closing the socket when ctx ends unblocks the read below; a frame read
	// after that is left unacked, so Slack redelivers it (to another replica)
	// rather than racing the drain.
	defer context.AfterFunc(ctx, func() { slot.stop(); slot.close(ws) })()
	ping := m.cfg.PingInterval
	_ = ws.SetReadDeadline(time.Now().Add(ping))
	ws.SetPingHandler(func(data string) error {
		_ = ws.SetReadDeadline(time.Now().Add(ping))
		// A failed pong shows as a failed read soon enough.
		_ = ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(writeTimeout))
		return nil
	})
	m.connected.Add(1)
	defer m.connected.Add(-1)
	log.Info().Msg("socket connected")
	return m.readLoop(ctx, func() ([]byte, error) {
		_, frame, err := ws.ReadMessage()
		return frame, err
	}, slot, log)
}

// readLoop hands each frame read to the dispatcher until a read fails, a
// disconnect comes, or ctx ends. read must return a new slice each time
// (gorilla's ReadMessage does): the envelopes keep slices of their frames.
func (m *Manager) readLoop(ctx context.Context, read func() ([]byte, error), acker Acker, log zerolog.Logger) error {
	for {
		frame, err := read()
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read socket: %w", err)
		}
		if reason, ok := m.d.handleFrame(ctx, acker, frame, true, log); ok {
			log.Info().Str("reason", reason).Msg("slack asked to reconnect")
			return fmt.Errorf("%w (%s)", errDisconnect, reason)
		}
	}
}

// socketSlot is one of the Manager's connections, through its successive
// sockets. Acks come from the reading goroutine and from handlers'
// goroutines, and gorilla allows one writer at a time, so writes hold mu.
// An ack whose socket closed before it was written (a disconnect, a refresh)
// goes out on the slot's next socket, as slack-go's did: Slack takes an ack
// on any of the app's sockets, and otherwise redelivers an envelope whose
// answer may already be lost.
type socketSlot struct {
	mu      sync.Mutex
	ws      *websocket.Conn // nil between sockets
	ready   chan struct{}   // closed when ws is set, or when stopped
	stopped bool
}

func newSocketSlot() *socketSlot { return &socketSlot{ready: make(chan struct{})} }

// attach makes ws the socket acks are written to.
func (s *socketSlot) attach(ws *websocket.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	s.ws = ws
	close(s.ready)
}

// detach stops writing to ws (unless another socket replaced it already).
func (s *socketSlot) detach(ws *websocket.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ws == ws && !s.stopped {
		s.ws, s.ready = nil, make(chan struct{})
	}
}

// close detaches ws, says goodbye and closes it.
func (s *socketSlot) close(ws *websocket.Conn) {
	s.detach(ws)
	_ = ws.WriteControl(websocket.CloseMessage,
		websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	_ = ws.Close()
}

// stop ends the slot (shutdown): acks not yet written fail at once.
func (s *socketSlot) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.stopped {
		s.stopped, s.ws = true, nil
		select {
		case <-s.ready:
		default:
			close(s.ready)
		}
	}
}

// AckCtx writes {"envelope_id":…,"payload":…} (payload left out when nil)
// on the slot's socket, waiting for the next one (until ctx ends) when
// there is none or the write fails.
func (s *socketSlot) AckCtx(ctx context.Context, envelopeID string, payload any) error {
	frame, err := ackFrame(envelopeID, payload)
	if err != nil {
		return err
	}
	for {
		s.mu.Lock()
		ws, ready, stopped := s.ws, s.ready, s.stopped
		if ws != nil {
			deadline := time.Now().Add(writeTimeout)
			if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
				deadline = d
			}
			_ = ws.SetWriteDeadline(deadline)
			err = ws.WriteMessage(websocket.TextMessage, frame)
		}
		s.mu.Unlock()
		switch {
		case stopped:
			return fmt.Errorf("ack %s: shutting down, socket closed", envelopeID)
		case ws != nil && err == nil:
			return nil
		case ws != nil:
			// gorilla fails every write after one failed: this socket is done.
			s.detach(ws)
			_ = ws.Close()
			if ctx.Err() != nil {
				return fmt.Errorf("ack %s: %w", envelopeID, err)
			}
			continue
		}
		select {
		case <-ready:
		case <-ctx.Done():
			return fmt.Errorf("ack %s: no socket open: %w", envelopeID, ctx.Err())
		}
	}
}
