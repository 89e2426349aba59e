package bot_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/accessbot/accessbot/bot"
)

// recentResolver counts which resolve each command used.
type recentResolver struct {
	stubResolver
	full, recent atomic.Int32
}

func (r *recentResolver) Resolve(ctx context.Context, team, user string) (bot.Actor, error) {
	r.full.Add(1)
	return r.stubResolver.Resolve(ctx, team, user)
}

func (r *recentResolver) ResolveRecent(ctx context.Context, team, user string) (bot.Actor, error) {
	r.recent.Add(1)
	return r.stubResolver.Resolve(ctx, team, user)
}

// TestInfoCommandResolvesRecent: a subcommand registered by InfoCommand
// (help) resolves its sender through ResolveRecent, in any letter case;
// every other command through Resolve, which sees the user's current data;
// identity failures are answered the same either way. A Resolver without
// ResolveRecent serves InfoCommand through Resolve.
func TestInfoCommandResolvesRecent(t *testing.T) {
	r := bot.NewRouter()
	answer := func(text string) bot.Handler {
		return func(ctx context.Context, req *bot.Request) error {
			return req.Respond(ctx, bot.Message{Text: text})
		}
	}
	r.InfoCommand("/access", "", answer("the list"))
	r.InfoCommand("/access", "help", answer("the list"))
	r.Command("/access", "request", answer("requested"))
	res := &recentResolver{}
	f := newFixtureWith(t, r, res)
	cases := []struct {
		env, user, text, ackHas string
		full, recent            int32 // resolves so far
	}{
		{"e1", "U1", "", "the list", 0, 1},
		{"e2", "U1", "HELP", "the list", 0, 2},
		{"e3", "U1", "request admin", "requested", 1, 2},
		{"e4", "UNOBODY", "help", "nobody@acme.test", 1, 3},
		{"e5", "UNOBODY", "request admin", "nobody@acme.test", 2, 3},
	}
	for _, c := range cases {
		f.command(c.env, c.user, c.text)
		if ack := f.ackOf(t, c.env); !strings.Contains(ack, c.ackHas) {
			t.Errorf("%q: ack %s, want %q", c.text, ack, c.ackHas)
		}
		if full, recent := res.full.Load(), res.recent.Load(); full != c.full || recent != c.recent {
			t.Errorf("after %q: %d Resolve and %d ResolveRecent, want %d and %d", c.text, full, recent, c.full, c.recent)
		}
	}

	plain := newFixtureWith(t, r, &stubResolver{})
	plain.command("p1", "U1", "help")
	if ack := plain.ackOf(t, "p1"); !strings.Contains(ack, "the list") {
		t.Errorf("without ResolveRecent: ack %s", ack)
	}
}
