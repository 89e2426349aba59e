package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// Acker acknowledges an envelope on the connection it arrived on.
// *socketmode.Client implements it.
type Acker interface {
	AckCtx(ctx context.Context, envelopeID string, payload any) error
}

var _ Acker = (*socketmode.Client)(nil)

// Defaults for DispatcherConfig.
const (
	DefaultAckDeadline    = 2 * time.Second
	DefaultHandlerTimeout = time.Minute
	DefaultDedupeTTL      = time.Hour
	DefaultWorkers        = 8
	DefaultQueue          = 256
	DefaultMaxSync        = 64
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
	Queue          int // async queue length
	MaxSync        int // concurrent synchronous handlers
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
	work    chan func()
	syncSem chan struct{}
	answers *answers
	wg      sync.WaitGroup // workers and in-flight sync handlers
	start   sync.Once
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
	if cfg.HelpCommand == "" {
		cfg.HelpCommand = "/access"
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	return &Dispatcher{
		cfg:     cfg,
		log:     cfg.Log,
		resp:    &responder{http: cfg.HTTPClient},
		work:    make(chan func(), cfg.Queue),
		syncSem: make(chan struct{}, cfg.MaxSync),
		answers: newAnswers(1000, 10*time.Minute),
	}, nil
}

// Start runs the worker pool until ctx ends. Calling it again does nothing.
func (d *Dispatcher) Start(ctx context.Context) {
	d.start.Do(func() {
		for range d.cfg.Workers {
			d.wg.Go(func() {
				for {
					select {
					case <-ctx.Done():
						return
					case job := <-d.work:
						job()
					}
				}
			})
		}
	})
}

// Wait blocks until the workers (after ctx ended) and in-flight handlers finish.
func (d *Dispatcher) Wait() { d.wg.Wait() }

// Handle takes one envelope off a connection. It returns quickly: async kinds
// are acked at once and queued; sync kinds get their own goroutine.
func (d *Dispatcher) Handle(ctx context.Context, acker Acker, env *socketmode.Request) {
	log := d.log.With().Str("envelope", env.EnvelopeID).Str("type", env.Type).Logger()
	if env.RetryAttempt > 0 {
		log = log.With().Int("retry_attempt", env.RetryAttempt).Str("retry_reason", env.RetryReason).Logger()
	}
	if env.EnvelopeID == "" {
		log.Warn().Msg("envelope without envelope_id ignored")
		return
	}
	switch env.Type {
	case socketmode.RequestTypeEventsAPI:
		d.ack(ctx, acker, env.EnvelopeID, nil, log)
		d.async(ctx, func(ctx context.Context) { d.handleEvent(ctx, env, log) })
	case socketmode.RequestTypeSlashCommands:
		var cmd slack.SlashCommand // fresh value per payload
		if err := json.Unmarshal(env.Payload, &cmd); err != nil {
			log.Warn().Err(err).Msg("malformed slash command payload")
			d.ack(ctx, acker, env.EnvelopeID, Message{Text: fmt.Sprintf(MsgMalformed, env.EnvelopeID)}.wire(), log)
			return
		}
		d.sync(ctx, acker, env, log, func(ctx context.Context, st *ackState) { d.handleCommand(ctx, st, env, &cmd, log) })
	case socketmode.RequestTypeInteractive:
		cb := new(slack.InteractionCallback) // fresh: a reused one appends to BlockActions
		if err := json.Unmarshal(env.Payload, cb); err != nil {
			log.Warn().Err(err).Msg("malformed interactive payload")
			d.ack(ctx, acker, env.EnvelopeID, nil, log)
			return
		}
		log = log.With().Str("interaction", string(cb.Type)).Logger()
		switch cb.Type {
		case slack.InteractionTypeViewSubmission, slack.InteractionTypeBlockSuggestion:
			d.sync(ctx, acker, env, log, func(ctx context.Context, st *ackState) { d.handleInteractive(ctx, st, env, cb, log) })
		default:
			d.ack(ctx, acker, env.EnvelopeID, nil, log)
			d.async(ctx, func(ctx context.Context) { d.handleInteractive(ctx, nil, env, cb, log) })
		}
	default:
		log.Warn().Msg("unknown envelope type acked and ignored")
		d.ack(ctx, acker, env.EnvelopeID, nil, log)
	}
}

// HandleBadMessage deals with a frame slack-go could not parse (it emits
// error_bad_message with no Request, e.g. for an inner event type slackevents
// does not know). If the raw frame is still an envelope, it is handled by our
// own decoding, so it is acked and Slack does not redeliver it.
func (d *Dispatcher) HandleBadMessage(ctx context.Context, acker Acker, bad *socketmode.ErrorBadMessage) {
	raw := bad.Message
	log := d.log.With().Logger()
	var env socketmode.Request
	if err := json.Unmarshal(raw, &env); err != nil || env.EnvelopeID == "" {
		log.Warn().AnErr("cause", bad.Cause).Str("raw", truncate(string(raw), 2000)).Msg("unreadable Socket Mode frame dropped")
		return
	}
	log.Warn().AnErr("cause", bad.Cause).Str("envelope", env.EnvelopeID).Str("type", env.Type).
		Str("raw", truncate(string(raw), 2000)).Msg("slack-go could not parse envelope; handling it ourselves")
	d.Handle(ctx, acker, &env)
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

// async queues slow work that runs after the ack.
func (d *Dispatcher) async(ctx context.Context, fn func(ctx context.Context)) {
	job := func() {
		hctx, cancel := d.handlerCtx(ctx)
		defer cancel()
		fn(hctx)
	}
	select {
	case d.work <- job:
	case <-ctx.Done():
	}
}

// sync runs fn, whose answer may ride on the ack, and acks when fn returns
// or at the ack deadline, whichever is first. A later answer from fn goes
// through response_url instead.
func (d *Dispatcher) sync(ctx context.Context, acker Acker, env *socketmode.Request, log zerolog.Logger, fn func(context.Context, *ackState)) {
	select {
	case d.syncSem <- struct{}{}:
	default:
		log.Warn().Msg("too many handlers in flight, answering busy")
		var busy any
		if env.Type == socketmode.RequestTypeSlashCommands {
			busy = Message{Text: MsgBusy}.wire()
		}
		d.ack(ctx, acker, env.EnvelopeID, busy, log)
		return
	}
	st := &ackState{}
	done := make(chan struct{})
	d.wg.Add(2)
	go func() {
		defer d.wg.Done()
		defer func() { <-d.syncSem }()
		defer close(done)
		hctx, cancel := d.handlerCtx(ctx)
		defer cancel()
		fn(hctx, st)
	}()
	go func() {
		defer d.wg.Done()
		timer := time.NewTimer(d.cfg.AckDeadline)
		defer timer.Stop()
		select {
		case <-done:
		case <-timer.C:
			log.Warn().Dur("deadline", d.cfg.AckDeadline).Msg("handler slower than the ack deadline; acked empty, its answer follows by response_url")
		}
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
			st.mu.Lock()
			msg, req := st.msg, st.req
			st.mu.Unlock()
			if msg != nil && req != nil {
				d.followUp(ctx, req, *msg, log)
			}
		}
	}()
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
