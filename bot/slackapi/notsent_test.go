package slackapi_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot/bot/slackapi"
)

// TestNotSent: only errors that prove nothing left count as not sent; a
// timeout or a transport error may hide a post that went out.
func TestNotSent(t *testing.T) {
	t.Parallel()
	wrap := func(err error) error { return fmt.Errorf("slack chat.postMessage (team T1): %w", err) }
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"pace", wrap(slackapi.ErrPaceExceeded), true},
		{"guard", wrap(slackapi.ErrGuard), true},
		{"429", wrap(&slack.RateLimitedError{}), true},
		{"ok:false", wrap(slack.SlackErrorResponse{Err: "channel_not_found"}), true},
		{"internal_error", wrap(slack.SlackErrorResponse{Err: "internal_error"}), false},
		{"timeout", wrap(context.DeadlineExceeded), false},
		{"5xx", wrap(slack.StatusCodeError{Code: 502, Status: "Bad Gateway"}), false},
		{"connection", wrap(errors.New("connection reset")), false},
	} {
		if got := slackapi.NotSent(c.err); got != c.want {
			t.Errorf("%s: NotSent = %v, want %v", c.name, got, c.want)
		}
	}
}
