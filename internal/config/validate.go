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

	"github.com/accessbot/accessbot/internal/logging"
)

var keyIDRe = regexp.MustCompile(`^[A-Za-z0-9._-]{1,32}$`)

// Validate returns every problem as Errors, each naming the key and the
// fix, or nil. A key is reported once. Messages never include secret values.
func (c *Config) Validate() error {
	var errs problems
	for _, check := range []func(*problems){c.validateSlack, c.validateStore, c.validateRedis, c.validateHTTP, c.validateLog, c.validateEncryption, c.validateApprovals, c.validateLimits, c.validateJobs, c.validatePlaybooks} {
		check(&errs)
	}
	if len(errs.list) == 0 {
		return nil
	}
	return Errors(errs.list)
}

// problems collects errors, the first per key.
type problems struct {
	list []*Error
	seen map[string]bool
}

func (p *problems) add(e *Error) {
	if e == nil || p.seen[e.Key] {
		return
	}
	if p.seen == nil {
		p.seen = map[string]bool{}
	}
	if e.Key != "" {
		p.seen[e.Key] = true
	}
	p.list = append(p.list, e)
}

func bad(key, format string, args ...any) *Error {
	return &Error{Key: key, Msg: fmt.Sprintf(format, args...)}
}

func (c *Config) validateSlack(p *problems) {
	s := c.Slack
	if s.AppToken.IsSet() && !strings.HasPrefix(s.AppToken.Reveal(), "xapp-") {
		p.add(bad("slack.app_token", `must be an app-level token starting with "xapp-" (Slack app settings → Basic Information → App-Level Tokens, scope connections:write)`))
	}
	if s.BotToken.IsSet() && !strings.HasPrefix(s.BotToken.Reveal(), "xoxb-") {
		p.add(bad("slack.bot_token", `must be a bot token starting with "xoxb-" (Slack app settings → OAuth & Permissions → Bot User OAuth Token)`))
	}
	if s.BotToken.IsSet() && !s.AppToken.IsSet() {
		p.add(bad("slack.app_token", "required when slack.bot_token is set: Socket Mode needs an app-level token (xapp-...); set ACCESSBOT_SLACK_APP_TOKEN"))
	}
	if s.AppToken.IsSet() && !s.BotToken.IsSet() && !s.OAuth() {
		p.add(bad("slack.bot_token", "required with slack.app_token unless OAuth install is configured (slack.client_id, slack.client_secret, slack.redirect_url); set ACCESSBOT_SLACK_BOT_TOKEN"))
	}
	if s.BotToken.IsSet() && s.Tenant == "" {
		p.add(bad("slack.tenant", "required when slack.bot_token is set: the slug of the tenant this workspace belongs to, as in your tenant file"))
	}
	p.add(checkURL("slack.api_url", s.APIURL, false, "https://slack.com/api/"))
	if s.Connections < 1 || s.Connections > 10 {
		p.add(bad("slack.connections", "must be between 1 and 10: Slack allows at most 10 Socket Mode connections per app (got %d)", s.Connections))
	}
	if s.Workers < 1 || s.Workers > 1024 {
		p.add(bad("slack.workers", "must be between 1 and 1024 (got %d)", s.Workers))
	}
	oauth := map[string]bool{"slack.client_id": s.ClientID != "", "slack.client_secret": s.ClientSecret.IsSet(), "slack.redirect_url": s.RedirectURL != ""}
	if oauth["slack.client_id"] || oauth["slack.client_secret"] || oauth["slack.redirect_url"] {
		for _, k := range []string{"slack.client_id", "slack.client_secret", "slack.redirect_url"} {
			if !oauth[k] {
				p.add(bad(k, "required for OAuth install mode: set slack.client_id, slack.client_secret and slack.redirect_url together (Slack app settings → Basic Information → App Credentials)"))
			}
		}
		if !s.AppToken.IsSet() {
			p.add(bad("slack.app_token", "required for OAuth install mode too: events arrive over Socket Mode; set ACCESSBOT_SLACK_APP_TOKEN (xapp-...)"))
		}
		if oauth["slack.redirect_url"] {
			p.add(checkURL("slack.redirect_url", s.RedirectURL, true, "https://accessbot.example.com/slack/oauth/callback"))
		}
	}
	if s.IdentityCacheTTL <= 0 {
		p.add(bad("slack.identity_cache_ttl", "must be a positive duration such as 10m (got %s)", s.IdentityCacheTTL))
	}
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

func (c *Config) validateStore(p *problems) {
	switch c.Store.Driver {
	case "sqlite":
	case "postgres":
		if !c.Store.DSN.IsSet() {
			p.add(bad("store.dsn", `required when store.driver is "postgres": set ACCESSBOT_STORE_DSN=postgres://USER:PASSWORD@HOST:5432/DB`))
		}
	default:
		p.add(bad("store.driver", `must be "sqlite" or "postgres" (got %q)`, c.Store.Driver))
	}
	if n := c.Store.PoolSize; n < 2 || n > 1000 {
		p.add(bad("store.pool_size", "must be between 2 and 1000 (got %d); each replica keeps this many PostgreSQL connections, plus 2", n))
	}
}

func (c *Config) validateRedis(p *problems) {
	if !c.Redis.Enabled() {
		return
	}
	// ParseURL's error can quote the URL, password included: don't pass it on.
	if _, err := c.Redis.ClientOptions(); err != nil {
		p.add(bad("redis.url", "must be a Redis URL such as redis://127.0.0.1:6379/0 or rediss://:PASSWORD@HOST:6380/0 (leave it unset to run without Redis)"))
	}
}

func (c *Config) validateHTTP(p *problems) {
	if !isHostPort(c.HTTP.Listen) {
		p.add(bad("http.listen", "must be HOST:PORT such as 127.0.0.1:8080, or :8080 for every interface (got %q)", c.HTTP.Listen))
	}
	if a := c.HTTP.AdminListen; a != "" {
		if !isHostPort(a) {
			p.add(bad("http.admin_listen", "must be HOST:PORT such as 127.0.0.1:9090, or empty to serve /readyz and /metrics on http.listen (got %q)", a))
		} else if a == c.HTTP.Listen && !strings.HasSuffix(a, ":0") {
			p.add(bad("http.admin_listen", "must differ from http.listen (%s): it is a second listener, for /readyz, /metrics and /debug/pprof/ only", c.HTTP.Listen))
		}
	}
	if c.HTTP.Pprof && c.HTTP.AdminListen == "" {
		p.add(bad("http.pprof", "needs http.admin_listen: the profiler is served on the admin listener only, never on http.listen"))
	}
	if c.HTTP.PublicURL != "" {
		p.add(checkURL("http.public_url", c.HTTP.PublicURL, false, "https://accessbot.example.com"))
	}
}

func isHostPort(addr string) bool {
	_, port, err := net.SplitHostPort(addr)
	n, perr := strconv.Atoi(port)
	return err == nil && perr == nil && n >= 0 && n <= 65535
}

func (c *Config) validateLog(p *problems) {
	if !slices.Contains(logging.Levels(), c.Log.Level) {
		p.add(bad("log.level", "must be one of %s (got %q)", strings.Join(logging.Levels(), ", "), c.Log.Level))
	}
	if !slices.Contains(logging.Formats(), c.Log.Format) {
		p.add(bad("log.format", `must be "auto" (console on a terminal, else json), "json" (for machines) or "console" (for humans) (got %q)`, c.Log.Format))
	}
}

func (c *Config) validateEncryption(p *problems) {
	e := c.Encryption
	if !keyIDRe.MatchString(e.KeyID) {
		p.add(bad("encryption.key_id", "must be 1-32 letters, digits, '.', '_' or '-' (got %q)", e.KeyID))
	}
	if e.Key.IsSet() {
		if _, err := decodeKey(e.Key); err != nil {
			p.add(bad("encryption.key", "%s", err))
		}
	}
	seen := map[string]bool{e.KeyID: e.Key.IsSet()}
	for i, pk := range e.PreviousKeys {
		key := fmt.Sprintf("encryption.previous_keys[%d]", i)
		switch {
		case !keyIDRe.MatchString(pk.ID):
			p.add(bad(key+".id", "must be 1-32 letters, digits, '.', '_' or '-' (got %q)", pk.ID))
		case seen[pk.ID]:
			p.add(bad(key+".id", "key id %q is already used: every key id must be unique, and the current one is encryption.key_id", pk.ID))
		}
		seen[pk.ID] = true
		if !pk.Key.IsSet() {
			p.add(bad(key+".key", "required: the retired key that sealed secrets under id %q", pk.ID))
		} else if _, err := decodeKey(pk.Key); err != nil {
			p.add(bad(key+".key", "%s", err))
		}
	}
}

func (c *Config) validateApprovals(p *problems) {
	a := c.Approvals
	positive := true
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"approvals.reminder_after", a.ReminderAfter}, {"approvals.escalate_after", a.EscalateAfter}, {"approvals.expire_after", a.ExpireAfter}} {
		if d.v <= 0 {
			p.add(bad(d.key, "must be a positive duration such as 24h (got %s)", d.v))
			positive = false
		}
	}
	if !positive {
		return // the order checks below would only repeat it
	}
	if a.EscalateAfter <= a.ReminderAfter {
		p.add(bad("approvals.escalate_after", "must be longer than approvals.reminder_after (%s), so the reminder comes first (got %s)", a.ReminderAfter, a.EscalateAfter))
	}
	if a.ExpireAfter <= a.EscalateAfter {
		p.add(bad("approvals.expire_after", "must be longer than approvals.escalate_after (%s), so escalation happens before expiry (got %s)", a.EscalateAfter, a.ExpireAfter))
	}
}

func (c *Config) validateLimits(p *problems) {
	for _, l := range []struct {
		key string
		v   ByteSize
	}{{"limits.upload_bytes", c.Limits.UploadBytes}, {"limits.csv_cell_bytes", c.Limits.CSVCellBytes}, {"limits.tenant_file_bytes", c.Limits.TenantFileBytes}} {
		if l.v < 1 {
			p.add(bad(l.key, "must be at least 1 byte, e.g. 32MiB (got %s)", l.v))
		}
	}
}

func (c *Config) validateJobs(p *problems) {
	j := c.Jobs
	if j.Timeout <= 0 {
		p.add(bad("jobs.timeout", "must be a positive duration such as 5m (got %s)", j.Timeout))
	} else {
		if j.RescueAfter < j.Timeout {
			p.add(bad("jobs.rescue_after", "must be at least jobs.timeout (%s): a job still running is not dead (got %s)", j.Timeout, j.RescueAfter))
		}
		if j.DeliveryLease <= 0 || j.DeliveryLease >= j.Timeout {
			p.add(bad("jobs.delivery_lease", "must be positive and shorter than jobs.timeout (%s), since a job holds it for each send (got %s)", j.Timeout, j.DeliveryLease))
		}
	}
	if j.StepTimeout <= 0 {
		p.add(bad("jobs.step_timeout", "must be a positive duration such as 2m (got %s)", j.StepTimeout))
	}
	if j.StepAttempts < 1 {
		p.add(bad("jobs.step_attempts", "must be at least 1 (got %d)", j.StepAttempts))
	}
	if j.MaxBackoff < 0 {
		p.add(bad("jobs.max_backoff", "must be 0 (River's attempt^4 seconds) or a positive duration (got %s)", j.MaxBackoff))
	}
}

func (c *Config) validatePlaybooks(p *problems) {
	pb := c.Playbooks
	if pb.Timeout <= 0 || pb.Timeout > c.Jobs.Timeout {
		p.add(bad("playbooks.timeout", "must be a positive duration no longer than jobs.timeout (%s), such as 10s (got %s)", c.Jobs.Timeout, pb.Timeout))
	}
	if pb.MaxAttempts < 1 || pb.MaxAttempts > 25 {
		p.add(bad("playbooks.max_attempts", "must be a whole number from 1 to 25 (got %d)", pb.MaxAttempts))
	}
}
