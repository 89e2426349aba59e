// Package digest composes each tenant's findings digest and critical-finding
// alerts, and delivers them through a Notifier exactly once per channel: every
// message goes through the store's delivery outbox, so a retried slot never
// resends a part that already went out. No Slack types here.
package digest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/schedule"
	"github.com/accessbot/accessbot/store"
)

// Job is the schedule job kind of the daily digest.
const Job = "findings_digest"

// Digest is one tenant's digest for one slot: findings opened in (From, To].
type Digest struct {
	TenantID string
	Slot     time.Time
	From, To time.Time // From is zero for the first digest
	Counts   map[accessbot.Severity]int
	// Items are the new findings, most severe first, at most Config.MaxItems.
	Items []accessbot.Finding
	// More counts new findings left out beyond MaxItems.
	More int
	// Location is the time zone of the tenant's digest schedule: times are
	// shown in it.
	Location *time.Location
}

// Total is every new finding, shown or not.
func (d *Digest) Total() int { return len(d.Items) + d.More }

// Message is a rendered message, opaque to this package.
type Message any

// Notifier renders and sends; the Slack layer implements it.
type Notifier interface {
	// Digest renders d: the first message is posted in the channel, the rest
	// as replies in its thread. Every message must fit Slack's limits.
	Digest(ctx context.Context, d *Digest) ([]Message, error)
	// AllClear renders the one-line "nothing new" message.
	AllClear(d *Digest) (Message, error)
	// Critical renders the immediate alert for one critical finding, with
	// times in loc (the tenant's digest time zone).
	Critical(ctx context.Context, f *accessbot.Finding, loc *time.Location) (Message, error)
	// Post sends m to channelID (as a reply to threadTS when set), tagged
	// with its delivery key, and returns its ts. An error that certainly
	// sent nothing (refused by the pace, say) wraps ErrNotSent.
	Post(ctx context.Context, tenantID, channelID string, m Message, threadTS, key string) (ts string, err error)
	// Find returns the ts of the message tagged key in channelID (or the
	// thread threadTS) posted since then, "" when there is none.
	Find(ctx context.Context, tenantID, channelID, threadTS, key string, since time.Time) (ts string, err error)
}

// ErrNotSent marks a Post error after which the message certainly did not
// reach the channel: the claim is released as unsent, so the retry posts
// without looking for an earlier post first.
var ErrNotSent = errors.New("not sent")

// Store is what the digest reads and records; store.Store has it.
type Store interface {
	ListTenants(ctx context.Context) ([]accessbot.Tenant, error)
	ListSchedules(ctx context.Context, tenantID string) ([]store.Schedule, error)
	GetAlertSettings(ctx context.Context, tenantID string) (*store.AlertSettings, error)
	LastDoneSlotBefore(ctx context.Context, tenantID, job string, at time.Time) (*store.Slot, error)
	NewFindings(ctx context.Context, tenantID string, from, to time.Time, limit int) (*store.NewFindings, error)
	ListFindings(ctx context.Context, tenantID string, f accessbot.FindingFilter) ([]accessbot.Finding, error)
	ClaimDelivery(ctx context.Context, tenantID, key string, now time.Time, lease time.Duration) (*store.Delivery, bool, error)
	CompleteDelivery(ctx context.Context, tenantID, key, channelID, ts string, now time.Time) error
	ReleaseDelivery(ctx context.Context, tenantID, key string, retryAt time.Time) error
	ReleaseUnsentDelivery(ctx context.Context, tenantID, key string, attempt int, retryAt time.Time) error
	ListDeliveries(ctx context.Context, tenantID, prefix string) ([]store.Delivery, error)
}

// Config tunes the service; zero values pick defaults.
type Config struct {
	// MaxItems caps the findings listed in one digest (the rest are
	// counted); default 1000. Negative means no cap.
	MaxItems int
	// Lease holds a delivery while it is being sent; default 5m.
	Lease time.Duration
	// CriticalLookback bounds how old a critical finding may be to alert
	// at once; default 7 days.
	CriticalLookback time.Duration
	Clock            func() time.Time
	Log              zerolog.Logger
}

// Service builds and sends digests and critical alerts.
type Service struct {
	st     Store
	notify Notifier
	cfg    Config
	log    zerolog.Logger
}

var _ schedule.Job = (*Service)(nil)

func New(st Store, n Notifier, cfg Config) *Service {
	if cfg.MaxItems == 0 {
		cfg.MaxItems = 1000
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 5 * time.Minute
	}
	if cfg.CriticalLookback <= 0 {
		cfg.CriticalLookback = 7 * 24 * time.Hour
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	return &Service{st: st, notify: n, cfg: cfg, log: cfg.Log.With().Str("component", "digest").Logger()}
}

// ScheduleLister reads a tenant's schedules; store.Store has it.
type ScheduleLister interface {
	ListSchedules(ctx context.Context, tenantID string) ([]store.Schedule, error)
}

// Zone is the time zone of the tenant's digest schedule, UTC without one:
// the digest, critical alerts and their status lines show times in it.
func Zone(ctx context.Context, st ScheduleLister, tenantID string) (*time.Location, error) {
	scheds, err := st.ListSchedules(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("digest time zone of tenant %s: %w", tenantID, err)
	}
	for _, sc := range scheds {
		if sc.Job == Job {
			return schedule.LoadZone(sc.TimeZone)
		}
	}
	return time.UTC, nil
}

// Build composes the digest of slot: findings still open that were opened
// after the previous done digest's slot and at or before this one. Fixing
// the window to slots makes a retried slot list the same findings.
func (s *Service) Build(ctx context.Context, tenantID string, slot time.Time) (*Digest, error) {
	loc, err := Zone(ctx, s.st, tenantID)
	if err != nil {
		return nil, err
	}
	d := &Digest{TenantID: tenantID, Slot: slot, To: slot, Counts: map[accessbot.Severity]int{}, Location: loc}
	switch prev, err := s.st.LastDoneSlotBefore(ctx, tenantID, Job, slot); {
	case errors.Is(err, accessbot.ErrNotFound):
	case err != nil:
		return nil, fmt.Errorf("digest of tenant %s: %w", tenantID, err)
	default:
		d.From = prev.At
	}
	found, err := s.st.NewFindings(ctx, tenantID, d.From, slot, s.cfg.MaxItems)
	if err != nil {
		return nil, fmt.Errorf("digest of tenant %s: %w", tenantID, err)
	}
	d.Counts, d.Items = found.Counts, found.Items
	for _, n := range d.Counts {
		d.More += n
	}
	d.More = max(0, d.More-len(d.Items))
	return d, nil
}

// Run sends the digest of r.Slot to every alert channel of r's tenant.
func (s *Service) Run(ctx context.Context, r schedule.Run) error {
	log := s.log.With().Str("tenant", r.TenantID).Time("slot", r.Slot).Logger()
	settings, err := s.st.GetAlertSettings(ctx, r.TenantID)
	if errors.Is(err, accessbot.ErrNotFound) || (err == nil && len(settings.Channels) == 0) {
		log.Debug().Msg("no alert channels; no digest")
		return nil
	}
	if err != nil {
		return fmt.Errorf("digest: %w", err)
	}
	d, err := s.Build(ctx, r.TenantID, r.Slot)
	if err != nil {
		return err
	}
	var msgs []Message
	if d.Total() == 0 {
		if !settings.AllClear {
			log.Debug().Msg("nothing new; all clear is off")
			return nil
		}
		m, err := s.notify.AllClear(d)
		if err != nil {
			return fmt.Errorf("render all clear: %w", err)
		}
		msgs = []Message{m}
	} else if msgs, err = s.notify.Digest(ctx, d); err != nil {
		return fmt.Errorf("render digest: %w", err)
	}
	var errs []error
	for _, ch := range settings.Channels {
		prefix := fmt.Sprintf("%s:%s:%s:", Job, r.Slot.UTC().Format(time.RFC3339), ch)
		if err := s.deliver(ctx, r.TenantID, ch, prefix, msgs); err != nil {
			errs = append(errs, fmt.Errorf("channel %s: %w", ch, err))
		}
	}
	if len(errs) == 0 {
		log.Info().Int("findings", d.Total()).Int("channels", len(settings.Channels)).Int("messages", len(msgs)).Msg("digest sent")
	}
	return errors.Join(errs...)
}

// deliver posts msgs to channel, the first at top level and the rest in its
// thread, skipping parts the outbox says went out already.
func (s *Service) deliver(ctx context.Context, tenantID, channel, prefix string, msgs []Message) error {
	parent := ""
	for i, m := range msgs {
		key := fmt.Sprintf("%s%04d", prefix, i)
		thread := parent
		if i == 0 {
			thread = ""
		}
		ts, err := s.send(ctx, tenantID, channel, key, m, thread)
		if err != nil {
			return err
		}
		if i == 0 {
			parent = ts
		}
	}
	return nil
}

// errBusy means another runner holds a delivery: retry later.
var errBusy = errors.New("delivery is being sent by another runner")

// send posts one message through the outbox and returns its ts, exactly
// once as the request notifier does (handlers' once): once the claim is
// won a shutdown no longer cuts the send (the post gets half the lease),
// a record the database refuses is retried until the lease ends, and a
// claim taken over first looks for the earlier post by its key.
func (s *Service) send(ctx context.Context, tenantID, channel, key string, m Message, thread string) (string, error) {
	now := s.cfg.Clock().UTC()
	d, won, err := s.st.ClaimDelivery(ctx, tenantID, key, now, s.cfg.Lease)
	if err != nil {
		return "", err
	}
	if !won {
		if d.Status == store.DeliverySent {
			return d.TS, nil
		}
		return "", fmt.Errorf("%s: %w", key, errBusy)
	}
	held, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.Lease)
	defer cancel()
	postCtx, cancelPost := context.WithTimeout(held, s.cfg.Lease/2)
	defer cancelPost()
	// clean: no earlier claim can have posted (the outbox says so, or the
	// channel was searched).
	clean := !d.EarlierMayHavePosted()
	ts := ""
	if !clean {
		ts, err = s.notify.Find(postCtx, tenantID, channel, thread, key, d.CreatedAt.Add(-2*time.Minute))
		clean = err == nil && ts == ""
	}
	if err == nil && ts == "" {
		ts, err = s.notify.Post(postCtx, tenantID, channel, m, thread, key)
	}
	if err != nil {
		// Let the next attempt claim it at once; the slot's backoff paces
		// retries. Certainly not sent after a clean claim: the retry
		// need not look for it.
		var rerr error
		if clean && errors.Is(err, ErrNotSent) {
			rerr = s.st.ReleaseUnsentDelivery(held, tenantID, key, d.Attempts, now)
		} else {
			rerr = s.st.ReleaseDelivery(held, tenantID, key, now)
		}
		if rerr != nil {
			err = errors.Join(err, rerr)
		}
		return "", fmt.Errorf("post %s: %w", key, err)
	}
	wait := 50 * time.Millisecond
	for {
		err := s.st.CompleteDelivery(held, tenantID, key, channel, ts, s.cfg.Clock().UTC())
		if err == nil || errors.Is(err, accessbot.ErrStale) {
			return ts, nil
		}
		select {
		case <-held.Done():
			return "", fmt.Errorf("record %s as sent: %w", key, err)
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// AlertCritical posts every open critical finding that has not been alerted
// yet, once per channel, outside the digest. It polls, so an alert survives
// a crash between the finding's commit and the post; the outbox key (finding
// and when it opened) makes it once per finding, and again if it reopens.
// Run it on every scheduler tick.
func (s *Service) AlertCritical(ctx context.Context, now time.Time) error {
	tenants, err := s.st.ListTenants(ctx)
	if err != nil {
		return fmt.Errorf("critical alerts: %w", err)
	}
	var errs []error
	for _, t := range tenants {
		if err := s.alertTenant(ctx, t.ID, now); err != nil {
			errs = append(errs, fmt.Errorf("critical alerts of tenant %s: %w", t.ID, err))
		}
	}
	return errors.Join(errs...)
}

func (s *Service) alertTenant(ctx context.Context, tenantID string, now time.Time) error {
	settings, err := s.st.GetAlertSettings(ctx, tenantID)
	if errors.Is(err, accessbot.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(settings.Channels) == 0 {
		return nil
	}
	since := later(settings.Since, now.Add(-s.cfg.CriticalLookback))
	found, err := s.st.ListFindings(ctx, tenantID, accessbot.FindingFilter{
		Statuses: []accessbot.FindingStatus{accessbot.FindingOpen}, Severities: []accessbot.Severity{accessbot.SeverityCritical}, Since: since,
	})
	if err != nil {
		return err
	}
	sent, err := s.st.ListDeliveries(ctx, tenantID, "critical:")
	if err != nil {
		return err
	}
	done := map[string]bool{}
	for _, d := range sent {
		if d.Status == store.DeliverySent {
			done[d.Key] = true
		}
	}
	var loc *time.Location
	var errs []error
	for i := range found {
		f := &found[i]
		if f.OpenedAt.Before(since) {
			continue
		}
		var m Message
		for _, ch := range settings.Channels {
			key := fmt.Sprintf("critical:%s:%d:%s", f.ID, f.OpenedAt.UnixMicro(), ch)
			if done[key] {
				continue
			}
			if loc == nil {
				if loc, err = Zone(ctx, s.st, tenantID); err != nil {
					return err
				}
			}
			if m == nil {
				if m, err = s.notify.Critical(ctx, f, loc); err != nil {
					return fmt.Errorf("render critical alert %s: %w", f.ID, err)
				}
			}
			if _, err := s.send(ctx, tenantID, ch, key, m, ""); err != nil && !errors.Is(err, errBusy) {
				errs = append(errs, err)
			} else if err == nil {
				s.log.Info().Str("tenant", tenantID).Str("finding", f.ID).Str("channel", ch).Msg("critical finding alerted")
			}
		}
	}
	return errors.Join(errs...)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
