package handlers_test

import (
	"context"
	"strings"
	"testing"

	"github.com/accessbot/accessbot/bot"
	"github.com/accessbot/accessbot/bot/slackfake"
)

// runApp runs app until the test ends, when Run must return nil,
// and waits for its first Socket Mode connection.
func runApp(t testing.TB, ctx context.Context, fake *slackfake.Server, app *bot.App) {
	t.Helper()
	runCtx, stop := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- app.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		if err := <-runErr; err != nil {
			t.Errorf("Run returned %v after a clean stop", err)
		}
	})
	if err := fake.WaitForConnections(ctx, 1); err != nil {
		t.Fatalf("bot did not connect: %v", err)
	}
}

// waitTopView waits until the Slack user's top modal has callbackID and
// contains every want, and returns it.
func waitTopView(t testing.TB, ctx context.Context, fake *slackfake.Server, user, callbackID string, want ...string) slackfake.View {
	t.Helper()
	var top slackfake.View
	err := fake.WaitFor(ctx, func() bool {
		vs := fake.OpenViews(user)
		if len(vs) == 0 {
			return false
		}
		top = vs[len(vs)-1]
		if top.CallbackID != callbackID {
			return false
		}
		for _, w := range want {
			if !strings.Contains(string(top.JSON), w) {
				return false
			}
		}
		return true
	})
	if err != nil {
		t.Fatalf("%s's top view never became %s with %q; last %s %s", user, callbackID, want, top.CallbackID, top.JSON)
	}
	return top
}
