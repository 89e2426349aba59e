package store

import (
	"context"
	"time"
)

// Schedule is one tenant's cron schedule for one job kind (findings_digest,
// approvals_tick, review_reminders, ...).
type Schedule struct {
	TenantID string
	Job      string
	Cron     string // five-field cron expression or @daily-style descriptor
	TimeZone string // IANA name
	// Since is when the schedule took its current cron and time zone; slots
	// before it never fire. PutSchedule keeps it while those are unchanged.
	Since     time.Time
	UpdatedAt time.Time
}

// SlotStatus is where a claimed slot is.
type SlotStatus string

const (
	// SlotRunning: claimed; its owner runs it until LeaseUntil. A failed
	// attempt stays running with LeaseUntil at the retry time.
	SlotRunning SlotStatus = "running"
	SlotDone    SlotStatus = "done"
	// SlotFailed: given up; never retried.
	SlotFailed SlotStatus = "failed"
	// SlotSkipped: a running slot (a failed attempt waiting for its retry)
	// overtaken by a later slot of the same job, which the scheduler ran
	// instead; never retried.
	SlotSkipped SlotStatus = "skipped"
)

// Slot is one scheduled time of one tenant's job, claimed by exactly one
// runner at a time. (TenantID, Job, At) is unique.
type Slot struct {
	TenantID   string
	Job        string
	At         time.Time // the scheduled instant, UTC
	Status     SlotStatus
	Owner      string // the runner holding the claim
	Attempts   int
	ClaimedAt  time.Time
	LeaseUntil time.Time
	FinishedAt *time.Time
	LastError  string
}

// AlertSettings says where a tenant's alerts (digests, critical findings) go.
type AlertSettings struct {
	TenantID string
	Channels []string // Slack channel ids
	// AllClear posts a one-line "all clear" when a digest has nothing new.
	AllClear bool
	// Since is when alerts were first configured: critical findings first
	// seen before it are not alerted one by one.
	Since     time.Time
	UpdatedAt time.Time
}

type DeliveryStatus string

const (
	DeliveryClaimed DeliveryStatus = "claimed"
	DeliverySent    DeliveryStatus = "sent"
)

// Delivery is one outgoing message in the outbox, keyed by what it is
// (e.g. "findings_digest:2026-07-01T07:00:00Z:C123:0"), so a retry never
// resends what already went out.
type Delivery struct {
	TenantID  string
	Key       string
	Status    DeliveryStatus
	ChannelID string // set once sent
	TS        string // Slack message ts, set once sent
	Attempts  int
	// UnsentThrough: no claim up to this attempt posted (ReleaseUnsentDelivery).
	UnsentThrough int
	LeaseUntil    time.Time
	CreatedAt     time.Time
	SentAt        *time.Time
}

// EarlierMayHavePosted says whether a claim before the current one may
// have posted the message, so the current one must look for it first.
func (d *Delivery) EarlierMayHavePosted() bool { return d.Attempts-1 > d.UnsentThrough }

// ScheduleQueries persist schedules, slot claims, alert settings and the
// delivery outbox. Claims are conditional writes: of racing callers exactly
// one wins, on every backend.
type ScheduleQueries interface {
	// PutSchedule creates or replaces (TenantID, Job). Since is kept when
	// Cron and TimeZone are unchanged, else set to s.Since (now when zero).
	PutSchedule(ctx context.Context, s *Schedule) error
	ListSchedules(ctx context.Context, tenantID string) ([]Schedule, error)
	DeleteSchedule(ctx context.Context, tenantID, job string) error

	// ClaimSlot claims (tenantID, job, at) for owner until now+lease. It wins
	// when the slot is new, or when it is still running and its lease ran
	// out (a crashed runner or a retry that is due): then Attempts grows.
	// won is false when someone else holds it or it is finished.
	ClaimSlot(ctx context.Context, tenantID, job string, at time.Time, owner string, now time.Time, lease time.Duration) (slot *Slot, won bool, err error)
	// FinishSlot records an attempt's outcome, only while owner still holds
	// the claim taken at attempt: status done or failed ends the slot;
	// running with retryAt schedules another attempt. ErrStale when the
	// claim was lost.
	FinishSlot(ctx context.Context, tenantID, job string, at time.Time, owner string, attempt int, status SlotStatus, lastError string, now, retryAt time.Time) error
	GetSlot(ctx context.Context, tenantID, job string, at time.Time) (*Slot, error)
	// LastSlot is the job's most recent slot; ErrNotFound when none.
	LastSlot(ctx context.Context, tenantID, job string) (*Slot, error)
	// LastDoneSlotBefore is the most recent done slot strictly before at; ErrNotFound when none.
	LastDoneSlotBefore(ctx context.Context, tenantID, job string, at time.Time) (*Slot, error)
	// SkipOvertakenSlots marks skipped (finished at now) every running slot
	// whose lease ran out by now and that a later slot of the same job has
	// overtaken, and returns how many.
	SkipOvertakenSlots(ctx context.Context, tenantID string, now time.Time) (int, error)

	// PutAlertSettings creates or replaces the tenant's settings, keeping Since once set.
	PutAlertSettings(ctx context.Context, a *AlertSettings) error
	// GetAlertSettings returns ErrNotFound when the tenant has none.
	GetAlertSettings(ctx context.Context, tenantID string) (*AlertSettings, error)
	DeleteAlertSettings(ctx context.Context, tenantID string) error

	// ClaimDelivery claims key for sending until now+lease. It wins when the
	// key is new or still claimed with its lease run out. When it does not
	// win, d is the current record (Status sent: already delivered).
	ClaimDelivery(ctx context.Context, tenantID, key string, now time.Time, lease time.Duration) (d *Delivery, won bool, err error)
	// CompleteDelivery marks a claimed key sent, with where it went.
	CompleteDelivery(ctx context.Context, tenantID, key, channelID, ts string, now time.Time) error
	// ReleaseDelivery lets a failed send be claimed again from retryAt.
	ReleaseDelivery(ctx context.Context, tenantID, key string, retryAt time.Time) error
	// ReleaseUnsentDelivery releases claim attempt of key, as
	// ReleaseDelivery, and records that no claim up to it posted: the caller
	// knows its send never left and that no earlier claim's did. ErrStale
	// when attempt is no longer the current claim.
	ReleaseUnsentDelivery(ctx context.Context, tenantID, key string, attempt int, retryAt time.Time) error
	// ListDeliveries lists the tenant's deliveries whose key starts with prefix, by key.
	ListDeliveries(ctx context.Context, tenantID, prefix string) ([]Delivery, error)
	// PruneDeliveries deletes the tenant's sent deliveries sent before
	// sentBefore and returns how many; claimed ones are kept.
	PruneDeliveries(ctx context.Context, tenantID string, sentBefore time.Time) (int, error)
}
