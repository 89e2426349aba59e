package store

import (
	"context"
	"time"

	"github.com/accessbot/accessbot"
)

// SlackID is the Slack user behind a tenant user in the tenant's workspace,
// kept so a DM needs no users.lookupByEmail (Slack Tier 3). It is valid only
// while Email, the address the Slack profile and the tenant user shared when
// it was verified, is still the tenant user's email (docs/delivery.md).
type SlackID struct {
	TenantID    string
	UserID      string
	TeamID      string
	SlackUserID string
	Email       string // lower-cased
	// DMChannelID is the bot's DM with the user once conversations.open
	// returned it ("" before): it never changes for a Slack user.
	DMChannelID string
	VerifiedAt  time.Time
}

// SlackIDs stores tenant users' Slack ids.
type SlackIDs interface {
	// GetSlackID returns the tenant user's Slack id in team, only while it
	// was verified for the user's current email; else ErrNotFound.
	GetSlackID(ctx context.Context, tenantID, userID, teamID string) (*SlackID, error)
	// PutSlackID records that s.SlackUserID's profile email equals the
	// tenant user's (s.Email, which must be the user's current email; else
	// ErrStale) at s.VerifiedAt. It keeps the known DM channel when the
	// Slack user is the same, and drops any other tenant user's row naming
	// that Slack user (an email that moved between Slack users).
	PutSlackID(ctx context.Context, s *SlackID) error
	// UserBySlackID returns the tenant user whose stored Slack id in team
	// is slackUserID, verified at or after since and still for the user's
	// current email (the identity rule), with the time it was verified;
	// else ErrNotFound. It lets a resolve skip users.info.
	UserBySlackID(ctx context.Context, tenantID, teamID, slackUserID string, since time.Time) (*accessbot.User, time.Time, error)
	// SetSlackDM records the DM channel, only while the row still names
	// slackUserID (else ErrNotFound).
	SetSlackDM(ctx context.Context, tenantID, userID, slackUserID, channelID string) error
	// ForgetSlackUser drops the rows naming team's Slack user whose email is
	// not keepEmail ("" drops them all), and returns how many it dropped: a
	// user_change event says the profile, maybe its email, changed; a DM
	// Slack refused as to a user gone drops them all.
	ForgetSlackUser(ctx context.Context, tenantID, teamID, slackUserID, keepEmail string) (int, error)
}
