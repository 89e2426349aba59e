// Package waitbudget carries in a context how long its holder may block
// waiting for a shared pace (Slack's rate limits) before it should give up
// with a busy error and come back later. A job worker's slot spent waiting
// serves no one: the jobs queue gives every job a budget, and the Slack
// client refuses a wait longer than it (slackapi.ErrPaceExceeded) instead
// of sleeping through it. Callers without a budget wait as long as their
// deadline allows.
package waitbudget

import (
	"context"
	"time"
)

type key struct{}

// With returns ctx with budget d; a budget already in ctx that is shorter stays.
func With(ctx context.Context, d time.Duration) context.Context {
	if cur, ok := Of(ctx); ok && cur <= d {
		return ctx
	}
	return context.WithValue(ctx, key{}, d)
}

// Of returns the budget of ctx; ok is false when it has none.
func Of(ctx context.Context) (time.Duration, bool) {
	d, ok := ctx.Value(key{}).(time.Duration)
	return d, ok
}
