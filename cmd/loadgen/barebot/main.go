// Command barebot is the floor that cmd/loadgen measures accessbot against:
// a bare slack-go Socket Mode bot (one socketmode.Client, as slack-go's
// examples have it) that acks every envelope with no payload and does
// nothing else. It reads BAREBOT_APP_TOKEN and BAREBOT_API_URL and runs
// until SIGTERM or SIGINT.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	api := slack.New("xoxb-barebot", slack.OptionAppLevelToken(os.Getenv("BAREBOT_APP_TOKEN")),
		slack.OptionAPIURL(os.Getenv("BAREBOT_API_URL")))
	client := socketmode.New(api)
	go func() {
		for evt := range client.Events {
			if evt.Request != nil && evt.Request.EnvelopeID != "" {
				_ = client.Ack(*evt.Request)
			}
		}
	}()
	if err := client.RunContext(ctx); err != nil && ctx.Err() == nil {
		fmt.Fprintln(os.Stderr, "barebot:", err)
		os.Exit(1)
	}
}
