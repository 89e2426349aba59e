package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/accessbot/accessbot/internal/secrets"
)

// Key describes one configuration key: its YAML path, the environment
// variable that overrides it, and its default. docs/configuration.md and
// config.example.yaml are tested against this table.
type Key struct {
	Name    string // YAML path, e.g. "slack.app_token"
	Secret  bool
	Default string // as it would be written in YAML; "" means none
	field   func(c *Config) any
}

// Env is the environment variable that overrides the key: ACCESSBOT_<SECTION>_<KEY>.
func (k Key) Env() string { return EnvName(k.Name) }

// Keys returns every configuration key, in file order.
func Keys() []Key {
	return []Key{
		{Name: "slack.app_token", Secret: true, field: func(c *Config) any { return &c.Slack.AppToken }},
		{Name: "slack.bot_token", Secret: true, field: func(c *Config) any { return &c.Slack.BotToken }},
		{Name: "slack.api_url", Default: "https://slack.com/api/", field: func(c *Config) any { return &c.Slack.APIURL }},
		{Name: "slack.tenant", field: func(c *Config) any { return &c.Slack.Tenant }},
		{Name: "slack.connections", Default: "2", field: func(c *Config) any { return &c.Slack.Connections }},
		{Name: "slack.workers", Default: "32", field: func(c *Config) any { return &c.Slack.Workers }},
		{Name: "slack.client_id", field: func(c *Config) any { return &c.Slack.ClientID }},
		{Name: "slack.client_secret", Secret: true, field: func(c *Config) any { return &c.Slack.ClientSecret }},
		{Name: "slack.redirect_url", field: func(c *Config) any { return &c.Slack.RedirectURL }},
		{Name: "slack.identity_cache_ttl", Default: "10m", field: func(c *Config) any { return &c.Slack.IdentityCacheTTL }},
		{Name: "store.driver", Default: "sqlite", field: func(c *Config) any { return &c.Store.Driver }},
		{Name: "store.dsn", Secret: true, field: func(c *Config) any { return &c.Store.DSN }},
		{Name: "store.pool_size", Default: "16", field: func(c *Config) any { return &c.Store.PoolSize }},
		{Name: "redis.url", Secret: true, field: func(c *Config) any { return &c.Redis.URL }},
		{Name: "http.listen", Default: "127.0.0.1:8080", field: func(c *Config) any { return &c.HTTP.Listen }},
		{Name: "http.admin_listen", field: func(c *Config) any { return &c.HTTP.AdminListen }},
		{Name: "http.pprof", Default: "false", field: func(c *Config) any { return &c.HTTP.Pprof }},
		{Name: "http.public_url", field: func(c *Config) any { return &c.HTTP.PublicURL }},
		{Name: "log.level", Default: "info", field: func(c *Config) any { return &c.Log.Level }},
		{Name: "log.format", Default: "auto", field: func(c *Config) any { return &c.Log.Format }},
		{Name: "encryption.key", Secret: true, field: func(c *Config) any { return &c.Encryption.Key }},
		{Name: "encryption.key_id", Default: "k1", field: func(c *Config) any { return &c.Encryption.KeyID }},
		{Name: "encryption.previous_keys", Secret: true, field: func(c *Config) any { return &c.Encryption.PreviousKeys }},
		{Name: "approvals.reminder_after", Default: "24h", field: func(c *Config) any { return &c.Approvals.ReminderAfter }},
		{Name: "approvals.escalate_after", Default: "48h", field: func(c *Config) any { return &c.Approvals.EscalateAfter }},
		{Name: "approvals.expire_after", Default: "168h", field: func(c *Config) any { return &c.Approvals.ExpireAfter }},
		{Name: "limits.upload_bytes", Default: "32MiB", field: func(c *Config) any { return &c.Limits.UploadBytes }},
		{Name: "limits.csv_cell_bytes", Default: "4KiB", field: func(c *Config) any { return &c.Limits.CSVCellBytes }},
		{Name: "limits.tenant_file_bytes", Default: "4MiB", field: func(c *Config) any { return &c.Limits.TenantFileBytes }},
		{Name: "jobs.timeout", Default: "5m", field: func(c *Config) any { return &c.Jobs.Timeout }},
		{Name: "jobs.rescue_after", Default: "6m", field: func(c *Config) any { return &c.Jobs.RescueAfter }},
		{Name: "jobs.delivery_lease", Default: "1m", field: func(c *Config) any { return &c.Jobs.DeliveryLease }},
		{Name: "jobs.max_backoff", field: func(c *Config) any { return &c.Jobs.MaxBackoff }},
		{Name: "jobs.step_timeout", Default: "2m", field: func(c *Config) any { return &c.Jobs.StepTimeout }},
		{Name: "jobs.step_attempts", Default: "8", field: func(c *Config) any { return &c.Jobs.StepAttempts }},
		{Name: "playbooks.timeout", Default: "10s", field: func(c *Config) any { return &c.Playbooks.Timeout }},
		{Name: "playbooks.max_attempts", Default: "8", field: func(c *Config) any { return &c.Playbooks.MaxAttempts }},
	}
}

// EnvName maps "slack.app_token" to "ACCESSBOT_SLACK_APP_TOKEN".
func EnvName(key string) string {
	return "ACCESSBOT_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// set parses s (as YAML or an environment variable would spell it) into the field.
func (k Key) set(c *Config, s string) error {
	switch p := k.field(c).(type) {
	case *string:
		*p = s
	case *secrets.Secret:
		*p = secrets.Secret(s)
	case *int:
		n, err := strconv.Atoi(unquote(s))
		if err != nil {
			return fmt.Errorf("must be a whole number (got %q)", s)
		}
		*p = n
	case *bool:
		b, err := strconv.ParseBool(unquote(s))
		if err != nil {
			return fmt.Errorf("must be true or false (got %q)", s)
		}
		*p = b
	case *time.Duration:
		d, err := time.ParseDuration(unquote(s))
		if err != nil {
			return fmt.Errorf("must be a Go duration such as 90m, 24h or 1h30m (got %q)", s)
		}
		*p = d
	case *ByteSize:
		b, err := ParseByteSize(s)
		if err != nil {
			return err
		}
		*p = b
	case *[]PreviousKey:
		// ID:BASE64KEY[,ID:BASE64KEY...]
		var out []PreviousKey
		for _, part := range strings.Split(s, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			id, key, ok := strings.Cut(part, ":")
			if !ok {
				return fmt.Errorf("must be a comma-separated list of ID:BASE64KEY (an entry has no colon)")
			}
			out = append(out, PreviousKey{ID: strings.TrimSpace(id), Key: secrets.Secret(strings.TrimSpace(key))})
		}
		*p = out
	default:
		return fmt.Errorf("unsupported field type %T (a bug in config.Keys)", p)
	}
	return nil
}

// unquote trims spaces and one pair of matching quotes around a number or
// duration: docker --env-file keeps the quotes of NAME="3", and a quote is
// never part of either.
func unquote(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		s = strings.TrimSpace(s[1 : len(s)-1])
	}
	return s
}
