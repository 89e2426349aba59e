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

// dm returns the channel of the bot's DM with u in team, storing what
// Slack told it on the way.
func (d slackDirectory) dm(ctx context.Context, cl ChatAPI, teamID string, u *accessbot.User) (string, error) {
	ch, save, err := d.find(ctx, cl, teamID, u)
	save(ctx)
	return ch, err
}

// delivery is the DM with a tenant user as an outbox delivery's to and
// after: to finds the channel, after stores what Slack told it once the
// post is done, so the store's writes take none of the post's time.
func (d slackDirectory) delivery(cl ChatAPI, teamID string, user func(context.Context) (*accessbot.User, error)) (to func(context.Context) (string, error), after func(context.Context)) {
	save := func(context.Context) {}
	to = func(ctx context.Context) (string, error) {
		u, err := user(ctx)
		if err != nil {
			return "", err
		}
		ch, s, err := d.find(ctx, cl, teamID, u)
		save = s
		return ch, err
	}
	return to, func(ctx context.Context) { save(ctx) }
}

// deliveryFrom is delivery for a user loaded, and their Slack id read
// (stored), before the claim: to then reads nothing from the store.
func (d slackDirectory) deliveryFrom(cl ChatAPI, teamID string, u *accessbot.User, old *store.SlackID) (to func(context.Context) (string, error), after func(context.Context)) {
	save := func(context.Context) {}
	to = func(ctx context.Context) (string, error) {
		ch, s, err := d.findFrom(ctx, cl, teamID, u, old)
		save = s
		return ch, err
	}
	return to, func(ctx context.Context) { save(ctx) }
}

// find returns the channel of the bot's DM with u in team, and save, which
// stores the Slack id and channel it had to ask Slack for (a no-op when
// both were stored).
func (d slackDirectory) find(ctx context.Context, cl ChatAPI, teamID string, u *accessbot.User) (string, func(context.Context), error) {
	old, err := d.stored(ctx, teamID, u)
	if err != nil {
		return "", func(context.Context) {}, err
	}
	return d.findFrom(ctx, cl, teamID, u, old)
}

// stored returns u's stored Slack id in team, nil if there is none.
func (d slackDirectory) stored(ctx context.Context, teamID string, u *accessbot.User) (*store.SlackID, error) {
	s, err := d.st.GetSlackID(ctx, u.TenantID, u.ID, teamID)
	if errors.Is(err, accessbot.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("find the Slack id of %s: %w", u.ID, err)
	}
	return s, nil
}

// findFrom is find from old, u's stored Slack id read before (or nil).
func (d slackDirectory) findFrom(ctx context.Context, cl ChatAPI, teamID string, u *accessbot.User, old *store.SlackID) (string, func(context.Context), error) {
	var puts []func(context.Context) error
	save := func(ctx context.Context) {
		for _, put := range puts {
			// ErrStale: the user's email changed meanwhile; ErrNotFound:
			// the row is gone. The next DM looks up again.
			if err := put(ctx); err != nil && !errors.Is(err, accessbot.ErrNotFound) {
				d.log.Warn().Err(err).Str("tenant", u.TenantID).Str("user", u.ID).Msg("storing the Slack id failed")
			}
		}
	}
	s := old
	if s != nil && d.now().Sub(s.VerifiedAt) > d.maxAge {
		s = nil // verify the match of emails again
	}
	if s == nil {
		su, err := cl.GetUserByEmail(ctx, u.Email)
		if err != nil {
			return "", save, fmt.Errorf("find Slack user of %s: %w", u.ID, err)
		}
		s = &store.SlackID{TenantID: u.TenantID, UserID: u.ID, TeamID: teamID, SlackUserID: su.ID, Email: u.Email, VerifiedAt: d.now()}
		put := *s
		puts = append(puts, func(ctx context.Context) error { return d.st.PutSlackID(ctx, &put) })
		if old != nil && old.SlackUserID == su.ID {
			s.DMChannelID = old.DMChannelID // the same Slack user: PutSlackID keeps its channel
		}
	}
	if s.DMChannelID != "" {
		return s.DMChannelID, save, nil
	}
	ch, err := cl.OpenConversation(ctx, s.SlackUserID)
	if err != nil {
		return "", save, fmt.Errorf("open DM with %s: %w", u.ID, err)
	}
	slackUser := s.SlackUserID
	puts = append(puts, func(ctx context.Context) error { return d.st.SetSlackDM(ctx, u.TenantID, u.ID, slackUser, ch) })
	return ch, save, nil
}
