package handlers

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot/bot"
)

// Memo is a small shared key-value store with a TTL; identity.MemoryCache
// and identity.RedisCache implement it.
type Memo interface {
	Get(ctx context.Context, key string) (string, bool, error)
	Set(ctx context.Context, key, value string, ttl time.Duration) error
	Delete(ctx context.Context, key string) error
}

// PublishedTTL is how long the hash of a published Home tab is trusted.
// Slack keeps showing the last view published to a user, so a Home that
// renders the same as the last publish needs no new one. The TTL bounds
// what a lost race can cost: two publishes of different views to the same
// user at once may leave the memo holding the hash of the one Slack did not
// keep, and an unchanged later render is then skipped until the hash expires.
const PublishedTTL = 5 * time.Minute

// publishHome publishes view as req.UserID's Home tab, unless the memo says
// this exact view is what Slack shows already. A memo that fails is a miss:
// the view is published.
func (h *Handlers) publishHome(ctx context.Context, req *bot.Request, view slack.HomeTabViewRequest) error {
	var key, sum string
	if h.deps.Published != nil {
		b, err := json.Marshal(view)
		if err != nil {
			return fmt.Errorf("app home for %s: %w", req.UserID, err)
		}
		d := sha256.Sum256(b)
		key, sum = "home:"+req.TeamID+":"+req.UserID, base64.RawStdEncoding.EncodeToString(d[:18])
	}
	if key != "" {
		if last, ok, err := h.deps.Published.Get(ctx, key); err != nil {
			req.Log.Debug().Err(err).Msg("home memo unavailable; publishing")
		} else if ok && last == sum {
			return nil
		}
	}
	if _, err := req.API.PublishView(ctx, req.UserID, view, ""); err != nil {
		if key != "" {
			// Slack may have taken it even so: what it shows is unknown now.
			_ = h.deps.Published.Delete(ctx, key)
		}
		return fmt.Errorf("publish app home for %s: %w", req.UserID, err)
	}
	if key != "" {
		if err := h.deps.Published.Set(ctx, key, sum, PublishedTTL); err != nil {
			req.Log.Debug().Err(err).Msg("home memo not kept")
		}
	}
	return nil
}
