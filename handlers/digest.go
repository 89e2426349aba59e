package handlers

import (
	"context"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/blockkit"
	"github.com/accessbot/accessbot/bot/slackapi"
	"github.com/accessbot/accessbot/flows/digest"
	"github.com/accessbot/accessbot/handlers/views"
	"github.com/accessbot/accessbot/store"
)

// DigestStore is what the digest's Slack side reads and writes.
type DigestStore interface {
	WorkspaceByTenant(ctx context.Context, tenantID string) (*accessbot.Workspace, error)
	GetFinding(ctx context.Context, tenantID, id string) (*accessbot.Finding, error)
	SetFindingStatus(ctx context.Context, tenantID, id string, from []accessbot.FindingStatus, to accessbot.FindingStatus, by string, at time.Time) error
	GetApplication(ctx context.Context, tenantID, id string) (*accessbot.Application, error)
	GetIdentity(ctx context.Context, tenantID, id string) (*accessbot.Identity, error)
	GetUser(ctx context.Context, tenantID, id string) (*accessbot.User, error)
	GetUserByEmail(ctx context.Context, tenantID, email string) (*accessbot.User, error)
	ListSchedules(ctx context.Context, tenantID string) ([]store.Schedule, error)
	AppendAudit(ctx context.Context, e *accessbot.AuditEntry) error
}

// DigestConfig configures the digest's Slack side.
type DigestConfig struct {
	Store   DigestStore
	Clients ChatClients
	// Actions are the item buttons; nil means DefaultItemActions.
	Actions *ItemActions
	// Location renders times when the flow names no zone (the tenant's
	// digest schedule decides: digest.Zone); nil means UTC.
	Location *time.Location
	// Playbooks, when set, offers the finding playbooks on each item.
	Playbooks *PlaybookMenus
	// TopItems listed with buttons in the top message; default 10.
	TopItems int
	Now      func() time.Time
	Log      zerolog.Logger
}

// Digest posts digests and critical alerts to Slack (digest.Notifier) and
// answers their item buttons.
type Digest struct {
	cfg DigestConfig
}

var _ digest.Notifier = (*Digest)(nil)

func NewDigest(cfg DigestConfig) *Digest {
	if cfg.Actions == nil {
		cfg.Actions = DefaultItemActions()
	}
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Digest{cfg: cfg}
}

// Digest renders d; every message is checked by the Block Kit guard here,
// so a digest that Slack would refuse fails before anything is sent.
func (h *Digest) Digest(ctx context.Context, d *digest.Digest) ([]digest.Message, error) {
	chunks := views.Digest(views.DigestInfo{
		Since: d.From, At: d.Slot, Location: h.loc(d.Location), Counts: d.Counts, Items: d.Items, More: d.More,
		Actions: h.cfg.Actions.Views(), TopItems: h.cfg.TopItems, Playbooks: h.cfg.Playbooks.findingChoices(ctx, d.TenantID, d.Items),
	})
	out := make([]digest.Message, 0, len(chunks))
	for i, c := range chunks {
		if err := blockkit.ValidateMessageText(c.Text, c.Blocks); err != nil {
			return nil, fmt.Errorf("digest message %d of %d: %w", i+1, len(chunks), err)
		}
		out = append(out, c)
	}
	return out, nil
}

func (h *Digest) AllClear(d *digest.Digest) (digest.Message, error) {
	c := views.AllClear(d.From, h.loc(d.Location))
	return c, blockkit.ValidateMessageText(c.Text, c.Blocks)
}

func (h *Digest) Critical(ctx context.Context, f *accessbot.Finding, loc *time.Location) (digest.Message, error) {
	c := views.CriticalAlert(*f, h.cfg.Actions.Views(), h.cfg.Playbooks.findingChoices(ctx, f.TenantID, []accessbot.Finding{*f})[f.ID], h.loc(loc))
	return c, blockkit.ValidateMessageText(c.Text, c.Blocks)
}

// loc is the zone to show times in: the flow's, else the configured one.
func (h *Digest) loc(l *time.Location) *time.Location {
	if l != nil {
		return l
	}
	return h.cfg.Location
}

// zone is the tenant's digest time zone for status lines, the configured
// one when it cannot be read.
func (h *Digest) zone(ctx context.Context, tenantID string) *time.Location {
	loc, err := digest.Zone(ctx, h.cfg.Store, tenantID)
	if err != nil {
		h.cfg.Log.Warn().Err(err).Str("tenant", tenantID).Msg("digest time zone; showing the default")
		return h.cfg.Location
	}
	return loc
}

// Post sends a rendered message to a channel of the tenant's workspace,
// tagged with its delivery key.
func (h *Digest) Post(ctx context.Context, tenantID, channelID string, m digest.Message, threadTS, key string) (string, error) {
	c, ok := m.(views.Chunk)
	if !ok {
		return "", fmt.Errorf("post digest message: unexpected %T", m)
	}
	cl, err := h.client(ctx, tenantID)
	if err != nil {
		return "", fmt.Errorf("post to %s: %w", channelID, err)
	}
	_, ts, err := cl.PostMessage(ctx, channelID, slackapi.Message{Text: c.Text, Blocks: c.Blocks, ThreadTS: threadTS, DeliveryKey: key})
	if slackapi.NotSent(err) {
		return "", fmt.Errorf("%w: %w", digest.ErrNotSent, err)
	}
	if err != nil {
		return "", err
	}
	return ts, nil
}

// Find looks for the message tagged key (see Post) in the channel or thread.
func (h *Digest) Find(ctx context.Context, tenantID, channelID, threadTS, key string, since time.Time) (string, error) {
	cl, err := h.client(ctx, tenantID)
	if err != nil {
		return "", fmt.Errorf("look in %s: %w", channelID, err)
	}
	ts, err := cl.FindDelivery(ctx, channelID, threadTS, key, since)
	if slackapi.SlackErrorCode(err) == "missing_scope" {
		// Installed before the history scopes were asked for: sending at
		// least once beats never; reinstalling grants them.
		h.cfg.Log.Warn().Err(err).Str("tenant", tenantID).Str("key", key).
			Msg("cannot check whether an earlier attempt posted (reinstall the Slack app to grant the history scopes); posting")
		return "", nil
	}
	return ts, err
}

func (h *Digest) client(ctx context.Context, tenantID string) (ChatAPI, error) {
	ws, err := h.cfg.Store.WorkspaceByTenant(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("workspace of tenant %s: %w", tenantID, err)
	}
	return h.cfg.Clients.For(ctx, ws.TeamID)
}
