package slackfake

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
)

// Envelope types of Socket Mode.
const (
	TypeEventsAPI     = "events_api"
	TypeInteractive   = "interactive"
	TypeSlashCommands = "slash_commands"
)

// Disconnect reasons Slack sends (too_many_websockets is undocumented but
// seen in the field when an app opens more than 10 sockets).
const (
	ReasonWarning           = "warning"
	ReasonRefreshRequested  = "refresh_requested"
	ReasonLinkDisabled      = "link_disabled"
	ReasonTooManyWebsockets = "too_many_websockets"
)

// approxConnectionTime is what real hello frames report (seconds).
const approxConnectionTime = 18060

// Envelope is one Socket Mode envelope as sent on the wire.
type Envelope struct {
	EnvelopeID             string          `json:"envelope_id"`
	Type                   string          `json:"type"`
	AcceptsResponsePayload bool            `json:"accepts_response_payload"`
	Payload                json.RawMessage `json:"payload"`
	RetryAttempt           int             `json:"retry_attempt"`
	RetryReason            string          `json:"retry_reason"`
}

// Delivery records one write of an envelope to a socket.
type Delivery struct {
	Envelope Envelope
	ConnID   int
	Time     time.Time
}

// envelope is the fake's bookkeeping for a sent envelope.
type envelope struct {
	Envelope
	raw   []byte // SendRaw frames: written as is, never acked
	acked bool
	timer *time.Timer
}

// conn is one open socket.
type conn struct {
	id     int
	ws     *websocket.Conn
	wmu    sync.Mutex
	done   chan struct{}
	once   sync.Once
	opened time.Time
}

func (c *conn) write(frame []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return c.ws.WriteMessage(websocket.TextMessage, frame)
}

// shut closes the socket; graceful sends a close frame first.
func (c *conn) shut(graceful bool) {
	c.once.Do(func() {
		close(c.done)
		if graceful {
			c.wmu.Lock()
			_ = c.ws.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
			c.wmu.Unlock()
		}
		_ = c.ws.UnderlyingConn().Close()
	})
}

// sockets is guarded by Server.mu.
type sockets struct {
	conns      []*conn
	opening    int
	nextID     int
	rr         int
	queue      []*envelope
	envs       map[string]*envelope
	deliveries []Delivery
	ends       []ConnEnd
	connects   int
	rejected   int
	pongs      map[int]int
}

func (k *sockets) init() {
	k.envs = map[string]*envelope{}
	k.pongs = map[int]int{}
}

var upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

func (s *Server) serveSocket(w http.ResponseWriter, r *http.Request) {
	ticket := r.URL.Query().Get("ticket")
	s.mu.Lock()
	valid := s.tickets[ticket] && !s.closed
	delete(s.tickets, ticket)
	full := len(s.conns)+s.opening >= s.cfg.maxSockets
	if valid && !full {
		s.opening++
	}
	s.mu.Unlock()
	if !valid {
		http.Error(w, "invalid ticket", http.StatusUnauthorized)
		return
	}
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		if !full {
			s.mu.Lock()
			s.opening--
			s.mu.Unlock()
		}
		return
	}
	s.mu.Lock()
	s.nextID++
	c := &conn{id: s.nextID, ws: ws, done: make(chan struct{}), opened: time.Now()}
	if full {
		s.rejected++
		s.mu.Unlock()
		_ = c.write(s.disconnectFrame(ReasonTooManyWebsockets, c.id))
		c.shut(true)
		return
	}
	// Register before hello so the fake and the client agree the socket is
	// open once hello arrives; holding wmu keeps envelopes behind hello.
	c.wmu.Lock()
	s.opening--
	s.conns = append(s.conns, c)
	s.connects++
	n := len(s.conns)
	queued := s.queue
	s.queue = nil
	s.notifyLocked()
	s.mu.Unlock()

	hello, _ := json.Marshal(map[string]any{
		"type":            "hello",
		"num_connections": n,
		"connection_info": map[string]any{"app_id": s.cfg.appID},
		"debug_info": map[string]any{
			"host": fmt.Sprintf("applink-fake-%d", c.id), "build_number": 1,
			"approximate_connection_time": approxConnectionTime,
		},
	})
	_ = ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	err = ws.WriteMessage(websocket.TextMessage, hello)
	c.wmu.Unlock()
	if err != nil {
		s.dropConn(c, false)
		s.mu.Lock()
		s.queue = append(queued, s.queue...)
		s.mu.Unlock()
		return
	}
	ws.SetPongHandler(func(string) error {
		s.mu.Lock()
		s.pongs[c.id]++
		s.notifyLocked()
		s.mu.Unlock()
		return nil
	})
	go s.readLoop(c)
	if s.cfg.pingInterval > 0 {
		go s.pingLoop(c)
	}
	for _, env := range queued {
		s.deliver(env)
	}
}

func (s *Server) disconnectFrame(reason string, connID int) []byte {
	b, _ := json.Marshal(map[string]any{
		"type": "disconnect", "reason": reason,
		"debug_info": map[string]any{"host": fmt.Sprintf("applink-fake-%d", connID)},
	})
	return b
}

func (s *Server) pingLoop(c *conn) {
	t := time.NewTicker(s.cfg.pingInterval)
	defer t.Stop()
	for n := 1; ; n++ {
		select {
		case <-c.done:
			return
		case <-t.C:
			c.wmu.Lock()
			err := c.ws.WriteControl(websocket.PingMessage, []byte(strconv.Itoa(n)), time.Now().Add(5*time.Second))
			c.wmu.Unlock()
			if err != nil {
				s.dropConn(c, false)
				return
			}
		}
	}
}

// readLoop records acks until the socket fails, then how it ended.
func (s *Server) readLoop(c *conn) {
	defer s.dropConn(c, false)
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			s.recordEnd(c, err)
			return
		}
		var a struct {
			EnvelopeID string          `json:"envelope_id"`
			Payload    json.RawMessage `json:"payload"`
		}
		if json.Unmarshal(data, &a) != nil || a.EnvelopeID == "" {
			continue
		}
		s.mu.Lock()
		env, known := s.envs[a.EnvelopeID]
		if known {
			env.acked = true
			if env.timer != nil {
				env.timer.Stop()
			}
			s.applyAckLocked(env, a.Payload)
		}
		if string(a.Payload) == "null" {
			a.Payload = nil
		}
		s.acks = append(s.acks, Ack{EnvelopeID: a.EnvelopeID, Payload: a.Payload, ConnID: c.id, Time: s.now(), Known: known})
		s.notifyLocked()
		s.mu.Unlock()
	}
}

// ConnEnd is how a socket ended.
type ConnEnd struct {
	ID int
	// ByClient: the client ended it (the fake had not closed it).
	ByClient bool
	// Clean: the client said goodbye with a close frame (normal closure or
	// going away) before closing; a killed process or a cut network does not.
	Clean bool
	Time  time.Time
}

func (s *Server) recordEnd(c *conn, err error) {
	byServer := false
	select {
	case <-c.done:
		byServer = true
	default:
	}
	clean := !byServer && websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway)
	s.mu.Lock()
	s.ends = append(s.ends, ConnEnd{ID: c.id, ByClient: !byServer, Clean: clean, Time: s.now()})
	s.notifyLocked()
	s.mu.Unlock()
}

// ConnEnds lists the sockets that ended, in the order they did.
func (s *Server) ConnEnds() []ConnEnd {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]ConnEnd(nil), s.ends...)
}

// dropConn forgets a socket and closes it.
func (s *Server) dropConn(c *conn, graceful bool) {
	s.mu.Lock()
	for i, x := range s.conns {
		if x == c {
			s.conns = append(s.conns[:i:i], s.conns[i+1:]...)
			s.notifyLocked()
			break
		}
	}
	s.mu.Unlock()
	c.shut(graceful)
}

// deliver writes env to one open socket (round robin), or queues it until
// a socket connects, as Slack keeps retrying while no socket is open.
func (s *Server) deliver(env *envelope) {
	frame := env.raw
	if frame == nil {
		frame, _ = json.Marshal(env.Envelope)
	}
	for {
		s.mu.Lock()
		if len(s.conns) == 0 {
			s.queue = append(s.queue, env)
			s.mu.Unlock()
			return
		}
		c := s.conns[s.rr%len(s.conns)]
		s.rr++
		s.mu.Unlock()
		// Stamped before the write: an ack can be recorded before the
		// write returns.
		at := s.now()
		if err := c.write(frame); err != nil {
			s.dropConn(c, false)
			continue
		}
		s.mu.Lock()
		s.deliveries = append(s.deliveries, Delivery{Envelope: env.Envelope, ConnID: c.id, Time: at})
		if env.raw == nil && s.cfg.ackTimeout > 0 && env.RetryAttempt < s.cfg.maxRetries && !s.closed {
			id := env.EnvelopeID
			env.timer = time.AfterFunc(s.cfg.ackTimeout, func() { s.redeliverUnacked(id) })
		}
		s.notifyLocked()
		s.mu.Unlock()
		return
	}
}

func (s *Server) redeliverUnacked(id string) {
	s.mu.Lock()
	env := s.envs[id]
	if env == nil || env.acked || s.closed {
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	_ = s.Redeliver(id)
}

// Send pushes an envelope of typ (TypeEventsAPI, TypeInteractive,
// TypeSlashCommands) with payload marshalled as JSON, and returns its
// envelope_id. events_api envelopes do not accept a response payload.
func (s *Server) Send(typ string, payload any) (string, error) {
	js, err := json.Marshal(payload)
	if err != nil {
		return "", fmt.Errorf("slackfake: marshal %s payload: %w", typ, err)
	}
	env := &envelope{Envelope: Envelope{
		EnvelopeID:             uuid.Must(uuid.NewV7()).String(),
		Type:                   typ,
		AcceptsResponsePayload: typ != TypeEventsAPI,
		Payload:                js,
	}}
	s.mu.Lock()
	s.envs[env.EnvelopeID] = env
	s.mu.Unlock()
	s.deliver(env)
	return env.EnvelopeID, nil
}

// SendSlashCommand pushes a slash_commands envelope.
func (s *Server) SendSlashCommand(p SlashCommandPayload) string {
	id, _ := s.Send(TypeSlashCommands, p)
	return id
}

// SendInteractive pushes an interactive envelope.
func (s *Server) SendInteractive(p InteractionPayload) string {
	id, _ := s.Send(TypeInteractive, p)
	return id
}

// SendEvent pushes an events_api envelope.
func (s *Server) SendEvent(p EventPayload) string {
	id, _ := s.Send(TypeEventsAPI, p)
	return id
}

// SendRaw writes frame as is to one socket (queued if none), to test how
// the bot copes with malformed or unknown frames.
func (s *Server) SendRaw(frame []byte) {
	s.deliver(&envelope{raw: append([]byte(nil), frame...)})
}

// Redeliver sends an envelope again, acked or not, with the same
// envelope_id and payload, retry_attempt+1 and retry_reason "timeout".
func (s *Server) Redeliver(envelopeID string) error {
	s.mu.Lock()
	env, ok := s.envs[envelopeID]
	if !ok {
		s.mu.Unlock()
		return fmt.Errorf("redeliver %s: %w", envelopeID, ErrUnknownEnvelope)
	}
	if env.timer != nil {
		env.timer.Stop()
	}
	env.RetryAttempt++
	env.RetryReason = "timeout"
	env.acked = false
	s.mu.Unlock()
	s.deliver(env)
	return nil
}

// ConnInfo describes an open socket.
type ConnInfo struct {
	ID     int
	Opened time.Time
}

// Conns lists the open sockets, oldest first.
func (s *Server) Conns() []ConnInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ConnInfo, 0, len(s.conns))
	for _, c := range s.conns {
		out = append(out, ConnInfo{ID: c.id, Opened: c.opened})
	}
	return out
}

// ConnectCount is how many sockets have ever completed hello.
func (s *Server) ConnectCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connects
}

// RejectedCount is how many sockets were turned away with too_many_websockets.
func (s *Server) RejectedCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rejected
}

// Pongs is how many PONG frames socket id has answered to the fake's pings.
func (s *Server) Pongs(id int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pongs[id]
}

// WaitForConnections waits until at least n sockets are open.
func (s *Server) WaitForConnections(ctx context.Context, n int) error {
	return s.WaitFor(ctx, func() bool { return len(s.Conns()) >= n })
}

// Deliveries lists every envelope write, in order.
func (s *Server) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Delivery(nil), s.deliveries...)
}

// Queued is how many envelopes wait for a socket.
func (s *Server) Queued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

// AcksFor returns every ack of one envelope (several after redelivery).
func (s *Server) AcksFor(envelopeID string) []Ack {
	var out []Ack
	for _, a := range s.Acks() {
		if a.EnvelopeID == envelopeID {
			out = append(out, a)
		}
	}
	return out
}

// Disconnect sends {"type":"disconnect","reason":reason} on the oldest open
// socket and then closes it. It returns that socket's id.
func (s *Server) Disconnect(reason string) (int, error) {
	s.mu.Lock()
	if len(s.conns) == 0 {
		s.mu.Unlock()
		return 0, ErrNoConnection
	}
	id := s.conns[0].id
	s.mu.Unlock()
	return id, s.DisconnectConn(id, reason)
}

// DisconnectConn sends a disconnect with reason on socket id, then closes it.
func (s *Server) DisconnectConn(id int, reason string) error {
	s.mu.Lock()
	var c *conn
	for _, x := range s.conns {
		if x.id == id {
			c = x
		}
	}
	s.mu.Unlock()
	if c == nil {
		return fmt.Errorf("disconnect socket %d: %w", id, ErrNoConnection)
	}
	_ = c.write(s.disconnectFrame(reason, id))
	s.dropConn(c, true)
	return nil
}

// DisconnectAll sends a disconnect with reason on every socket and closes
// them; it returns how many there were.
func (s *Server) DisconnectAll(reason string) int {
	n := 0
	for _, ci := range s.Conns() {
		if s.DisconnectConn(ci.ID, reason) == nil {
			n++
		}
	}
	return n
}

// DropConnections closes every socket abruptly (no close frame).
func (s *Server) DropConnections() {
	s.mu.Lock()
	conns := s.conns
	s.conns = nil
	s.notifyLocked()
	s.mu.Unlock()
	for _, c := range conns {
		c.shut(false)
	}
}

func (s *Server) stopTimers() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, env := range s.envs {
		if env.timer != nil {
			env.timer.Stop()
		}
	}
}
