// Package slackapi gives the bot one Web API client per Slack workspace. Each
// client honours 429 Retry-After, paces chat.postMessage per channel and per
// workspace (shared across replicas with Redis), runs every message and view
// through the Block Kit guard, and logs every call at debug level without the token.
package slackapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot/bot/blockkit"
	"github.com/accessbot/accessbot/internal/metrics"
	"github.com/accessbot/accessbot/internal/waitbudget"
)

// Pacing sets how fast messages may go out of one workspace.
type Pacing struct {
	// PerChannel paces chat.postMessage to one channel (Slack: ~1/s, short bursts allowed).
	PerChannel Limit
	// PerWorkspace paces chat.postMessage across the workspace ("several hundred per minute").
	PerWorkspace Limit
	// Updates paces chat.update across the workspace (Tier 3: 50+/min).
	Updates Limit
	// Lookups paces users.lookupByEmail and, separately, conversations.open
	// across the workspace (each Tier 3: 50+/min): a reminder fan-out from
	// a process that has cached no reviewer yet makes one of each per reviewer.
	Lookups Limit
}

// DefaultPacing stays inside Slack's documented limits with room for bursts.
func DefaultPacing() Pacing {
	return Pacing{
		PerChannel:   Limit{Interval: time.Second, Burst: 3, MaxWait: 2 * time.Minute},
		PerWorkspace: Limit{Interval: 200 * time.Millisecond, Burst: 30, MaxWait: 2 * time.Minute},
		Updates:      Limit{Interval: time.Second, Burst: 20, MaxWait: 2 * time.Minute},
		Lookups:      Limit{Interval: time.Second, Burst: 20, MaxWait: 2 * time.Minute},
	}
}

// Retry bounds how 429 answers are retried.
type Retry struct {
	// MaxAttempts counts the first try; 1 disables retries.
	MaxAttempts int
	// MaxWait refuses a Retry-After longer than this (the error is returned instead).
	MaxWait time.Duration
}

// DefaultRetry retries a rate-limited call up to 3 more times, waiting at most a minute each.
func DefaultRetry() Retry { return Retry{MaxAttempts: 4, MaxWait: time.Minute} }

// Options configures a Client. The zero value of each field picks a default.
type Options struct {
	// APIURL is slack.api_url; it must end in "/". Default https://slack.com/api/.
	APIURL     string
	HTTPClient *http.Client
	Pacing     *Pacing // nil: DefaultPacing; use &Pacing{} for none
	Retry      Retry   // zero: DefaultRetry
	Limiter    Limiter // nil: a fresh MemoryLimiter
	Guard      Guard   // required: every payload passes it
	Log        zerolog.Logger
	// TenantID is put on every log line.
	TenantID string
	// OnAuthError is called when Slack says the token is dead (token_revoked, invalid_auth, ...).
	OnAuthError func(teamID string)
}

// Client is one workspace's Web API client.
type Client struct {
	api         *slack.Client
	team        string
	tenant      string
	pacing      Pacing
	retry       Retry
	limiter     Limiter
	guard       Guard
	log         zerolog.Logger
	onAuthError func(string)
}

// Message is what the bot posts: a notification text (also the fallback) and blocks.
type Message struct {
	Text     string
	Blocks   []slack.Block
	ThreadTS string
	// DeliveryKey, when set, tags the post with message metadata
	// (DeliveryEventType) so FindDelivery can tell later whether it went out.
	DeliveryKey string
}

// NewClient builds a client for one workspace's bot token. The token is
// held only inside slack-go and never logged.
func NewClient(teamID, botToken string, o Options) (*Client, error) {
	if o.Guard == nil {
		return nil, errors.New("slackapi: a Block Kit guard is required")
	}
	if botToken == "" {
		return nil, fmt.Errorf("slackapi: team %s: empty bot token", teamID)
	}
	apiURL := o.APIURL
	if apiURL == "" {
		apiURL = slack.APIURL
	}
	if apiURL[len(apiURL)-1] != '/' {
		apiURL += "/"
	}
	p := DefaultPacing()
	if o.Pacing != nil {
		p = *o.Pacing
	}
	r := o.Retry
	if r.MaxAttempts <= 0 {
		r = DefaultRetry()
	}
	lim := o.Limiter
	if lim == nil {
		lim = NewMemoryLimiter(nil)
	}
	// Every method goes through the hold gate under slack-go, so a
	// Retry-After holds that method for all callers (see holdGate).
	hc := &http.Client{}
	if o.HTTPClient != nil {
		*hc = *o.HTTPClient
	}
	hc.Transport = newHoldGate(hc.Transport, teamID, lim, r.MaxWait, o.Log)
	return &Client{
		api:         slack.New(botToken, slack.OptionAPIURL(apiURL), slack.OptionHTTPClient(hc)),
		team:        teamID,
		tenant:      o.TenantID,
		pacing:      p,
		retry:       r,
		limiter:     lim,
		guard:       o.Guard,
		log:         o.Log,
		onAuthError: o.OnAuthError,
	}, nil
}

// TeamID is the workspace this client speaks for.
func (c *Client) TeamID() string { return c.team }

// authErrors mean the token will never work again; the cached client is dropped.
var authErrors = map[string]bool{
	"token_revoked": true, "invalid_auth": true, "account_inactive": true,
	"not_authed": true, "token_expired": true,
}

// SlackErrorCode returns Slack's error code ("channel_not_found", ...) from
// an error returned by a Client method, or "".
func SlackErrorCode(err error) string {
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		return se.Err
	}
	var pse *slack.SlackErrorResponse
	if errors.As(err, &pse) {
		return pse.Err
	}
	return ""
}

// call runs fn, retrying 429s after Retry-After within c.retry and ctx, and
// logs each attempt. pace runs before every attempt. A wait longer than
// ctx's wait budget (a job's) is not slept through: the call fails with
// ErrPaceExceeded, so the job is snoozed and its worker freed.
func (c *Client) call(ctx context.Context, method string, pace func(context.Context) error, fn func(context.Context) error) error {
	for attempt := 1; ; attempt++ {
		if pace != nil {
			if err := pace(ctx); err != nil {
				c.logCall(method, attempt, 0, "paced_out", err)
				return fmt.Errorf("slack %s (team %s): %w", method, c.team, err)
			}
		}
		start := time.Now()
		err := fn(ctx)
		took := time.Since(start)
		if err == nil {
			c.logCall(method, attempt, took, "ok", nil)
			return nil
		}
		var rl *slack.RateLimitedError
		if errors.As(err, &rl) {
			c.logCall(method, attempt, took, "rate_limited", err)
			wait := rl.RetryAfter
			if wait <= 0 {
				wait = time.Second
			}
			if attempt >= c.retry.MaxAttempts || (c.retry.MaxWait > 0 && wait > c.retry.MaxWait) {
				return fmt.Errorf("slack %s (team %s): gave up after %d attempt(s): %w", method, c.team, attempt, err)
			}
			if b, ok := waitbudget.Of(ctx); ok && wait > b {
				// A job gives its worker back rather than sleep: it is
				// snoozed until the hold (now known to the gate) ends.
				return fmt.Errorf("slack %s (team %s): Retry-After %s, may wait %s: %w", method, c.team, wait, b, paceExceeded{after: wait})
			}
			metrics.SlackRetryWait.WithLabelValues(method).Add(wait.Seconds())
			if werr := sleepCtx(ctx, wait); werr != nil {
				return fmt.Errorf("slack %s (team %s): waiting %s after 429: %w", method, c.team, wait, werr)
			}
			continue
		}
		c.logCall(method, attempt, took, "error", err)
		if code := SlackErrorCode(err); authErrors[code] && c.onAuthError != nil {
			c.onAuthError(c.team)
		}
		return fmt.Errorf("slack %s (team %s): %w", method, c.team, err)
	}
}

// callValue is call (unpaced) for a method that answers one value.
func callValue[T any](ctx context.Context, c *Client, method string, fn func(context.Context) (T, error)) (T, error) {
	return pacedValue(ctx, c, method, nil, fn)
}

// pacedValue is call for a method that answers one value.
func pacedValue[T any](ctx context.Context, c *Client, method string, pace func(context.Context) error, fn func(context.Context) (T, error)) (T, error) {
	var v T
	err := c.call(ctx, method, pace, func(ctx context.Context) error {
		var e error
		v, e = fn(ctx)
		return e
	})
	return v, err
}

func (c *Client) logCall(method string, attempt int, took time.Duration, outcome string, err error) {
	metrics.SlackCalls.WithLabelValues(method, outcome).Inc()
	if outcome != "paced_out" {
		metrics.SlackCallLatency.WithLabelValues(method).Observe(took.Seconds())
	}
	e := c.log.Debug()
	if !e.Enabled() {
		return
	}
	e = e.Str("method", method).Str("team", c.team).Int("attempt", attempt).
		Dur("duration", took).Str("outcome", outcome)
	if c.tenant != "" {
		e = e.Str("tenant", c.tenant)
	}
	if code := SlackErrorCode(err); code != "" {
		e = e.Str("slack_error", code)
	}
	if err != nil {
		e = e.Err(err)
	}
	e.Msg("slack api call")
}

func (c *Client) fitMessage(method string, m Message) (Message, error) {
	if paths := blockkit.MarkupPaths(m.Text, m.Blocks); len(paths) > 0 {
		c.log.Warn().Str("method", method).Str("team", c.team).Strs("paths", paths).
			Msg("message carries unescaped Slack markup from data; the guard escapes or refuses it")
	}
	text, blocks, err := c.guard.Message(m.Text, m.Blocks)
	if err != nil {
		c.logCall(method, 0, 0, "refused_by_guard", err)
		return m, fmt.Errorf("slack %s (team %s): %w: %w", method, c.team, ErrGuard, err)
	}
	m.Text, m.Blocks = text, blocks
	return m, nil
}

func (m Message) options() []slack.MsgOption {
	opts := []slack.MsgOption{slack.MsgOptionText(m.Text, false)}
	if len(m.Blocks) > 0 {
		opts = append(opts, slack.MsgOptionBlocks(m.Blocks...))
	}
	if m.ThreadTS != "" {
		opts = append(opts, slack.MsgOptionTS(m.ThreadTS))
	}
	if m.DeliveryKey != "" {
		opts = append(opts, slack.MsgOptionMetadata(slack.SlackMetadata{EventType: DeliveryEventType,
			EventPayload: map[string]any{"key": m.DeliveryKey}}))
	}
	return opts
}

// PostMessage posts m to a channel (or a user id, which opens the DM). It
// waits for the workspace and channel pacing slots first. Returns the
// channel id and message ts.
func (c *Client) PostMessage(ctx context.Context, channelID string, m Message) (channel, ts string, err error) {
	const method = "chat.postMessage"
	m, err = c.fitMessage(method, m)
	if err != nil {
		return "", "", err
	}
	pace := func(ctx context.Context) error {
		// Both slots at once: a busy channel refuses without spending the
		// workspace's slot, which other channels' posts can use.
		return c.limiter.WaitAll(ctx, Pace{Key: "post:" + c.team, Limit: c.pacing.PerWorkspace},
			Pace{Key: "post:" + c.team + ":" + channelID, Limit: c.pacing.PerChannel})
	}
	err = c.call(ctx, method, pace, func(ctx context.Context) error {
		var e error
		channel, ts, e = c.api.PostMessageContext(ctx, channelID, m.options()...)
		return e
	})
	return channel, ts, err
}

// UpdateMessage replaces the message at ts.
func (c *Client) UpdateMessage(ctx context.Context, channelID, ts string, m Message) error {
	const method = "chat.update"
	m, err := c.fitMessage(method, m)
	if err != nil {
		return err
	}
	m.ThreadTS = "" // chat.update takes no thread_ts
	pace := func(ctx context.Context) error {
		return c.limiter.Wait(ctx, "update:"+c.team, c.pacing.Updates)
	}
	return c.call(ctx, method, pace, func(ctx context.Context) error {
		_, _, _, e := c.api.UpdateMessageContext(ctx, channelID, ts, m.options()...)
		return e
	})
}

// PostEphemeral shows m to one user in a channel.
func (c *Client) PostEphemeral(ctx context.Context, channelID, userID string, m Message) (ts string, err error) {
	const method = "chat.postEphemeral"
	m, err = c.fitMessage(method, m)
	if err != nil {
		return "", err
	}
	return callValue(ctx, c, method, func(ctx context.Context) (string, error) {
		return c.api.PostEphemeralContext(ctx, channelID, userID, m.options()...)
	})
}

// DeleteMessage deletes the bot's message at ts.
func (c *Client) DeleteMessage(ctx context.Context, channelID, ts string) error {
	return c.call(ctx, "chat.delete", nil, func(ctx context.Context) error {
		_, _, e := c.api.DeleteMessageContext(ctx, channelID, ts)
		return e
	})
}

// callView fits modal v to the guard, then calls method with it.
func (c *Client) callView(ctx context.Context, method string, v slack.ModalViewRequest,
	fn func(context.Context, slack.ModalViewRequest) (*slack.ViewResponse, error)) (*slack.ViewResponse, error) {
	fitted, err := c.guard.Modal(v)
	if err != nil {
		c.logCall(method, 0, 0, "refused_by_guard", err)
		return nil, fmt.Errorf("slack %s (team %s): %w: %w", method, c.team, ErrGuard, err)
	}
	return callValue(ctx, c, method, func(ctx context.Context) (*slack.ViewResponse, error) { return fn(ctx, fitted) })
}

// OpenView opens a modal. trigger_id lives 3 s, so views are never paced.
func (c *Client) OpenView(ctx context.Context, triggerID string, v slack.ModalViewRequest) (*slack.ViewResponse, error) {
	return c.callView(ctx, "views.open", v, func(ctx context.Context, v slack.ModalViewRequest) (*slack.ViewResponse, error) {
		return c.api.OpenViewContext(ctx, triggerID, v)
	})
}

// PushView pushes a modal onto the open view stack.
func (c *Client) PushView(ctx context.Context, triggerID string, v slack.ModalViewRequest) (*slack.ViewResponse, error) {
	return c.callView(ctx, "views.push", v, func(ctx context.Context, v slack.ModalViewRequest) (*slack.ViewResponse, error) {
		return c.api.PushViewContext(ctx, triggerID, v)
	})
}

// UpdateView replaces a view by viewID or externalID; hash guards against races.
func (c *Client) UpdateView(ctx context.Context, v slack.ModalViewRequest, externalID, hash, viewID string) (*slack.ViewResponse, error) {
	return c.callView(ctx, "views.update", v, func(ctx context.Context, v slack.ModalViewRequest) (*slack.ViewResponse, error) {
		return c.api.UpdateViewContext(ctx, v, externalID, hash, viewID)
	})
}

// PublishView publishes a user's App Home tab; hash may be "".
func (c *Client) PublishView(ctx context.Context, userID string, v slack.HomeTabViewRequest, hash string) (*slack.ViewResponse, error) {
	const method = "views.publish"
	fitted, err := c.guard.Home(v)
	if err != nil {
		c.logCall(method, 0, 0, "refused_by_guard", err)
		return nil, fmt.Errorf("slack %s (team %s): %w: %w", method, c.team, ErrGuard, err)
	}
	req := slack.PublishViewContextRequest{UserID: userID, View: fitted}
	if hash != "" {
		req.Hash = &hash
	}
	return callValue(ctx, c, method, func(ctx context.Context) (*slack.ViewResponse, error) {
		return c.api.PublishViewContext(ctx, req)
	})
}

// GetUserInfo returns a Slack user (users.info; email needs users:read.email).
func (c *Client) GetUserInfo(ctx context.Context, userID string) (*slack.User, error) {
	return callValue(ctx, c, "users.info", func(ctx context.Context) (*slack.User, error) {
		return c.api.GetUserInfoContext(ctx, userID)
	})
}

// ConversationInfo reads a channel (conversations.info). A private channel
// the bot is not in answers channel_not_found, as an unknown one does.
func (c *Client) ConversationInfo(ctx context.Context, channelID string) (*slack.Channel, error) {
	return callValue(ctx, c, "conversations.info", func(ctx context.Context) (*slack.Channel, error) {
		return c.api.GetConversationInfoContext(ctx, &slack.GetConversationInfoInput{ChannelID: channelID})
	})
}

// paceTier3 paces a Tier 3 method used in fan-outs per workspace (Pacing.Lookups).
func (c *Client) paceTier3(method string) func(context.Context) error {
	return func(ctx context.Context) error {
		return c.limiter.Wait(ctx, "tier3:"+method+":"+c.team, c.pacing.Lookups)
	}
}

// GetUserByEmail looks a Slack user up by email (users.lookupByEmail),
// paced by Pacing.Lookups.
func (c *Client) GetUserByEmail(ctx context.Context, email string) (*slack.User, error) {
	const method = "users.lookupByEmail"
	return pacedValue(ctx, c, method, c.paceTier3(method), func(ctx context.Context) (*slack.User, error) {
		return c.api.GetUserByEmailContext(ctx, email)
	})
}

// OpenConversation opens (or finds) a DM or group DM and returns its
// channel id, paced by Pacing.Lookups.
func (c *Client) OpenConversation(ctx context.Context, userIDs ...string) (string, error) {
	const method = "conversations.open"
	var ch *slack.Channel
	err := c.call(ctx, method, c.paceTier3(method), func(ctx context.Context) error {
		var e error
		ch, _, _, e = c.api.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: userIDs, ReturnIM: true})
		return e
	})
	if err != nil {
		return "", err
	}
	if ch == nil {
		return "", fmt.Errorf("slack conversations.open (team %s): no channel in answer", c.team)
	}
	return ch.ID, nil
}

// AuthTest checks the token and says which team and bot user it belongs to.
func (c *Client) AuthTest(ctx context.Context) (*slack.AuthTestResponse, error) {
	return callValue(ctx, c, "auth.test", func(ctx context.Context) (*slack.AuthTestResponse, error) {
		return c.api.AuthTestContext(ctx)
	})
}

// UploadFile shares content as a file named filename in channelID (a DM
// from OpenConversation, say), with comment above it, through Slack's
// external upload flow (files.getUploadURLExternal, the upload,
// files.completeUploadExternal); it returns the file's id. A 429 is
// retried from the start, with a new upload URL.
func (c *Client) UploadFile(ctx context.Context, channelID, filename, title, comment string, content []byte) (string, error) {
	const method = "files.uploadV2"
	pace := func(ctx context.Context) error {
		return c.limiter.Wait(ctx, "post:"+c.team, c.pacing.PerWorkspace)
	}
	var id string
	err := c.call(ctx, method, pace, func(ctx context.Context) error {
		f, e := c.api.UploadFileContext(ctx, slack.UploadFileParameters{Reader: bytes.NewReader(content), FileSize: len(content),
			Filename: filename, Title: title, InitialComment: comment, Channel: channelID})
		if e == nil {
			id = f.ID
		}
		return e
	})
	return id, err
}
