package handlers

import (
	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot/bot/slackapi"
)

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

// goneRecipientErrors are Slack's answers to a DM (users.lookupByEmail,
// conversations.open, chat.postMessage to the DM) that say the Slack user
// behind it is gone: deleted or deactivated, or its DM with the bot no
// longer usable. Not account_inactive, which is about the bot's own token:
// a workspace whose token died must not lose every stored Slack id.
var goneRecipientErrors = map[string]bool{
	"user_not_found": true, "users_not_found": true, "user_disabled": true,
	"channel_not_found": true, "is_archived": true,
}

// recipientGone returns Slack's error code when err (or what it wraps) says
// a DM's recipient is gone, else "".
func recipientGone(err error) string {
	if code := slackapi.SlackErrorCode(err); goneRecipientErrors[code] {
		return code
	}
	return ""
}
