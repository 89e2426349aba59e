package handlers

import (
	"context"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot"
)

// HomeOpener runs the app_home_opened handler directly, for benchmarks.
type HomeOpener struct{ h *Handlers }

func NewHomeOpener(deps Deps) HomeOpener { return HomeOpener{&Handlers{deps: deps}} }

func (o HomeOpener) Open(ctx context.Context, req *bot.Request) error {
	return o.h.appHomeOpened(ctx, req)
}

// CatchUpClick ends a click on the copy ch/ts of r's level that wrote
// nothing (OnClicked after its decision was refused): the copy is brought
// to the level as stored now.
func (n *Notifier) CatchUpClick(ctx context.Context, r *accessbot.AccessRequest, level int, ch, ts string) error {
	c := clicked{n: n, r: r, level: level, ch: ch, ts: ts}
	return c.catchUp(ctx)
}
