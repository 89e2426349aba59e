package handlers_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot/handlers"
	"github.com/accessbot/accessbot/jobs"
)

func TestFinalSlackError(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		err  error
		want bool
	}{
		{slack.SlackErrorResponse{Err: "user_not_found"}, true},
		{&slack.SlackErrorResponse{Err: "channel_not_found"}, true},
		{slack.SlackErrorResponse{Err: "ratelimited"}, false},
		{slack.SlackErrorResponse{Err: "internal_error"}, false},
		{errors.New("connection reset"), false},
		{fmt.Errorf("wrapped: %w", slack.SlackErrorResponse{Err: "user_not_found"}), false}, // only err itself
	} {
		if got := handlers.FinalSlackError(c.err); got != c.want {
			t.Errorf("FinalSlackError(%v) = %v, want %v", c.err, got, c.want)
		}
	}
	// Walked by jobs.AllFinal, a notifier error with one transient part is retried.
	gone := fmt.Errorf("DM approver u1: %w", slack.SlackErrorResponse{Err: "user_not_found"})
	if !jobs.AllFinal(gone, handlers.FinalSlackError) {
		t.Error("a wrapped user_not_found should be final")
	}
	if jobs.AllFinal(errors.Join(gone, errors.New("timeout")), handlers.FinalSlackError) {
		t.Error("user_not_found joined with a timeout should be retried")
	}
}
