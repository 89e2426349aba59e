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
	ForgetSlackUser(ctx context.Context, tenantID, teamID, slackUserID, keepEmail string) (int, error)
}

// errSlackIDForgotten: a DM by a stored Slack id failed because Slack no
// longer knows that user, and the id was forgotten. Unlike Slack's answer
// it is worth a retry, which looks the user up by email again.
var errSlackIDForgotten = errors.New("stored Slack id forgotten")

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

// delivery is the DM with a tenant user as an outbox delivery's to and
// after: to finds the channel, after stores what Slack told it once the
// post is done (or forgets a Slack user Slack says is gone), so the
// store's writes take none of the post's time.
func (d slackDirectory) delivery(cl ChatAPI, teamID string, user func(context.Context) (*accessbot.User, error)) (to func(context.Context) (string, error), after func(context.Context, error) error) {
	finish := noFinish
	to = func(ctx context.Context) (string, error) {
		u, err := user(ctx)
		if err != nil {
			return "", err
		}
		ch, f, err := d.find(ctx, cl, teamID, u)
		finish = f
		return ch, err
	}
	return to, func(ctx context.Context, err error) error { return finish(ctx, err) }
}

// deliveryFrom is delivery for a user loaded, and their Slack id read
// (stored), before the claim: to then reads nothing from the store.
func (d slackDirectory) deliveryFrom(cl ChatAPI, teamID string, u *accessbot.User, old *store.SlackID) (to func(context.Context) (string, error), after func(context.Context, error) error) {
	finish := noFinish
	to = func(ctx context.Context) (string, error) {
		ch, f, err := d.findFrom(ctx, cl, teamID, u, old)
		finish = f
		return ch, err
	}
	return to, func(ctx context.Context, err error) error { return finish(ctx, err) }
}

func noFinish(_ context.Context, err error) error { return err }

// find returns the channel of the bot's DM with u in team, and finish,
// which is to be called with the DM's outcome (the error of the lookup,
// the post, or nil) and returns the error to report: see findFrom.
func (d slackDirectory) find(ctx context.Context, cl ChatAPI, teamID string, u *accessbot.User) (string, func(context.Context, error) error, error) {
	old, err := d.stored(ctx, teamID, u)
	if err != nil {
		return "", noFinish, err
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

// findFrom is find from old, u's stored Slack id read before (or nil). Its
// finish stores the Slack id and channel it had to ask Slack for (nothing
// when both were stored), unless Slack answered that the recipient is gone
// (recipientGone): then it stores nothing and forgets old, so the next DM
// looks u up by email again (a person re-created in Slack has a new id).
// When the DM went by what old stored (its Slack id unverified this time,
// or its DM channel), it reports errSlackIDForgotten instead of Slack's
// final answer, so a job retries the DM with that lookup.
func (d slackDirectory) findFrom(ctx context.Context, cl ChatAPI, teamID string, u *accessbot.User, old *store.SlackID) (string, func(context.Context, error) error, error) {
	var puts []func(context.Context) error
	s := old
	if s != nil && d.now().Sub(s.VerifiedAt) > d.maxAge {
		s = nil // verify the match of emails again
	}
	byStored := s != nil
	finish := func(ctx context.Context, err error) error {
		if code := recipientGone(err); code != "" {
			if old == nil {
				return err
			}
			return d.forget(ctx, u, old, byStored, code, err)
		}
		for _, put := range puts {
			// ErrStale: the user's email changed meanwhile; ErrNotFound:
			// the row is gone. The next DM looks up again.
			if err := put(ctx); err != nil && !errors.Is(err, accessbot.ErrNotFound) {
				d.log.Warn().Err(err).Str("tenant", u.TenantID).Str("user", u.ID).Msg("storing the Slack id failed")
			}
		}
		return err
	}
	if s == nil {
		su, err := cl.GetUserByEmail(ctx, u.Email)
		if err != nil {
			return "", finish, fmt.Errorf("find Slack user of %s: %w", u.ID, err)
		}
		s = &store.SlackID{TenantID: u.TenantID, UserID: u.ID, TeamID: teamID, SlackUserID: su.ID, Email: u.Email, VerifiedAt: d.now()}
		put := *s
		puts = append(puts, func(ctx context.Context) error { return d.st.PutSlackID(ctx, &put) })
		if old != nil && old.SlackUserID == su.ID && old.DMChannelID != "" {
			s.DMChannelID = old.DMChannelID // the same Slack user: PutSlackID keeps its channel
			byStored = true
		}
	}
	if s.DMChannelID != "" {
		return s.DMChannelID, finish, nil
	}
	ch, err := cl.OpenConversation(ctx, s.SlackUserID)
	if err != nil {
		return "", finish, fmt.Errorf("open DM with %s: %w", u.ID, err)
	}
	slackUser := s.SlackUserID
	puts = append(puts, func(ctx context.Context) error { return d.st.SetSlackDM(ctx, u.TenantID, u.ID, slackUser, ch) })
	return ch, finish, nil
}

// forget drops old, u's stored link to a Slack user Slack answered code
// about (err), in u's tenant and only while it names that Slack user (a
// newer match stays). byStored says the DM went by what old stored: then a
// retry, looking u up by email, may reach them, and forget says so.
func (d slackDirectory) forget(ctx context.Context, u *accessbot.User, old *store.SlackID, byStored bool, code string, err error) error {
	if _, ferr := d.st.ForgetSlackUser(ctx, u.TenantID, old.TeamID, old.SlackUserID, ""); ferr != nil {
		d.log.Warn().Err(ferr).Str("tenant", u.TenantID).Str("user", u.ID).Str("slack_user", old.SlackUserID).Msg("forgetting a gone Slack user failed")
		return err
	}
	d.log.Info().Str("tenant", u.TenantID).Str("user", u.ID).Str("slack_user", old.SlackUserID).Str("slack_error", code).
		Msg("Slack user gone: stored Slack id forgotten")
	if !byStored {
		return err
	}
	return fmt.Errorf("Slack answered %s to the DM by stored Slack id %s: %w", code, old.SlackUserID, errSlackIDForgotten)
}
