package playbooks

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/connectors/outbound"
	"github.com/accessbot/accessbot/connectors/webhook"
	"github.com/accessbot/accessbot/jobs"
	"github.com/accessbot/accessbot/store"
)

// Defaults for Config fields left zero.
const (
	DefaultTimeout     = 10 * time.Second
	DefaultMaxAttempts = 8
	// bodyLimit bounds the stored start of an answer.
	bodyLimit = 200
)

// Audit actions, with ObjectType AuditObject and ObjectID the playbook id.
const (
	AuditObject     = "playbook"
	ActionDelivered = "playbook.delivered"
	ActionFailed    = "playbook.failed"
)

// Reporter is told about every run that ended, once, from a durable job:
// the Slack layer updates the message of a manual run in place and tells
// the tenant admins about a failure.
type Reporter interface {
	RunFinished(ctx context.Context, p *accessbot.Playbook, run *accessbot.PlaybookRun) error
}

// Config builds a Service.
type Config struct {
	Store store.Store
	Keys  Keys // opens tokens and signing secrets
	// HTTP is the outbound client's base options (timeouts, test roots and
	// resolver); each tenant's allow-list is added to them. Timeout 0 means DefaultTimeout.
	HTTP        outbound.Options
	MaxAttempts int // per delivery; 0 means DefaultMaxAttempts
	// RetryDelay is the wait after failed attempt n (1-based); nil means
	// 1s, 2s, 4s … capped at 10 minutes.
	RetryDelay func(attempt int) time.Duration
	Reporter   Reporter
	Clock      func() time.Time
	Log        zerolog.Logger
}

// Service emits events and delivers them.
type Service struct {
	st          store.Store
	keys        Keys
	httpOpts    outbound.Options
	maxAttempts int
	retryDelay  func(int) time.Duration
	reporter    Reporter
	clock       func() time.Time
	log         zerolog.Logger

	mu      sync.Mutex
	enq     Enqueuer
	clients map[string]*webhook.Client // by allow-list: one outbound pool per list
}

// New builds the service; SetEnqueuer gives it the job queue (built after
// AddWorkers, as River needs its workers first).
func New(cfg Config) *Service {
	if cfg.HTTP.Timeout <= 0 {
		cfg.HTTP.Timeout = DefaultTimeout
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.RetryDelay == nil {
		cfg.RetryDelay = func(n int) time.Duration { return min(time.Second<<min(n-1, 20), 10*time.Minute) }
	}
	return &Service{st: cfg.Store, keys: cfg.Keys, httpOpts: cfg.HTTP, maxAttempts: cfg.MaxAttempts, reporter: cfg.Reporter, retryDelay: cfg.RetryDelay,
		clock: cfg.Clock, log: cfg.Log.With().Str("component", "playbooks").Logger(), clients: map[string]*webhook.Client{}}
}

// SetEnqueuer sets the job queue deliveries go to.
func (s *Service) SetEnqueuer(e Enqueuer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.enq = e
}

// SetReporter sets who hears about finished runs (the Slack layer, built later).
func (s *Service) SetReporter(r Reporter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reporter = r
}

func (s *Service) enqueuer() Enqueuer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.enq
}

func (s *Service) getReporter() Reporter {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reporter
}

// DeliverArgs is the job of one delivery (all attempts of one run).
type DeliverArgs struct {
	TenantID string `json:"tenant_id"`
	RunID    string `json:"run_id"`
	// After are the runs of the event's integration-specific playbooks,
	// on a global playbook's run: it waits for their first attempt.
	After []string `json:"after,omitempty"`
}

func (DeliverArgs) Kind() string { return "playbook_deliver" }

// FinishedArgs is the job that reports a run that ended.
type FinishedArgs struct {
	TenantID string `json:"tenant_id"`
	RunID    string `json:"run_id"`
}

func (FinishedArgs) Kind() string { return "playbook_finished" }

// AddWorkers registers the delivery and report workers.
func (s *Service) AddWorkers(w *river.Workers) {
	river.AddWorker(w, &deliverWorker{s: s})
	river.AddWorker(w, &finishedWorker{s: s})
}

type deliverWorker struct {
	river.WorkerDefaults[DeliverArgs]
	s *Service
}

func (w *deliverWorker) Work(ctx context.Context, job *river.Job[DeliverArgs]) error {
	return w.s.deliver(ctx, job.Args, job.Attempt, job.MaxAttempts)
}

// NextRetry backs off exponentially (Config.RetryDelay); River's own
// attempt⁴ seconds would make the 8th retry wait over an hour.
func (w *deliverWorker) NextRetry(job *river.Job[DeliverArgs]) time.Time {
	return time.Now().Add(w.s.retryDelay(max(job.Attempt, 1)))
}

type finishedWorker struct {
	river.WorkerDefaults[FinishedArgs]
	s *Service
}

func (w *finishedWorker) Work(ctx context.Context, job *river.Job[FinishedArgs]) error {
	r := w.s.getReporter()
	if r == nil {
		return nil
	}
	run, err := w.s.st.GetPlaybookRun(ctx, job.Args.TenantID, job.Args.RunID)
	if errors.Is(err, accessbot.ErrNotFound) {
		return jobs.Final(err) // deleted with its playbook
	}
	if err != nil {
		return err
	}
	p, err := w.s.st.GetPlaybook(ctx, run.TenantID, run.PlaybookID)
	if errors.Is(err, accessbot.ErrNotFound) {
		return jobs.Final(err)
	}
	if err != nil {
		return err
	}
	return r.RunFinished(ctx, p, run)
}

// deliver makes one attempt of a run. The run row carries the event, so
// every attempt sends the same id and bytes.
func (s *Service) deliver(ctx context.Context, a DeliverArgs, attempt, maxAttempts int) error {
	run, err := s.st.GetPlaybookRun(ctx, a.TenantID, a.RunID)
	if errors.Is(err, accessbot.ErrNotFound) {
		return jobs.Final(err) // its playbook was deleted
	}
	if err != nil {
		return err
	}
	if run.Status != accessbot.RunPending {
		return nil // a previous attempt finished it, and its job died before it could say so
	}
	p, err := s.st.GetPlaybook(ctx, a.TenantID, run.PlaybookID)
	if errors.Is(err, accessbot.ErrNotFound) {
		return jobs.Final(err)
	}
	if err != nil {
		return err
	}
	log := s.log.With().Str("tenant", a.TenantID).Str("playbook", p.Name).Str("webhook_id", run.EventID).Int("attempt", attempt).Logger()
	if !p.Active {
		// Disabled after it was queued: a disabled playbook never fires.
		run.Error = "the playbook was disabled before it could be delivered"
		return s.finish(ctx, p, run, accessbot.RunFailed, nil)
	}
	if wait, err := s.waitForScoped(ctx, a, run); err != nil || wait {
		if err != nil {
			return err
		}
		return river.JobSnooze(orderPoll) // not an attempt
	}
	run.Attempts++
	ep, client, err := s.endpoint(ctx, p)
	if err != nil {
		run.Error = err.Error()
		log.Warn().Err(err).Msg("playbook cannot be sent")
		if errors.Is(err, errSetup) {
			return s.finish(ctx, p, run, accessbot.RunFailed, err)
		}
		return err // the store or the allow-list could not be read: try again
	}
	start := time.Now()
	res, err := client.Send(ctx, ep, webhook.Message{ID: run.EventID, Type: run.EventType, Timestamp: run.EventAt, Data: json.RawMessage(run.Event)})
	run.Duration = time.Since(start)
	if err == nil && errors.Is(res.BodyErr, outbound.ErrResponseTooLarge) {
		// Accepted, but with an answer over the cap: a broken receiver the
		// admins must hear of. It took the event, so no retry.
		err = &webhook.DeliveryError{Endpoint: p.Name, Status: res.Status, Detail: res.Detail, Err: res.BodyErr}
	}
	if err == nil {
		run.ResponseStatus, run.ResponseBody, run.Error = res.Status, truncate(res.Detail), ""
		return s.finish(ctx, p, run, accessbot.RunDelivered, nil)
	}
	retry := false
	run.ResponseStatus, run.ResponseBody = 0, ""
	if de, ok := errors.AsType[*webhook.DeliveryError](err); ok {
		run.ResponseStatus, run.ResponseBody = de.Status, truncate(de.Detail)
		retry = de.Retryable && !finalTransport(de.Err) && retryStatus(de.Status)
	}
	run.Error = Explain(err, s.httpOpts.Timeout)
	if retry && run.Attempts < maxAttempts {
		// Recorded while still pending; the job retries with the same event.
		if ferr := s.st.FinishPlaybookAttempt(ctx, run); ferr != nil {
			return fmt.Errorf("%w (and recording it: %v)", err, ferr)
		}
		if de, ok := errors.AsType[*webhook.DeliveryError](err); ok && de.RetryAfter > 0 {
			return river.JobSnooze(min(de.RetryAfter, 10*time.Minute))
		}
		return err
	}
	return s.finish(ctx, p, run, accessbot.RunFailed, err)
}

// orderPoll is how often a global run looks again whether the event's
// integration-specific runs have made their first attempt.
const orderPoll = 250 * time.Millisecond

// waitForScoped says whether a global run must still wait: the event's
// integration-specific runs (a.After) go first, so it waits until each has
// made its first attempt or ended. The wait is bounded (two attempt
// timeouts after the run was queued): a scoped run stuck on a crashed
// process does not hold the global ones for long.
func (s *Service) waitForScoped(ctx context.Context, a DeliverArgs, run *accessbot.PlaybookRun) (bool, error) {
	if len(a.After) == 0 || s.now().Sub(run.CreatedAt) > 2*s.httpOpts.Timeout {
		return false, nil
	}
	for _, id := range a.After {
		r, err := s.st.GetPlaybookRun(ctx, a.TenantID, id)
		if errors.Is(err, accessbot.ErrNotFound) {
			continue // deleted with its playbook
		}
		if err != nil {
			return false, err
		}
		if r.Status == accessbot.RunPending && r.Attempts == 0 {
			return true, nil
		}
	}
	return false, nil
}

// finish records the run's end, its audit entry and the report job in one
// transaction: the conditional update lets exactly one attempt end a run,
// so admins hear about a failure once, not per retry.
func (s *Service) finish(ctx context.Context, p *accessbot.Playbook, run *accessbot.PlaybookRun, status accessbot.PlaybookRunStatus, cause error) error {
	now := s.now()
	run.Status, run.FinishedAt = status, &now
	action := ActionDelivered
	if status == accessbot.RunFailed {
		action = ActionFailed
	}
	err := s.st.InTx(ctx, func(q store.Queries) error {
		if err := q.FinishPlaybookAttempt(ctx, run); err != nil {
			return err
		}
		after, err := json.Marshal(auditRun{RunID: run.ID, EventID: run.EventID, EventType: run.EventType, ObjectType: run.ObjectType,
			ObjectID: run.ObjectID, Trigger: run.Trigger, Status: string(status), Attempts: run.Attempts,
			ResponseStatus: run.ResponseStatus, DurationMS: run.Duration.Milliseconds(), ResponseBody: run.ResponseBody, Error: run.Error})
		if err != nil {
			return err
		}
		if err := q.AppendAudit(ctx, &accessbot.AuditEntry{TenantID: run.TenantID, At: now, ActorID: run.ActorID, Action: action,
			ObjectType: AuditObject, ObjectID: p.ID, After: after}); err != nil {
			return err
		}
		if enq := s.enqueuer(); enq != nil {
			if _, err := enq.InsertTx(ctx, q, FinishedArgs{TenantID: run.TenantID, RunID: run.ID}, nil); err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, accessbot.ErrStale) {
		return nil // another attempt ended it
	}
	if err != nil {
		return fmt.Errorf("record end of playbook run %s: %w", run.ID, err)
	}
	ev := s.log.Info()
	if status == accessbot.RunFailed {
		ev = s.log.Warn()
	}
	ev.Str("tenant", run.TenantID).Str("playbook", p.Name).Str("webhook_id", run.EventID).Str("status", string(status)).
		Int("attempts", run.Attempts).Int("http_status", run.ResponseStatus).Dur("took", run.Duration).Str("error", run.Error).
		Msg("playbook run finished")
	if cause != nil && status == accessbot.RunFailed {
		return jobs.Final(cause) // recorded; no retry can help
	}
	return nil
}

type auditRun struct {
	RunID          string `json:"run_id"`
	EventID        string `json:"event_id"`
	EventType      string `json:"event_type"`
	ObjectType     string `json:"object_type,omitempty"`
	ObjectID       string `json:"object_id,omitempty"`
	Trigger        string `json:"trigger"`
	Status         string `json:"status"`
	Attempts       int    `json:"attempts"`
	ResponseStatus int    `json:"response_status,omitempty"`
	DurationMS     int64  `json:"duration_ms"`
	ResponseBody   string `json:"response_body,omitempty"` // truncated, secrets removed
	Error          string `json:"error,omitempty"`
}

// errSetup marks a playbook that cannot be sent as configured (a secret
// that does not open, a broken allow-list): retrying does not help.
var errSetup = errors.New("playbook setup")

// endpoint opens the playbook's secrets and picks the outbound client of
// the tenant's allow-list.
func (s *Service) endpoint(ctx context.Context, p *accessbot.Playbook) (webhook.Endpoint, *webhook.Client, error) {
	ep := webhook.Endpoint{Name: p.Name, URL: p.URL}
	tok, err := GetSecret(ctx, s.st, s.keys, p.TenantID, p.TokenSecret)
	if err != nil {
		return ep, nil, fmt.Errorf("%w: the auth token cannot be read: %v", errSetup, err)
	}
	ep.Bearer = tok
	if p.SigningSecret != "" {
		sig, err := GetSecret(ctx, s.st, s.keys, p.TenantID, p.SigningSecret)
		if err != nil {
			return ep, nil, fmt.Errorf("%w: the signing secret cannot be read: %v", errSetup, err)
		}
		ep.SigningSecrets = append(ep.SigningSecrets, sig)
	}
	allow, err := TenantAllowlist(ctx, s.st, p.TenantID)
	if err != nil {
		return ep, nil, err
	}
	return ep, s.client(allow), nil
}

// TenantAllowlist reads the tenant's outbound allow-list (empty when none).
func TenantAllowlist(ctx context.Context, q store.Queries, tenantID string) ([]string, error) {
	allow, err := q.GetOutboundAllow(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("read the outbound allow-list: %w", err)
	}
	return allow, nil
}

func (s *Service) client(allow []string) *webhook.Client {
	allow = slices.Sorted(slices.Values(allow))
	key := strings.Join(allow, "\n")
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.clients[key]; c != nil {
		return c
	}
	o := s.httpOpts
	o.Allow, _ = outbound.ParseAllowlist(allow) // checked when saved; a bad entry only allows less
	c := webhook.New(outbound.New(o), s.log)
	s.clients[key] = c
	return c
}

// retryStatus says whether an answer's status may be retried: none (a
// transport error or timeout), 5xx and 429; no other 4xx (408 included:
// the receiver answered, and the rule is "no 4xx but 429").
func retryStatus(status int) bool {
	return status == 0 || status >= 500 || status == http.StatusTooManyRequests
}

// finalTransport reports transport errors no retry fixes: a blocked
// address, plain http, an oversized answer, a redirect loop, TLS trust.
func finalTransport(err error) bool {
	if err == nil {
		return false
	}
	for _, e := range []error{outbound.ErrBlocked, outbound.ErrInsecureScheme, outbound.ErrResponseTooLarge, outbound.ErrTooManyRedirects} {
		if errors.Is(err, e) {
			return true
		}
	}
	return isTLS(err)
}

func isTLS(err error) bool {
	var (
		ua *x509.UnknownAuthorityError
		he *x509.HostnameError
		ci *x509.CertificateInvalidError
		cv *tls.CertificateVerificationError
		rh *tls.RecordHeaderError
	)
	return errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci) || errors.As(err, &cv) || errors.As(err, &rh)
}

// Explain turns a delivery error into words for an admin (no secrets: the
// webhook client already removed them and the URL's query).
func Explain(err error, timeout time.Duration) string {
	de, ok := errors.AsType[*webhook.DeliveryError](err)
	if !ok {
		return err.Error()
	}
	if de.Status != 0 && errors.Is(de.Err, outbound.ErrResponseTooLarge) {
		return fmt.Sprintf("the server answered HTTP %d with a body larger than the allowed maximum", de.Status)
	}
	if de.Status != 0 {
		s := fmt.Sprintf("the server answered HTTP %d", de.Status)
		if de.Detail != "" {
			s += ": " + truncate(de.Detail)
		}
		return s
	}
	e := de.Err
	var ne net.Error
	switch {
	case errors.Is(e, outbound.ErrBlocked):
		return "the URL leads to a private or otherwise non-public address, which is blocked; if it is meant, add the address to the tenant's outbound allow-list"
	case errors.Is(e, outbound.ErrInsecureScheme):
		return "the URL (or a redirect) is not https; only allow-listed hosts may use plain http"
	case errors.Is(e, outbound.ErrResponseTooLarge):
		return "the server's answer was larger than the allowed maximum"
	case errors.Is(e, outbound.ErrTooManyRedirects):
		return "the server redirected too many times"
	case isTLS(e):
		return "TLS failed: the server's certificate is not trusted or does not match its name (" + rootMsg(e) + ")"
	case errors.As(e, &ne) && ne.Timeout():
		return fmt.Sprintf("no answer within %s (timeout)", timeout)
	}
	return "the server could not be reached: " + rootMsg(e)
}

// rootMsg is the innermost message, without the url.Error's method and URL.
func rootMsg(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return err.Error()
}

func truncate(s string) string {
	if len(s) <= bodyLimit {
		return s
	}
	return strings.ToValidUTF8(s[:bodyLimit], "") + "…"
}
