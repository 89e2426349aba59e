package identity

import (
	"errors"
	"fmt"
)

// Errors callers branch on with errors.Is. The typed errors below carry the
// details and a UserMessage in plain words for Slack.
var (
	ErrWorkspaceNotLinked = errors.New("slack workspace is not linked to a tenant")
	ErrNoEmail            = errors.New("slack user has no visible email")
	ErrNoMatch            = errors.New("no tenant user has the slack user's email")
	ErrTerminated         = errors.New("tenant user is terminated")
)

// UserMessager is an error that knows how to explain itself to a Slack user.
type UserMessager interface {
	error
	UserMessage() string
}

// UserMessage returns the plain-words answer for err: the error's own when it
// has one, otherwise a generic apology (a raw Go error is never shown).
func UserMessage(err error) string {
	var um UserMessager
	if errors.As(err, &um) {
		return um.UserMessage()
	}
	return "Sorry, I couldn't work out who you are just now. Please try again in a minute; " +
		"if it keeps happening, tell your accessbot administrator."
}

// NotLinkedError: the payload's team id has no workspace binding.
type NotLinkedError struct{ TeamID string }

func (e *NotLinkedError) Error() string {
	return fmt.Sprintf("team %s: %v", e.TeamID, ErrWorkspaceNotLinked)
}
func (e *NotLinkedError) Unwrap() error { return ErrWorkspaceNotLinked }
func (e *NotLinkedError) UserMessage() string {
	return "This Slack workspace isn't linked to accessbot yet, so I can't help here. " +
		"An accessbot administrator must install accessbot for your organisation, " +
		"or bind this workspace (team " + e.TeamID + ") in the tenant file with `accessbot apply`."
}

// NoEmailError: Slack shows no email for the user (hidden, a bot, or the app
// lacks users:read.email).
type NoEmailError struct {
	TeamID      string
	SlackUserID string
	SlackName   string // display or real name, "" when unknown
}

func (e *NoEmailError) Error() string {
	return fmt.Sprintf("team %s user %s (%s): %v", e.TeamID, e.SlackUserID, e.SlackName, ErrNoEmail)
}
func (e *NoEmailError) Unwrap() error { return ErrNoEmail }
func (e *NoEmailError) UserMessage() string {
	return fmt.Sprintf("I can't see an email address for your Slack account (<@%s>, id %s), "+
		"and accessbot matches people by email. Ask your Slack admin to check that your profile "+
		"has an email, and ask your accessbot administrator to check that the app was installed "+
		"with the users:read.email permission.", e.SlackUserID, e.SlackUserID)
}

// NoMatchError: no tenant user has the email Slack reports.
type NoMatchError struct {
	Email       string // as Slack reports it
	TenantID    string
	SlackUserID string
	Admins      []Admin // the tenant's admins, who can add the user
}

func (e *NoMatchError) Error() string {
	return fmt.Sprintf("tenant %s: slack user %s email %q: %v", e.TenantID, e.SlackUserID, e.Email, ErrNoMatch)
}
func (e *NoMatchError) Unwrap() error { return ErrNoMatch }
func (e *NoMatchError) UserMessage() string {
	who := "An accessbot administrator"
	if w := AdminsWords(e.Admins); w != "" {
		who = "Your accessbot administrator (" + w + ")"
	}
	return fmt.Sprintf("Slack says your email is *%s*, but nobody with that email is registered in accessbot "+
		"for your organisation, so I can't act for you and nothing was filed. "+
		"%s must add a user with exactly that email, "+
		"with `accessbot apply` (tenant file) or `accessbot import users` (CSV).", e.Email, who)
}

// TerminatedError: the matched tenant user is terminated.
type TerminatedError struct {
	Email    string
	TenantID string
	UserID   string
}

func (e *TerminatedError) Error() string {
	return fmt.Sprintf("tenant %s user %s (%s): %v", e.TenantID, e.UserID, e.Email, ErrTerminated)
}
func (e *TerminatedError) Unwrap() error { return ErrTerminated }
func (e *TerminatedError) UserMessage() string {
	return fmt.Sprintf("Your accessbot account (%s) is marked as terminated, so you can't use accessbot. "+
		"If that's wrong, ask an accessbot administrator to reactivate it.", e.Email)
}
