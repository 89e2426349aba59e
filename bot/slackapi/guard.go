package slackapi

import (
	"errors"

	"github.com/slack-go/slack"
)

// ErrGuard marks a payload the Block Kit guard refused; nothing was sent.
var ErrGuard = errors.New("payload breaks Slack's Block Kit limits")

// Guard checks every outgoing payload against Slack's limits. It returns what
// may be sent (possibly fitted: truncated or shortened with a visible note) or
// an error when it cannot be made acceptable.
type Guard interface {
	Message(text string, blocks []slack.Block) (string, []slack.Block, error)
	Modal(v slack.ModalViewRequest) (slack.ModalViewRequest, error)
	Home(v slack.HomeTabViewRequest) (slack.HomeTabViewRequest, error)
}
