package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/accessbot/accessbot/internal/metrics"
)

// Acker acknowledges an envelope on the connection it arrived on.
type Acker interface {
	AckCtx(ctx context.Context, envelopeID string, payload any) error
}

// ackFrame is the frame of an ack: {"envelope_id":…,"payload":…}, payload
// left out when nil. Slack drops a response of 20 KB or more without a word,
// so that is an error here.
func ackFrame(envelopeID string, payload any) ([]byte, error) {
	if payload == nil && plainID(envelopeID) {
		// Most acks: no payload and an id that needs no escaping.
		b := make([]byte, 0, len(`{"envelope_id":""}`)+len(envelopeID))
		b = append(b, `{"envelope_id":"`...)
		b = append(b, envelopeID...)
		return append(b, `"}`...), nil
	}
	if raw, ok := payload.(json.RawMessage); ok && len(raw) > 0 && plainID(envelopeID) {
		// A prepared answer (Prepared): encoded once, compact JSON.
		if n := len(`{"envelope_id":"","payload":}`) + len(envelopeID) + len(raw); n >= maxAckBytes {
			return nil, fmt.Errorf("ack %s: %d bytes, and Slack drops socket responses of %d bytes or more", envelopeID, n, maxAckBytes)
		}
		b := make([]byte, 0, len(`{"envelope_id":"","payload":}`)+len(envelopeID)+len(raw))
		b = append(b, `{"envelope_id":"`...)
		b = append(b, envelopeID...)
		b = append(b, `","payload":`...)
		b = append(b, raw...)
		return append(b, '}'), nil
	}
	b, err := json.Marshal(struct {
		EnvelopeID string `json:"envelope_id"`
		Payload    any    `json:"payload,omitempty"`
	}{envelopeID, payload})
	if err != nil {
		return nil, fmt.Errorf("ack %s: encode payload: %w", envelopeID, err)
	}
	if len(b) >= maxAckBytes {
		return nil, fmt.Errorf("ack %s: %d bytes, and Slack drops socket responses of %d bytes or more", envelopeID, len(b), maxAckBytes)
	}
	return b, nil
}

// plainID reports whether id can go in a JSON string as it is (Slack's
// envelope ids are UUIDs); anything else goes through json.Marshal.
func plainID(id string) bool {
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// Defaults for DispatcherConfig.
const (
	DefaultAckDeadline    = 2 * time.Second
	DefaultHandlerTimeout = time.Minute
	DefaultDedupeTTL      = time.Hour
	// Async jobs mostly wait on Slack's Web API, so the pool is sized for
	// I/O: 32 workers at 250 ms a call still make 128 calls a second.
	DefaultWorkers = 32
	// DefaultQueue bounds the jobs waiting in memory (a few KB each); past
	// it an acked envelope's work is dropped with an error and a busy answer.
	DefaultQueue   = 10000
	DefaultMaxSync = 512
	// DefaultShutdownGrace bounds how long queued and running async work may
	// take to finish once shutdown starts (a deploy's SIGTERM).
	DefaultShutdownGrace = 10 * time.Second
	// busyReplies bounds the goroutines posting busy answers for dropped work.
	busyReplies = 32
)

// Answers the router gives by itself.
const (
	MsgUnknownCommand = "I don't know that command. Try `%s help`."
	MsgUnknownAction  = "Sorry, I don't know that button any more. Try `%s help`."
	MsgUnknownView    = "Sorry, I don't know that form any more. Try `%s help`."
	MsgSorry          = "Sorry, something went wrong on our side (ref %s). Please try again, and tell your admin if it keeps happening."
	MsgBusy           = "I'm very busy right now. Please try again in a moment."
	MsgMalformed      = "Sorry, I could not read that request (ref %s)."
)

// DispatcherConfig wires a Dispatcher. Router, Resolver and Clients are required.
type DispatcherConfig struct {
	Router   *Router
	Resolver Resolver
	Clients  Clients
	// Deduper defaults to an in-process MemoryDeduper.
	Deduper   Deduper
	DedupeTTL time.Duration
	// AckDeadline bounds how long a slash command, view submission or
	// suggestion handler may take before the envelope is acked without it.
	AckDeadline time.Duration
	// HandlerTimeout bounds every handler's context.
	HandlerTimeout time.Duration
	Workers        int // async worker pool size
	Queue          int // async jobs that may wait for a worker
	MaxSync        int // concurrent synchronous handlers
	// ShutdownGrace bounds the drain at shutdown: acked work still queued or
	// running gets this long to finish, then the rest is dropped and counted.
	ShutdownGrace time.Duration
	// HelpCommand names the command in "try ... help" answers (default /access).
	HelpCommand string
	HTTPClient  *http.Client // for response_url posts
	Log         zerolog.Logger
}

// Dispatcher turns Socket Mode envelopes into routed handler calls: it acks,
// dedupes, decodes into fresh values, resolves the sender, recovers panics
// and answers whatever the handlers could not.
type Dispatcher struct {
	cfg     DispatcherConfig
	log     zerolog.Logger
	resp    *responder
	queue   *workQueue
	gate    *cpuGate // how many workers may run a job now
	syncSem chan struct{}
	busySem chan struct{}
	answers *answers
	// unknownAction is MsgUnknownAction, guarded and encoded once: every
	// click on a button no route knows gets it.
	unknownAction *Prepared
	wg            sync.WaitGroup // workers, in-flight sync handlers and busy answers
	start         sync.Once
	// hardStop ends async handlers' contexts when the shutdown grace is over.
	hardStop context.Context
	stopNow  context.CancelFunc

	running, dropped, busy atomic.Int64
}

// DispatcherStats is a snapshot of the dispatcher's load (for metrics).
type DispatcherStats struct {
	Queued  int   // async jobs waiting for a worker
	Running int64 // async jobs running
	Dropped int64 // async jobs refused because Queue jobs were waiting
	Busy    int64 // sync envelopes answered busy because MaxSync were in flight
}

// Stats reads the current load.
func (d *Dispatcher) Stats() DispatcherStats {
	return DispatcherStats{Queued: d.queue.len(), Running: d.running.Load(), Dropped: d.dropped.Load(), Busy: d.busy.Load()}
}

// NewDispatcher checks cfg (including the router's registrations) and fills defaults.
func NewDispatcher(cfg DispatcherConfig) (*Dispatcher, error) {
	switch {
	case cfg.Router == nil:
		return nil, fmt.Errorf("new dispatcher: no router")
	case cfg.Resolver == nil:
		return nil, fmt.Errorf("new dispatcher: no identity resolver")
	case cfg.Clients == nil:
		return nil, fmt.Errorf("new dispatcher: no Slack clients")
	}
	if err := cfg.Router.Err(); err != nil {
		return nil, fmt.Errorf("new dispatcher: bad routes: %w", err)
	}
	if cfg.Deduper == nil {
		cfg.Deduper = NewMemoryDeduper(0, nil)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	defInt := func(d *int, v int) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.DedupeTTL, DefaultDedupeTTL)
	def(&cfg.AckDeadline, DefaultAckDeadline)
	def(&cfg.HandlerTimeout, DefaultHandlerTimeout)
	defInt(&cfg.Workers, DefaultWorkers)
	defInt(&cfg.Queue, DefaultQueue)
	defInt(&cfg.MaxSync, DefaultMaxSync)
	def(&cfg.ShutdownGrace, DefaultShutdownGrace)
	if cfg.HelpCommand == "" {
		cfg.HelpCommand = "/access"
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	unknownAction, err := Prepare(func() Message { return Message{Text: fmt.Sprintf(MsgUnknownAction, cfg.HelpCommand)} })
	if err != nil {
		return nil, fmt.Errorf("new dispatcher: help command %q: %w", cfg.HelpCommand, err)
	}
	hardStop, stopNow := context.WithCancel(context.Background())
	return &Dispatcher{
		unknownAction: unknownAction,
		hardStop:      hardStop,
		stopNow:       stopNow,
		cfg:           cfg,
		log:           cfg.Log,
		resp:          &responder{http: cfg.HTTPClient},
		queue:         newWorkQueue(cfg.Queue),
		gate:          newCPUGate(cfg.Workers),
		syncSem:       make(chan struct{}, cfg.MaxSync),
		busySem:       make(chan struct{}, busyReplies),
		answers:       newAnswers(1000, 10*time.Minute),
	}, nil
}

// Start runs the worker pool. When ctx ends no more work is queued, and the
// workers finish what is queued and running for up to ShutdownGrace; then
// the work left is dropped, logged and counted, and running handlers' contexts
// end. Calling Start again does nothing.
func (d *Dispatcher) Start(ctx context.Context) {
	d.start.Do(func() {
		var workers sync.WaitGroup
		d.wg.Go(func() { d.gate.watch(ctx) })
		for range d.cfg.Workers {
			workers.Go(func() {
				d.queue.work(d.hardStop, func(job func()) {
					d.gate.enter()
					defer d.gate.leave()
					d.running.Add(1)
					defer d.running.Add(-1)
					job()
				})
			})
		}
		d.wg.Go(func() {
			<-ctx.Done()
			d.queue.close()
			queued, running := d.queue.len(), d.running.Load()
			if queued > 0 || running > 0 {
				d.log.Info().Int("queued", queued).Int64("running", running).Dur("grace", d.cfg.ShutdownGrace).
					Msg("shutting down: finishing acked envelopes' work")
			}
			done := make(chan struct{})
			go func() { workers.Wait(); close(done) }()
			timer := time.NewTimer(d.cfg.ShutdownGrace)
			defer timer.Stop()
			select {
			case <-done:
			case <-timer.C:
				if n := d.running.Load(); n > 0 {
					d.log.Warn().Int64("jobs", n).Dur("grace", d.cfg.ShutdownGrace).Msg("shutdown grace over: cancelling running handlers")
				}
			}
			d.stopNow()
			<-done
			if n := d.queue.drop(); n > 0 {
				d.dropped.Add(int64(n))
				d.log.Warn().Int("jobs", n).Dur("grace", d.cfg.ShutdownGrace).
					Msg("shutting down with acked envelopes' work still queued after the grace period; it is not done")
			}
		})
	})
}

// Wait blocks until the workers (after ctx ended) and in-flight handlers finish.
func (d *Dispatcher) Wait() { d.wg.Wait() }

// Handle takes one envelope off a connection. It never blocks on handlers
// (its caller is a socket's read loop): async kinds are acked at once and
// queued, or dropped with a busy answer when the queue is full; sync kinds
// get their own goroutine.
func (d *Dispatcher) Handle(ctx context.Context, acker Acker, env *socketmode.Request) {
	d.handle(ctx, acker, env)
}

// HandleFrame takes one Socket Mode frame as read from a socket: an envelope
// is handled (see Handle), hello is logged, and for disconnect the reason is
// returned with ok, so the caller replaces the socket.
func (d *Dispatcher) HandleFrame(ctx context.Context, acker Acker, frame []byte) (disconnect string, ok bool) {
	return d.handleFrame(ctx, acker, frame, false, d.log)
}

// handleFrame is HandleFrame; owned says the frame is not reused after
// (a socket read's), so the envelope may keep slices of it.
func (d *Dispatcher) handleFrame(ctx context.Context, acker Acker, frame []byte, owned bool, log zerolog.Logger) (string, bool) {
	env, ok := decodeFrameOf(frame, owned)
	if !ok {
		env = decodeFrameSlow(frame, log)
		if env == nil {
			return "", false
		}
	}
	switch env.Type {
	case socketmode.RequestTypeHello:
		log.Debug().Int("num_connections", env.NumConnections).Str("host", env.DebugInfo.Host).Msg("socket hello")
	case socketmode.RequestTypeDisconnect:
		return env.Reason, true
	default:
		d.handle(ctx, acker, env)
	}
	return "", false
}

// decodeFrameSlow decodes a frame decodeFrame gave up on with encoding/json,
// leniently (see lenientEnvelope); nil when the frame is no JSON object.
func decodeFrameSlow(frame []byte, log zerolog.Logger) *socketmode.Request {
	env := new(socketmode.Request)
	if err := json.Unmarshal(frame, env); err != nil {
		env = lenientEnvelope(frame)
		if env == nil {
			log.Warn().Err(err).Str("raw", truncate(string(frame), 2000)).Msg("unreadable Socket Mode frame dropped")
			return nil
		}
		log.Warn().Err(err).Str("envelope", env.EnvelopeID).Str("type", env.Type).
			Str("raw", truncate(string(frame), 2000)).Msg("malformed Socket Mode envelope; handling what could be read")
	}
	return env
}

// lenientEnvelope reads the envelope_id, type and payload of a frame whose
// other fields do not decode (say a retry_attempt that is not a number), so
// the envelope is still acked and Slack does not redeliver it forever; nil
// when the frame is not a JSON object.
func lenientEnvelope(frame []byte) *socketmode.Request {
	var fields map[string]json.RawMessage
	if json.Unmarshal(frame, &fields) != nil {
		return nil
	}
	env := &socketmode.Request{Payload: fields["payload"]}
	_ = json.Unmarshal(fields["envelope_id"], &env.EnvelopeID)
	_ = json.Unmarshal(fields["type"], &env.Type)
	return env
}

// decodeInteraction decodes an interactive payload into a fresh value (a
// reused one would append to BlockActions).
func decodeInteraction(payload json.RawMessage) (*slack.InteractionCallback, error) {
	cb := new(slack.InteractionCallback)
	if err := json.Unmarshal(payload, cb); err != nil {
		return nil, fmt.Errorf("decode interactive payload: %w", err)
	}
	return cb, nil
}

func (d *Dispatcher) handle(ctx context.Context, acker Acker, env *socketmode.Request) {
	log := withStrs(d.log, "envelope", env.EnvelopeID, "type", env.Type)
	if env.RetryAttempt > 0 {
		log = log.With().Int("retry_attempt", env.RetryAttempt).Str("retry_reason", env.RetryReason).Logger()
	}
	if env.EnvelopeID == "" {
		metrics.Envelopes.WithLabelValues(envType(env.Type), "no_id").Inc()
		log.Warn().Msg("envelope without envelope_id ignored")
		return
	}
	acker = &meteredAcker{Acker: acker, typ: envType(env.Type), start: time.Now()}
	switch env.Type {
	case socketmode.RequestTypeEventsAPI:
		d.ack(ctx, acker, env.EnvelopeID, nil, log)
		outer, err := decodeEvents(env.Payload)
		if err != nil {
			log.Warn().Err(err).Msg("malformed events_api payload")
			return
		}
		d.async(ctx, outer.TeamID, queueEvents, "", log, func(ctx context.Context) { d.handleEvent(ctx, env, outer, log) })
	case socketmode.RequestTypeSlashCommands:
		cmd, err := decodeCommand(env.Payload) // a fresh value per envelope
		if err != nil {
			log.Warn().Err(err).Msg("malformed slash command payload")
			d.ack(ctx, acker, env.EnvelopeID, Message{Text: fmt.Sprintf(MsgMalformed, env.EnvelopeID)}.wire(), log)
			return
		}
		d.sync(ctx, acker, env, log, func(ctx context.Context, st *ackState) { d.handleCommand(ctx, st, env, cmd, log) })
	case socketmode.RequestTypeInteractive:
		head, err := decodeHead(env.Payload)
		if err != nil {
			log.Warn().Err(err).Msg("malformed interactive payload")
			d.ack(ctx, acker, env.EnvelopeID, nil, log)
			return
		}
		log = withStr(log, "interaction", string(head.Type))
		switch head.Type {
		case slack.InteractionTypeViewSubmission, slack.InteractionTypeBlockSuggestion:
			// Their answer rides on the ack: acked when the handler is done.
			d.sync(ctx, acker, env, log, func(ctx context.Context, st *ackState) {
				cb, err := decodeInteraction(env.Payload)
				if err != nil {
					log.Warn().Err(err).Msg("malformed interactive payload")
					return
				}
				d.handleInteractive(ctx, st, env, cb, log)
			})
		default:
			d.ack(ctx, acker, env.EnvelopeID, nil, log)
			team, url := head.Team.ID, head.ResponseURL
			if team == "" {
				team = head.User.TeamID
			}
			if url == "" && len(head.ResponseURLs) > 0 {
				url = head.ResponseURLs[0].ResponseURL
			}
			// A click on a button no route knows (a stale message) is
			// answered in its own turn, so a flood of them does not hold
			// back the clicks that decide something.
			var unknown click
			stale := false
			if head.Type == slack.InteractionTypeBlockActions {
				if c, ok := decodeClick(env.Payload); ok && !d.cfg.Router.routes(&c) {
					unknown, stale = c, true
				}
			}
			if stale {
				d.async(ctx, team, queueStale, url, log, func(ctx context.Context) { d.handleUnknownClick(ctx, env, &unknown, log) })
				return
			}
			d.async(ctx, team, queueClicks, url, log, func(ctx context.Context) {
				cb, err := decodeInteraction(env.Payload)
				if err != nil {
					log.Warn().Err(err).Msg("malformed interactive payload")
					return
				}
				d.handleInteractive(ctx, nil, env, cb, log)
			})
		}
	default:
		log.Warn().Msg("unknown envelope type acked and ignored")
		d.ack(ctx, acker, env.EnvelopeID, nil, log)
	}
}

// meteredAcker counts an envelope's acks and their latency.
type meteredAcker struct {
	Acker
	typ   string
	start time.Time
}

func (m *meteredAcker) AckCtx(ctx context.Context, envelopeID string, payload any) error {
	err := m.Acker.AckCtx(ctx, envelopeID, payload)
	am := ackMetrics[m.typ].get(m.typ)
	if err != nil {
		metrics.Envelopes.WithLabelValues(m.typ, "ack_failed").Inc()
	} else {
		am.acked.Inc()
	}
	metrics.Since(am.latency, m.start)
	return err
}

// ackMetric is an envelope type's acked counter and ack latency, looked up
// on the first ack (a label lookup hashes and locks on every call; the
// series still appears only once used).
type ackMetric struct {
	once    sync.Once
	acked   prometheus.Counter
	latency prometheus.Observer
}

func (a *ackMetric) get(typ string) *ackMetric {
	a.once.Do(func() {
		a.acked = metrics.Envelopes.WithLabelValues(typ, "acked")
		a.latency = metrics.AckLatency.WithLabelValues(typ)
	})
	return a
}

// ackMetrics has one ackMetric per envType.
var ackMetrics = map[string]*ackMetric{
	socketmode.RequestTypeEventsAPI: {}, socketmode.RequestTypeSlashCommands: {}, socketmode.RequestTypeInteractive: {}, "other": {},
}

// envType bounds the type label: Slack's three, or "other".
func envType(t string) string {
	switch t {
	case socketmode.RequestTypeEventsAPI, socketmode.RequestTypeSlashCommands, socketmode.RequestTypeInteractive:
		return t
	}
	return "other"
}

// ack sends the one ack of an envelope, bounded so a dead connection cannot
// stall the caller.
func (d *Dispatcher) ack(ctx context.Context, acker Acker, envelopeID string, payload any, log zerolog.Logger) error {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
	defer cancel()
	if err := acker.AckCtx(actx, envelopeID, payload); err != nil {
		log.Warn().Err(err).Msg("ack failed")
		return err
	}
	return nil
}

// handlerCtx gives a handler its own deadline; shutdown lets it finish.
func (d *Dispatcher) handlerCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), d.cfg.HandlerTimeout)
}

// Work classes: each workspace's events, clicks and clicks on stale buttons
// wait in separate turns, so a click (someone waiting to see its result) is
// not queued behind a burst of App Home opens, other events or stale clicks.
const (
	queueEvents = "events"
	queueClicks = "clicks"
	queueStale  = "stale" // clicks on buttons no route knows
)

// async queues slow work that runs after the ack, taking turns with other
// workspaces (team) and with the workspace's other class of work. It never waits: when the queue is full the work is
// dropped, logged and counted, and the user gets a busy answer by
// responseURL when there is one.
func (d *Dispatcher) async(ctx context.Context, team, class, responseURL string, log zerolog.Logger, fn func(ctx context.Context)) {
	job := func() {
		hctx, cancel := d.handlerCtx(ctx)
		defer cancel()
		defer context.AfterFunc(d.hardStop, cancel)() // past the shutdown grace
		fn(hctx)
	}
	if d.queue.put(team+"/"+class, job) {
		return
	}
	d.dropped.Add(1)
	log.Error().Str("team", team).Int("queued", d.cfg.Queue).Int("workers", d.cfg.Workers).
		Msg("work queue full: acked envelope's work dropped")
	if responseURL == "" {
		return
	}
	select {
	case d.busySem <- struct{}{}:
	default:
		return // answering is work too; when even that is saturated, stay quiet
	}
	d.wg.Go(func() {
		defer func() { <-d.busySem }()
		hctx, cancel := d.handlerCtx(ctx)
		defer cancel()
		if err := d.resp.postResponseURL(hctx, responseURL, Message{Text: MsgBusy}); err != nil {
			log.Warn().Err(err).Msg("busy answer failed")
		}
	})
}

// sync runs fn, whose answer may ride on the ack, and acks when fn returns
// or at the ack deadline, whichever is first. A later answer from fn goes
// through response_url instead.
func (d *Dispatcher) sync(ctx context.Context, acker Acker, env *socketmode.Request, log zerolog.Logger, fn func(context.Context, *ackState)) {
	select {
	case d.syncSem <- struct{}{}:
	default:
		d.busy.Add(1)
		log.Warn().Int("max_sync", d.cfg.MaxSync).Msg("too many handlers in flight, answering busy")
		var busy any
		if env.Type == socketmode.RequestTypeSlashCommands {
			busy = Message{Text: MsgBusy}.wire()
		}
		d.ack(ctx, acker, env.EnvelopeID, busy, log)
		return
	}
	st := &ackState{}
	// The handler's goroutine acks when it returns within the deadline (no
	// hand-off to another goroutine, which waits for the CPU on a busy
	// machine); otherwise the deadline's timer acks without its answer.
	d.wg.Add(2) // the handler, and the ack (by the handler or the timer)
	timer := time.AfterFunc(d.cfg.AckDeadline, func() {
		defer d.wg.Done()
		log.Warn().Dur("deadline", d.cfg.AckDeadline).Msg("handler slower than the ack deadline; acked empty, its answer follows by response_url")
		d.ackSync(ctx, acker, env, st, log)
	})
	go func() {
		defer d.wg.Done()
		defer func() { <-d.syncSem }()
		hctx, cancel := d.handlerCtx(ctx)
		fn(hctx, st)
		cancel()
		if timer.Stop() {
			defer d.wg.Done()
			d.ackSync(ctx, acker, env, st, log)
		}
	}()
}

// ackSync sends a sync envelope's one ack with whatever answer st holds.
func (d *Dispatcher) ackSync(ctx context.Context, acker Acker, env *socketmode.Request, st *ackState, log zerolog.Logger) {
	payload, ok := st.take()
	if !ok {
		return
	}
	st.mu.Lock()
	req := st.req
	st.mu.Unlock()
	payload, later := fitAckSize(req, payload)
	d.answers.put(env.EnvelopeID, payload)
	err := d.ack(ctx, acker, env.EnvelopeID, payload, log)
	if err == nil && later != nil {
		hctx, cancel := d.handlerCtx(ctx)
		later(hctx)
		cancel()
	}
	if err != nil && payload != nil {
		// Most likely too large for a frame (20 KB): ack bare and send
		// a message payload through response_url.
		_ = d.ack(ctx, acker, env.EnvelopeID, nil, log)
		if msg := st.followUpMessage(); msg != nil && req != nil {
			d.followUp(ctx, req, *msg, log)
		}
	}
}

// followUp sends a command answer that could not ride on the ack.
func (d *Dispatcher) followUp(ctx context.Context, req *Request, m Message, log zerolog.Logger) {
	hctx, cancel := d.handlerCtx(ctx)
	defer cancel()
	if err := d.resp.send(hctx, req, m); err != nil {
		log.Error().Err(err).Msg("follow-up answer failed")
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
