package handlers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

// DefaultSlackIDMaxAge is how long a stored Slack id is trusted for DMs
// without a new match of emails (docs/delivery.md): every interaction and
// every lookup renews it, user_change and email changes drop it sooner.
const DefaultSlackIDMaxAge = 30 * 24 * time.Hour

// SlackIDStore keeps tenant users' Slack ids and DM channels; store.Store has it.
type SlackIDStore interface {
	GetSlackID(ctx context.Context, tenantID, userID, teamID string) (*store.SlackID, error)
	PutSlackID(ctx context.Context, s *store.SlackID) error
	SetSlackDM(ctx context.Context, tenantID, userID, slackUserID, channelID string) error
}

// slackDirectory finds the DM channel of a tenant user: from the stored
// Slack id and channel when there are (no Slack call), else through
// users.lookupByEmail and conversations.open (both Slack Tier 3, paced at
// about one a second), whose answers it stores. The request and review
// notifiers share it, and so every replica shares what one learned.
type slackDirectory struct {
	st     SlackIDStore
	now    func() time.Time
	maxAge time.Duration
	log    zerolog.Logger
}

func newSlackDirectory(st SlackIDStore, now func() time.Time, maxAge time.Duration, log zerolog.Logger) slackDirectory {
	if maxAge <= 0 {
		maxAge = DefaultSlackIDMaxAge
	}
	return slackDirectory{st: st, now: now, maxAge: maxAge, log: log}
}

// dm returns the channel of the bot's DM with u in team.
func (d slackDirectory) dm(ctx context.Context, cl ChatAPI, teamID string, u *accessbot.User) (string, error) {
	old, err := d.st.GetSlackID(ctx, u.TenantID, u.ID, teamID)
	switch {
	case errors.Is(err, accessbot.ErrNotFound):
		old = nil
	case err != nil:
		return "", fmt.Errorf("find the Slack id of %s: %w", u.ID, err)
	}
	s := old
	if s != nil && d.now().Sub(s.VerifiedAt) > d.maxAge {
		s = nil // verify the match of emails again
	}
	if s == nil {
		su, err := cl.GetUserByEmail(ctx, u.Email)
		if err != nil {
			return "", fmt.Errorf("find Slack user of %s: %w", u.ID, err)
		}
		s = &store.SlackID{TenantID: u.TenantID, UserID: u.ID, TeamID: teamID, SlackUserID: su.ID, Email: u.Email, VerifiedAt: d.now()}
		// ErrStale: the user's email changed meanwhile. This DM goes to
		// the address the caller read; the next one looks up again.
		if err := d.st.PutSlackID(ctx, s); err != nil {
			d.log.Warn().Err(err).Str("tenant", u.TenantID).Str("user", u.ID).Msg("storing the Slack id failed")
		}
		if old != nil && old.SlackUserID == su.ID {
			s.DMChannelID = old.DMChannelID // the same Slack user: PutSlackID kept its channel
		}
	}
	if s.DMChannelID != "" {
		return s.DMChannelID, nil
	}
	ch, err := cl.OpenConversation(ctx, s.SlackUserID)
	if err != nil {
		return "", fmt.Errorf("open DM with %s: %w", u.ID, err)
	}
	if err := d.st.SetSlackDM(ctx, u.TenantID, u.ID, s.SlackUserID, ch); err != nil && !errors.Is(err, accessbot.ErrNotFound) {
		d.log.Warn().Err(err).Str("tenant", u.TenantID).Str("user", u.ID).Msg("storing the DM channel failed")
	}
	return ch, nil
}
