package playbooks

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/connectors/webhook"
	"github.com/accessbot/accessbot/store"
)

// Enqueuer inserts a job in a store transaction; *jobs.Queue is one.
type Enqueuer interface {
	InsertTx(ctx context.Context, tx store.Queries, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// ErrNotRunnable means a manual run asked for a playbook that is inactive,
// of another type, or scoped to another application.
var ErrNotRunnable = errors.New("playbook cannot run on this")

// Emit queues ev for every active playbook it concerns, in one transaction
// of its own, and returns the runs it queued (none for a repeated Key).
func (s *Service) Emit(ctx context.Context, tenantID string, ev Event) ([]accessbot.PlaybookRun, error) {
	var runs []accessbot.PlaybookRun
	err := s.st.InTx(ctx, func(q store.Queries) error {
		var err error
		runs, err = s.EmitTx(ctx, q, tenantID, ev)
		return err
	})
	return runs, err
}

// EmitTx is Emit inside the caller's transaction q: the deliveries are
// queued exactly when the caller's change commits.
func (s *Service) EmitTx(ctx context.Context, q store.Queries, tenantID string, ev Event) ([]accessbot.PlaybookRun, error) {
	enq := s.enqueuer()
	if enq == nil {
		return nil, nil // no job queue (CLI tools): playbooks run under `run` only
	}
	all, err := q.ListPlaybooks(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("emit %s: %w", ev.Type, err)
	}
	targets := Select(all, ev.Type, ev.AppID)
	if len(targets) == 0 {
		return nil, nil
	}
	tenant, err := q.GetTenant(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("emit %s: %w", ev.Type, err)
	}
	trigger := TriggerEvent
	if ev.Type == SyncCompleted {
		trigger = TriggerSync
	}
	var runs []accessbot.PlaybookRun
	var scoped []string // Select puts them first; the global runs wait for them
	for i := range targets {
		var after []string
		if targets[i].AppID == "" {
			after = scoped
		}
		r, err := s.queue(ctx, q, enq, tenant, &targets[i], ev, trigger, "", after)
		if errors.Is(err, accessbot.ErrConflict) {
			continue // this occurrence was queued before
		}
		if err != nil {
			return nil, err
		}
		if targets[i].AppID != "" {
			scoped = append(scoped, r.ID)
		}
		runs = append(runs, *r)
	}
	return runs, nil
}

// Select returns the active playbooks an event of eventType about appID
// goes to: integration-specific ones (of appID) first, then global ones,
// each group by name. A sync event goes to the playbooks with the
// recurrence set, whatever their type.
func Select(all []accessbot.Playbook, eventType, appID string) []accessbot.Playbook {
	want := playbookType(eventType)
	var scoped, global []accessbot.Playbook
	for _, p := range all {
		switch {
		case !p.Active:
		case eventType == SyncCompleted && !p.OnSync:
		case eventType != SyncCompleted && p.Type != want:
		case p.AppID == "":
			global = append(global, p)
		case p.AppID == appID:
			scoped = append(scoped, p)
		}
	}
	return slices.Concat(scoped, global)
}

// RunManual queues one run of playbook id on ev for actorID, who sees the
// outcome at replyTo (the Slack layer's encoding of a message). The
// playbook must be active, of the object's type and, when scoped, of its
// application.
func (s *Service) RunManual(ctx context.Context, tenantID, playbookID, actorID string, ev Event, replyTo string) (*accessbot.PlaybookRun, error) {
	enq := s.enqueuer()
	if enq == nil {
		return nil, errors.New("playbooks cannot run: no job queue in this process")
	}
	var run *accessbot.PlaybookRun
	err := s.st.InTx(ctx, func(q store.Queries) error {
		p, err := q.GetPlaybook(ctx, tenantID, playbookID)
		if err != nil {
			return err
		}
		if !p.Active || string(p.Type)+manualSuffix != ev.Type || (p.AppID != "" && p.AppID != ev.AppID) {
			return fmt.Errorf("playbook %q: %w", p.Name, ErrNotRunnable)
		}
		tenant, err := q.GetTenant(ctx, tenantID)
		if err != nil {
			return err
		}
		ev.Key = "" // every manual run is a new event
		ev.ActorID = actorID
		run, err = s.queue(ctx, q, enq, tenant, p, ev, TriggerManual, replyTo, nil)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("run playbook: %w", err)
	}
	return run, nil
}

func (s *Service) queue(ctx context.Context, q store.Queries, enq Enqueuer, tenant *accessbot.Tenant, p *accessbot.Playbook, ev Event, trigger, replyTo string, after []string) (*accessbot.PlaybookRun, error) {
	if ev.At.IsZero() {
		ev.At = s.now()
	}
	actor := ev.ActorID
	if actor == "" {
		actor = accessbot.ActorSystem
	}
	id := "msg_" + uuid.Must(uuid.NewV7()).String()
	if ev.Key != "" {
		id = webhook.MessageID(tenant.ID, ev.Type, ev.Key, p.ID)
	}
	id = cleanID(id)
	body, err := buildBody(id, ev, tenant, p, trigger, actor)
	if err != nil {
		return nil, err
	}
	r := &accessbot.PlaybookRun{TenantID: tenant.ID, PlaybookID: p.ID, EventID: id, EventType: ev.Type,
		ObjectType: ev.ObjectType, ObjectID: ev.ObjectID, Trigger: trigger, ActorID: actor, Event: body, EventAt: ev.At,
		Status: accessbot.RunPending, ReplyTo: replyTo, CreatedAt: s.now()}
	if err := q.CreatePlaybookRun(ctx, r); err != nil {
		return nil, err
	}
	// Integration-specific playbooks go first: River fetches higher
	// priorities (lower numbers) first, and a global run waits for the
	// first attempt of the event's integration-specific ones (after).
	prio := 2
	if p.AppID != "" {
		prio = 1
	}
	if _, err := enq.InsertTx(ctx, q, DeliverArgs{TenantID: tenant.ID, RunID: r.ID, After: after},
		&river.InsertOpts{MaxAttempts: s.maxAttempts, Priority: prio}); err != nil {
		return nil, fmt.Errorf("queue playbook %q: %w", p.Name, err)
	}
	s.log.Info().Str("tenant", tenant.ID).Str("playbook", p.Name).Str("event", ev.Type).Str("webhook_id", id).
		Str("trigger", trigger).Msg("playbook run queued")
	return r, nil
}

// cleanID keeps an id within what webhook-id allows (A-Z a-z 0-9 _ -).
func cleanID(id string) string {
	b := []byte(id)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			b[i] = '_'
		}
	}
	return string(b)
}

// now is the service clock, UTC.
func (s *Service) now() time.Time { return s.clock().UTC() }
