package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/accessbot/accessbot/internal/logging"
)

var keyIDRe = regexp.MustCompile(`^[A-Za-z0-9._-]{1,32}$`)

// Validate returns the first problem as an *Error naming the key and the
// fix, or nil. Messages never include secret values.
func (c *Config) Validate() error {
	for _, check := range []func() *Error{c.validateSlack, c.validateStore, c.validateRedis, c.validateHTTP, c.validateLog, c.validateEncryption, c.validateApprovals, c.validateJobs} {
		if e := check(); e != nil {
			return e
		}
	}
	return nil
}

func bad(key, format string, args ...any) *Error {
	return &Error{Key: key, Msg: fmt.Sprintf(format, args...)}
}

func (c *Config) validateSlack() *Error {
	s := c.Slack
	if s.AppToken.IsSet() && !strings.HasPrefix(s.AppToken.Reveal(), "xapp-") {
		return bad("slack.app_token", `must be an app-level token starting with "xapp-" (Slack app settings → Basic Information → App-Level Tokens, scope connections:write)`)
	}
	if s.BotToken.IsSet() && !strings.HasPrefix(s.BotToken.Reveal(), "xoxb-") {
		return bad("slack.bot_token", `must be a bot token starting with "xoxb-" (Slack app settings → OAuth & Permissions → Bot User OAuth Token)`)
	}
	if s.BotToken.IsSet() && !s.AppToken.IsSet() {
		return bad("slack.app_token", "required when slack.bot_token is set: Socket Mode needs an app-level token (xapp-...); set ACCESSBOT_SLACK_APP_TOKEN")
	}
	if s.AppToken.IsSet() && !s.BotToken.IsSet() && !s.OAuth() {
		return bad("slack.bot_token", "required with slack.app_token unless OAuth install is configured (slack.client_id, slack.client_secret, slack.redirect_url); set ACCESSBOT_SLACK_BOT_TOKEN")
	}
	if s.BotToken.IsSet() && s.Tenant == "" {
		return bad("slack.tenant", "required when slack.bot_token is set: the slug of the tenant this workspace belongs to, as in your tenant file")
	}
	if e := checkURL("slack.api_url", s.APIURL, false, "https://slack.com/api/"); e != nil {
		return e
	}
	if s.Connections < 1 || s.Connections > 10 {
		return bad("slack.connections", "must be between 1 and 10: Slack allows at most 10 Socket Mode connections per app (got %d)", s.Connections)
	}
	if s.Workers < 1 || s.Workers > 1024 {
		return bad("slack.workers", "must be between 1 and 1024 (got %d)", s.Workers)
	}
	oauth := map[string]bool{"slack.client_id": s.ClientID != "", "slack.client_secret": s.ClientSecret.IsSet(), "slack.redirect_url": s.RedirectURL != ""}
	if oauth["slack.client_id"] || oauth["slack.client_secret"] || oauth["slack.redirect_url"] {
		for _, k := range []string{"slack.client_id", "slack.client_secret", "slack.redirect_url"} {
			if !oauth[k] {
				return bad(k, "required for OAuth install mode: set slack.client_id, slack.client_secret and slack.redirect_url together (Slack app settings → Basic Information → App Credentials)")
			}
		}
		if !s.AppToken.IsSet() {
			return bad("slack.app_token", "required for OAuth install mode too: events arrive over Socket Mode; set ACCESSBOT_SLACK_APP_TOKEN (xapp-...)")
		}
		if e := checkURL("slack.redirect_url", s.RedirectURL, true, "https://accessbot.example.com/slack/oauth/callback"); e != nil {
			return e
		}
	}
	if s.IdentityCacheTTL <= 0 {
		return bad("slack.identity_cache_ttl", "must be a positive duration such as 10m (got %s)", s.IdentityCacheTTL)
	}
	return nil
}

func checkURL(key, raw string, httpsOnly bool, example string) *Error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && (httpsOnly || u.Scheme != "http")) {
		scheme := "http(s)"
		if httpsOnly {
			scheme = "https"
		}
		return bad(key, "must be an absolute %s URL such as %s (got %q)", scheme, example, raw)
	}
	return nil
}

func (c *Config) validateStore() *Error {
	switch c.Store.Driver {
	case "sqlite":
	case "postgres":
		if !c.Store.DSN.IsSet() {
			return bad("store.dsn", `required when store.driver is "postgres": set ACCESSBOT_STORE_DSN=postgres://USER:PASSWORD@HOST:5432/DB`)
		}
	default:
		return bad("store.driver", `must be "sqlite" or "postgres" (got %q)`, c.Store.Driver)
	}
	return nil
}

func (c *Config) validateRedis() *Error {
	if !c.Redis.Enabled() {
		return nil
	}
	// ParseURL's error can quote the URL, password included: don't pass it on.
	if _, err := redis.ParseURL(c.Redis.URL.Reveal()); err != nil {
		return bad("redis.url", "must be a Redis URL such as redis://127.0.0.1:6379/0 or rediss://:PASSWORD@HOST:6380/0 (leave it unset to run without Redis)")
	}
	return nil
}

func (c *Config) validateHTTP() *Error {
	_, port, err := net.SplitHostPort(c.HTTP.Listen)
	if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 0 || n > 65535 {
		return bad("http.listen", "must be HOST:PORT such as 127.0.0.1:8080, or :8080 for every interface (got %q)", c.HTTP.Listen)
	}
	if c.HTTP.PublicURL != "" {
		if e := checkURL("http.public_url", c.HTTP.PublicURL, false, "https://accessbot.example.com"); e != nil {
			return e
		}
	}
	return nil
}

func (c *Config) validateLog() *Error {
	if !slices.Contains(logging.Levels(), c.Log.Level) {
		return bad("log.level", "must be one of %s (got %q)", strings.Join(logging.Levels(), ", "), c.Log.Level)
	}
	if !slices.Contains(logging.Formats(), c.Log.Format) {
		return bad("log.format", `must be "json" (for machines) or "console" (for humans) (got %q)`, c.Log.Format)
	}
	return nil
}

func (c *Config) validateEncryption() *Error {
	e := c.Encryption
	if !keyIDRe.MatchString(e.KeyID) {
		return bad("encryption.key_id", "must be 1-32 letters, digits, '.', '_' or '-' (got %q)", e.KeyID)
	}
	if e.Key.IsSet() {
		if _, err := decodeKey(e.Key); err != nil {
			return bad("encryption.key", "%s", err)
		}
	}
	seen := map[string]bool{e.KeyID: e.Key.IsSet()}
	for i, p := range e.PreviousKeys {
		key := fmt.Sprintf("encryption.previous_keys[%d]", i)
		if !keyIDRe.MatchString(p.ID) {
			return bad(key+".id", "must be 1-32 letters, digits, '.', '_' or '-' (got %q)", p.ID)
		}
		if seen[p.ID] {
			return bad(key+".id", "key id %q is already used: every key id must be unique, and the current one is encryption.key_id", p.ID)
		}
		seen[p.ID] = true
		if !p.Key.IsSet() {
			return bad(key+".key", "required: the retired key that sealed secrets under id %q", p.ID)
		}
		if _, err := decodeKey(p.Key); err != nil {
			return bad(key+".key", "%s", err)
		}
	}
	return nil
}

func (c *Config) validateApprovals() *Error {
	a := c.Approvals
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"approvals.reminder_after", a.ReminderAfter}, {"approvals.escalate_after", a.EscalateAfter}, {"approvals.expire_after", a.ExpireAfter}} {
		if d.v <= 0 {
			return bad(d.key, "must be a positive duration such as 24h (got %s)", d.v)
		}
	}
	if a.EscalateAfter <= a.ReminderAfter {
		return bad("approvals.escalate_after", "must be longer than approvals.reminder_after (%s), so the reminder comes first (got %s)", a.ReminderAfter, a.EscalateAfter)
	}
	if a.ExpireAfter <= a.EscalateAfter {
		return bad("approvals.expire_after", "must be longer than approvals.escalate_after (%s), so escalation happens before expiry (got %s)", a.EscalateAfter, a.ExpireAfter)
	}
	return nil
}

func (c *Config) validateJobs() *Error {
	j := c.Jobs
	switch {
	case j.Timeout <= 0:
		return bad("jobs.timeout", "must be a positive duration such as 5m (got %s)", j.Timeout)
	case j.RescueAfter < j.Timeout:
		return bad("jobs.rescue_after", "must be at least jobs.timeout (%s): a job still running is not dead (got %s)", j.Timeout, j.RescueAfter)
	case j.DeliveryLease <= 0 || j.DeliveryLease >= j.Timeout:
		return bad("jobs.delivery_lease", "must be positive and shorter than jobs.timeout (%s), since a job holds it for each send (got %s)", j.Timeout, j.DeliveryLease)
	case j.MaxBackoff < 0:
		return bad("jobs.max_backoff", "must be 0 (River's attempt^4 seconds) or a positive duration (got %s)", j.MaxBackoff)
	}
	return nil
}
