package handlers

import "github.com/slack-go/slack"

// finalSlackErrors are Slack error codes no retry fixes: the person, the
// channel or the workspace's token is gone, or the message is refused.
var finalSlackErrors = map[string]bool{
	"user_not_found": true, "users_not_found": true, "user_disabled": true, "cannot_dm_bot": true,
	"channel_not_found": true, "is_archived": true, "message_not_found": true, "cant_update_message": true,
	"invalid_auth": true, "token_revoked": true, "account_inactive": true, "not_authed": true,
	"invalid_blocks": true, "msg_too_long": true, "no_text": true,
}

// FinalSlackError reports whether err itself (not what it wraps) is a Slack
// error no retry fixes, such as user_not_found. A job queue walking a
// Notifier error (jobs.AllFinal) gives up on such a failure instead of
// retrying it.
func FinalSlackError(err error) bool {
	switch e := err.(type) {
	case slack.SlackErrorResponse:
		return finalSlackErrors[e.Err]
	case *slack.SlackErrorResponse:
		return e != nil && finalSlackErrors[e.Err]
	}
	return false
}
