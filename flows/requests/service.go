package requests

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

// SystemActor is the audit actor for steps taken by Tick (reminders, escalation, expiry).
const SystemActor = "system"

// Notifier tells people about requests. The Slack layer implements it. Calls
// happen after the state change committed, from a Job (see WithEnqueuer): an
// error is retried by the job queue and never undoes anything. Every req
// passed is the stored state when the job runs.
type Notifier interface {
	// RequestCreated tells the requester their request exists.
	RequestCreated(ctx context.Context, req *accessbot.AccessRequest) error
	// ApprovalNeeded asks approverIDs to decide level (0-based) of req. It is
	// called when a level becomes current and when a level escalates (then
	// approverIDs are only the newly added admins).
	ApprovalNeeded(ctx context.Context, req *accessbot.AccessRequest, level int, approverIDs []string) error
	// LevelDecided reports every decision recorded at level, in order. The
	// level is closed when LevelClosed(req, level); under rule "all" it can be
	// called while the level still waits for others. The Slack layer updates
	// every copy of that level's messages and tells the requester.
	LevelDecided(ctx context.Context, req *accessbot.AccessRequest, level int, decisions []accessbot.Decision) error
	// RequestFinished reports a request that left pending: approved, denied,
	// cancelled or expired (req.Status says which).
	RequestFinished(ctx context.Context, req *accessbot.AccessRequest) error
	// Remind nudges approverIDs who have not yet decided the current level.
	Remind(ctx context.Context, req *accessbot.AccessRequest, level int, approverIDs []string) error
}

// Provisioner is handed a request once it is finally approved, from a
// JobProvision job: the one hand-off point to whatever carries it out. The
// request is already stored as approved when Provision runs; an error is
// retried by the job queue. `run` uses the provisioning engine
// (flows/provision), which runs the application's action chain; its default
// chain asks the application's owners to grant it by hand.
type Provisioner interface {
	Provision(ctx context.Context, req *accessbot.AccessRequest) error
}

// TxProvisioner is a Provisioner that starts carrying out an approved
// request inside the transaction that records its final approval (the
// provisioning engine: the ActionFlow and its first step's job commit, or
// vanish, with the approval). It answers started=false for a request it
// leaves to Provision, which the JobProvision job still calls (and which
// finds a started flow and does nothing).
type TxProvisioner interface {
	ProvisionTx(ctx context.Context, q store.Queries, req *accessbot.AccessRequest) (started bool, err error)
}

// RecordOnly is the Provisioner of a nil one (tests, CLIs, `run` without
// Slack): the request stays "approved" and nothing else happens.
type RecordOnly struct{}

var _ Provisioner = RecordOnly{}

func (RecordOnly) Provision(context.Context, *accessbot.AccessRequest) error { return nil }

// NopNotifier tells no one. Useful for CLIs and tests that do not care.
type NopNotifier struct{}

var _ Notifier = NopNotifier{}

func (NopNotifier) RequestCreated(context.Context, *accessbot.AccessRequest) error { return nil }
func (NopNotifier) ApprovalNeeded(context.Context, *accessbot.AccessRequest, int, []string) error {
	return nil
}
func (NopNotifier) LevelDecided(context.Context, *accessbot.AccessRequest, int, []accessbot.Decision) error {
	return nil
}
func (NopNotifier) RequestFinished(context.Context, *accessbot.AccessRequest) error { return nil }
func (NopNotifier) Remind(context.Context, *accessbot.AccessRequest, int, []string) error {
	return nil
}

// Policy holds the approvals timing (config keys approvals.reminder_after,
// approvals.escalate_after, approvals.expire_after); it has the fields of
// config.Approvals, so requests.Policy(cfg.Approvals) converts. Zero disables a step.
// Reminder and escalation count from when the current level became current;
// expiry counts from the request's creation.
type Policy struct {
	ReminderAfter time.Duration
	EscalateAfter time.Duration
	ExpireAfter   time.Duration
}

// DefaultPolicy matches config.example.yaml: remind after a day, escalate
// after two, expire after seven.
func DefaultPolicy() Policy {
	return Policy{ReminderAfter: 24 * time.Hour, EscalateAfter: 48 * time.Hour, ExpireAfter: 7 * 24 * time.Hour}
}

// Service runs access requests through their approval chains.
type Service struct {
	st     store.Store
	notify Notifier
	prov   Provisioner
	clock  func() time.Time
	policy Policy
	log    zerolog.Logger
	enq    Enqueuer // nil: jobs run in process after commit
}

// New builds the service. A nil notifier means NopNotifier, a nil provisioner
// RecordOnly, a nil clock time.Now. Production passes WithEnqueuer.
func New(st store.Store, n Notifier, p Provisioner, clock func() time.Time, policy Policy, log zerolog.Logger, opts ...Option) *Service {
	if n == nil {
		n = NopNotifier{}
	}
	if p == nil {
		p = RecordOnly{}
	}
	if clock == nil {
		clock = time.Now
	}
	s := &Service{st: st, notify: n, prov: p, clock: clock, policy: policy, log: log.With().Str("component", "requests").Logger()}
	for _, o := range opts {
		o(s)
	}
	return s
}

func (s *Service) now() time.Time { return s.clock().UTC() }

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// LevelClosed reports whether level of req can no longer be decided: the
// request left pending, or moved to a later level.
func LevelClosed(req *accessbot.AccessRequest, level int) bool {
	return req.Status != accessbot.StatusPending || req.Level > level
}

// LevelApprovers returns the user ids who may decide level of req (the snapshot taken at creation, plus escalation).
func LevelApprovers(req *accessbot.AccessRequest, level int) []string {
	if level < 0 || level >= len(req.Levels) {
		return nil
	}
	ids := make([]string, 0, len(req.Levels[level].Approvers))
	for _, a := range req.Levels[level].Approvers {
		if a.UserID != "" {
			ids = append(ids, a.UserID)
		}
	}
	return ids
}
