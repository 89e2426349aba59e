package slackapi

import (
	"errors"

	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot/bot/blockkit"
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

// BlockKit is the production Guard: it fits payloads with bot/blockkit
// (truncating with a visible "…and N more") and refuses what cannot be fitted.
type BlockKit struct{}

var _ Guard = BlockKit{}

func (BlockKit) Message(text string, blocks []slack.Block) (string, []slack.Block, error) {
	return blockkit.FitMessage(text, blocks)
}

func (BlockKit) Modal(v slack.ModalViewRequest) (slack.ModalViewRequest, error) {
	err := blockkit.FitModal(&v)
	return v, err
}

func (BlockKit) Home(v slack.HomeTabViewRequest) (slack.HomeTabViewRequest, error) {
	err := blockkit.FitHome(&v)
	return v, err
}

// Strict is a Guard for tests: it changes nothing and refuses any payload
// that breaks a limit, so a test fails instead of a payload being fitted.
type Strict struct{}

var _ Guard = Strict{}

func (Strict) Message(text string, blocks []slack.Block) (string, []slack.Block, error) {
	return text, blocks, blockkit.ValidateMessageText(text, blocks)
}

func (Strict) Modal(v slack.ModalViewRequest) (slack.ModalViewRequest, error) {
	return v, blockkit.ValidateView(v)
}

func (Strict) Home(v slack.HomeTabViewRequest) (slack.HomeTabViewRequest, error) {
	return v, blockkit.ValidateHome(v)
}
