package handlers

import (
	"context"

	"github.com/accessbot/accessbot/bot"
)

// HomeOpener runs the app_home_opened handler directly, for benchmarks.
type HomeOpener struct{ h *Handlers }

func NewHomeOpener(deps Deps) HomeOpener { return HomeOpener{&Handlers{deps: deps}} }

func (o HomeOpener) Open(ctx context.Context, req *bot.Request) error {
	return o.h.appHomeOpened(ctx, req)
}
