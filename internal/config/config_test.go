package config_test

import (
	"encoding/base64"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/accessbot/accessbot/internal/config"
	"github.com/accessbot/accessbot/internal/secrets"
)

const (
	appToken = "xapp-1-A111-222-appsecretvalue"
	botToken = "xoxb-111-222-botsecretvalue"
	// base64 of 32 bytes.
	key1 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	key2 = "ISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0A="
)

func TestDefaults(t *testing.T) {
	cfg, err := config.Parse("", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := config.Config{
		Slack:      config.Slack{APIURL: "https://slack.com/api/", Connections: 2, Workers: 32, IdentityCacheTTL: 10 * time.Minute},
		Store:      config.Store{Driver: "sqlite", DSN: config.DefaultSQLiteDSN, PoolSize: 16},
		HTTP:       config.HTTP{Listen: "127.0.0.1:8080"},
		Log:        config.Log{Level: "info", Format: "auto"},
		Encryption: config.Encryption{KeyID: "k1"},
		Approvals:  config.Approvals{ReminderAfter: 24 * time.Hour, EscalateAfter: 48 * time.Hour, ExpireAfter: 168 * time.Hour},
		Limits:     config.Limits{UploadBytes: 32 << 20, CSVCellBytes: 4 << 10, TenantFileBytes: 4 << 20},
		Jobs: config.Jobs{Timeout: 5 * time.Minute, RescueAfter: 6 * time.Minute, DeliveryLease: time.Minute,
			StepTimeout: 2 * time.Minute, StepAttempts: 8},
		Playbooks: config.Playbooks{Timeout: 10 * time.Second, MaxAttempts: 8},
	}
	if !reflect.DeepEqual(*cfg, want) {
		t.Fatalf("defaults:\n got %+v\nwant %+v", *cfg, want)
	}
	// An empty section (YAML null) keeps its defaults too.
	cfg2, err := config.Parse("c.yaml", []byte("slack:\nstore:\n"), nil)
	if err != nil || !reflect.DeepEqual(*cfg2, want) {
		t.Fatalf("null sections: %v\n got %+v", err, cfg2)
	}
}

func TestValues(t *testing.T) {
	y := `
slack:
  app_token: ` + appToken + `
  bot_token: ` + botToken + `
  api_url: http://127.0.0.1:9999/api
  tenant: acme
  connections: 4
  identity_cache_ttl: 90s
store:
  driver: postgres
  dsn: postgres://u:p@db:5432/x
redis:
  url: redis://127.0.0.1:6379/1
http:
  listen: ":9090"
  public_url: https://bot.example.com
log: {level: debug, format: console}
encryption:
  key: ` + key2 + `
  key_id: k2
  previous_keys:
    - {id: k1, key: ` + key1 + `}
approvals:
  reminder_after: 1h
  escalate_after: 2h
  expire_after: 72h
`
	cfg, err := config.Parse("c.yaml", []byte(y), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Slack.APIURL != "http://127.0.0.1:9999/api/" {
		t.Errorf("api_url not normalized: %q", cfg.Slack.APIURL)
	}
	if cfg.Slack.Connections != 4 || cfg.Slack.IdentityCacheTTL != 90*time.Second || cfg.Store.Driver != "postgres" ||
		cfg.HTTP.Listen != ":9090" || cfg.Log.Format != "console" || cfg.Approvals.ExpireAfter != 72*time.Hour ||
		cfg.Redis.URL.Reveal() != "redis://127.0.0.1:6379/1" || cfg.Slack.BotToken.Reveal() != botToken {
		t.Errorf("values not loaded: %+v", cfg)
	}
	kr, err := cfg.Keyring()
	if err != nil {
		t.Fatal(err)
	}
	id, ct, err := kr.Seal([]byte("x"), nil)
	if err != nil || id != "k2" {
		t.Fatalf("seal: %q %v", id, err)
	}
	if _, err := kr.Open(id, ct, nil); err != nil {
		t.Fatal(err)
	}
	old, err := secrets.NewKeyring(secrets.Key{ID: "k1", Key: mustB64(t, key1)})
	if err != nil {
		t.Fatal(err)
	}
	_, oldCT, _ := old.Seal([]byte("y"), nil)
	if got, err := kr.Open("k1", oldCT, nil); err != nil || string(got) != "y" {
		t.Fatalf("previous key does not open: %v", err)
	}
}

func mustB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestKeyringWithoutKey(t *testing.T) {
	cfg, err := config.Parse("", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	kr, err := cfg.Keyring()
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := kr.Seal([]byte("x"), nil); !errors.Is(err, secrets.ErrNoKey) {
		t.Fatalf("seal without key: %v", err)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		env  map[string]string
		want string
	}{
		// Unknown keys and types, with file and line.
		{"unknown key", "slack:\n  bot_tokn: x\n", nil,
			"c.yaml:2: slack.bot_tokn: unknown key (did you mean slack.bot_token? every key is listed in config.example.yaml)"},
		{"unknown key far from any", "store:\n  max_idle_time: 3\n", nil,
			"c.yaml:2: store.max_idle_time: unknown key (valid keys here: store.driver, store.dsn, store.pool_size)"},
		{"unknown section", "slak:\n  bot_token: x\n", nil,
			"c.yaml:1: slak: unknown section (did you mean slack? every key is listed in config.example.yaml)"},
		{"unknown key in previous key", "encryption:\n  previous_keys:\n    - id: k0\n      secret: x\n", nil,
			"c.yaml:4: encryption.previous_keys[0].secret: unknown key (each previous key has only id and key)\n" +
				`encryption.previous_keys[0].key: required: the retired key that sealed secrets under id "k0"`},
		{"not a number", "slack:\n  connections: many\n", nil,
			`c.yaml:2: slack.connections: must be a whole number (got "many")`},
		{"not a duration", "approvals:\n  reminder_after: 1 day\n", nil,
			`c.yaml:2: approvals.reminder_after: must be a Go duration such as 90m, 24h or 1h30m (got "1 day")`},
		{"section not a mapping", "slack: yes\n", nil,
			`c.yaml:1: slack: must be a mapping of keys indented under it (got "yes")`},
		{"secret value not echoed", "slack:\n  bot_token: [xoxb-secret-in-list]\n", nil,
			"c.yaml:2: slack.bot_token: must be a single value, not a list or mapping"},
		// yaml.v3 numbers parser errors from 0: the bad line is the third.
		{"not yaml", "slack:\n  app_token: a\n bot_token: b\n", nil,
			"c.yaml:3: not valid YAML: did not find expected key"},
		{"not yaml: unclosed list", "slack:\n  connections: 2\nlog: [a, b\nstore:\n  driver: sqlite\n", nil,
			"c.yaml:3: not valid YAML: did not find expected ',' or ']'"},
		{"not yaml: tab", "slack:\n\tconnections: 2\n", nil,
			"c.yaml:2: not valid YAML: found character that cannot start any token"},
		{"top level list", "- a\n- b\n", nil,
			"c.yaml:1: the file must be a mapping of sections such as slack:, store:, http:"},

		// Validation: one message naming the key and the fix.
		{"store.driver", "store:\n  driver: mysql\n", nil,
			`c.yaml:2: store.driver: must be "sqlite" or "postgres" (got "mysql")`},
		{"store.dsn for postgres", "store:\n  driver: postgres\n", nil,
			`store.dsn: required when store.driver is "postgres": set ACCESSBOT_STORE_DSN=postgres://USER:PASSWORD@HOST:5432/DB`},
		{"slack.app_token prefix", "", map[string]string{"ACCESSBOT_SLACK_APP_TOKEN": "xoxb-wrong"},
			`slack.app_token (from ACCESSBOT_SLACK_APP_TOKEN): must be an app-level token starting with "xapp-" (Slack app settings → Basic Information → App-Level Tokens, scope connections:write)` + "\n" +
				"slack.bot_token: required with slack.app_token unless OAuth install is configured (slack.client_id, slack.client_secret, slack.redirect_url); set ACCESSBOT_SLACK_BOT_TOKEN"},
		{"slack.bot_token prefix", "slack:\n  app_token: " + appToken + "\n  bot_token: xoxp-user\n", nil,
			`c.yaml:3: slack.bot_token: must be a bot token starting with "xoxb-" (Slack app settings → OAuth & Permissions → Bot User OAuth Token)` + "\n" +
				"slack.tenant: required when slack.bot_token is set: the slug of the tenant this workspace belongs to, as in your tenant file"},
		{"bot token without app token", "slack:\n  bot_token: " + botToken + "\n", nil,
			"slack.app_token: required when slack.bot_token is set: Socket Mode needs an app-level token (xapp-...); set ACCESSBOT_SLACK_APP_TOKEN\n" +
				"slack.tenant: required when slack.bot_token is set: the slug of the tenant this workspace belongs to, as in your tenant file"},
		{"app token alone", "slack:\n  app_token: " + appToken + "\n", nil,
			"slack.bot_token: required with slack.app_token unless OAuth install is configured (slack.client_id, slack.client_secret, slack.redirect_url); set ACCESSBOT_SLACK_BOT_TOKEN"},
		{"slack.tenant", "slack:\n  app_token: " + appToken + "\n  bot_token: " + botToken + "\n", nil,
			"slack.tenant: required when slack.bot_token is set: the slug of the tenant this workspace belongs to, as in your tenant file"},
		{"slack.api_url", "slack:\n  api_url: slack.com/api\n", nil,
			`c.yaml:2: slack.api_url: must be an absolute http(s) URL such as https://slack.com/api/ (got "slack.com/api/")`},
		{"slack.connections", "slack:\n  connections: 11\n", nil,
			"c.yaml:2: slack.connections: must be between 1 and 10: Slack allows at most 10 Socket Mode connections per app (got 11)"},
		{"slack.connections zero", "slack:\n  connections: 0\n", nil,
			"c.yaml:2: slack.connections: must be between 1 and 10: Slack allows at most 10 Socket Mode connections per app (got 0)"},
		{"slack.workers zero", "slack:\n  workers: 0\n", nil,
			"c.yaml:2: slack.workers: must be between 1 and 1024 (got 0)"},
		{"store.pool_size one", "store:\n  pool_size: 1\n", nil,
			"c.yaml:2: store.pool_size: must be between 2 and 1000 (got 1); each replica keeps this many PostgreSQL connections, plus 2"},
		{"oauth incomplete", "slack:\n  client_id: \"123.456\"\n", nil,
			"slack.client_secret: required for OAuth install mode: set slack.client_id, slack.client_secret and slack.redirect_url together (Slack app settings → Basic Information → App Credentials)\n" +
				"slack.redirect_url: required for OAuth install mode: set slack.client_id, slack.client_secret and slack.redirect_url together (Slack app settings → Basic Information → App Credentials)\n" +
				"slack.app_token: required for OAuth install mode too: events arrive over Socket Mode; set ACCESSBOT_SLACK_APP_TOKEN (xapp-...)"},
		{"oauth without app token", "slack:\n  client_id: \"1\"\n  client_secret: s\n  redirect_url: https://x.example/slack/oauth/callback\n", nil,
			"slack.app_token: required for OAuth install mode too: events arrive over Socket Mode; set ACCESSBOT_SLACK_APP_TOKEN (xapp-...)"},
		{"slack.redirect_url https", "slack:\n  app_token: " + appToken + "\n  client_id: \"1\"\n  client_secret: s\n  redirect_url: http://x.example/cb\n", nil,
			`c.yaml:5: slack.redirect_url: must be an absolute https URL such as https://accessbot.example.com/slack/oauth/callback (got "http://x.example/cb")`},
		{"slack.identity_cache_ttl", "slack:\n  identity_cache_ttl: -1m\n", nil,
			"c.yaml:2: slack.identity_cache_ttl: must be a positive duration such as 10m (got -1m0s)"},
		{"redis.url", "", map[string]string{"ACCESSBOT_REDIS_URL": "http://:hunter2@host"},
			"redis.url (from ACCESSBOT_REDIS_URL): must be a Redis URL such as redis://127.0.0.1:6379/0 or rediss://:PASSWORD@HOST:6380/0 (leave it unset to run without Redis)"},
		{"http.listen", "http:\n  listen: 8080\n", nil,
			`c.yaml:2: http.listen: must be HOST:PORT such as 127.0.0.1:8080, or :8080 for every interface (got "8080")`},
		{"http.admin_listen", "http:\n  admin_listen: localhost\n", nil,
			`c.yaml:2: http.admin_listen: must be HOST:PORT such as 127.0.0.1:9090, or empty to serve /readyz and /metrics on http.listen (got "localhost")`},
		{"http.admin_listen same as listen", "", map[string]string{"ACCESSBOT_HTTP_ADMIN_LISTEN": "127.0.0.1:8080"},
			"http.admin_listen (from ACCESSBOT_HTTP_ADMIN_LISTEN): must differ from http.listen (127.0.0.1:8080): it is a second listener, for /readyz, /metrics and /debug/pprof/ only"},
		{"http.pprof without admin_listen", "", map[string]string{"ACCESSBOT_HTTP_PPROF": "true"},
			"http.pprof (from ACCESSBOT_HTTP_PPROF): needs http.admin_listen: the profiler is served on the admin listener only, never on http.listen"},
		{"http.pprof not a bool", "http:\n  pprof: sometimes\n", nil,
			`c.yaml:2: http.pprof: must be true or false (got "sometimes")`},
		{"http.public_url", "http:\n  public_url: /relative\n", nil,
			`c.yaml:2: http.public_url: must be an absolute http(s) URL such as https://accessbot.example.com (got "/relative")`},
		{"log.level", "log:\n  level: verbose\n", nil,
			`c.yaml:2: log.level: must be one of debug, info, warn, error (got "verbose")`},
		{"log.format", "log:\n  format: text\n", nil,
			`c.yaml:2: log.format: must be "auto" (console on a terminal, else json), "json" (for machines) or "console" (for humans) (got "text")`},
		{"encryption.key not base64", "", map[string]string{"ACCESSBOT_ENCRYPTION_KEY": "not base64!"},
			"encryption.key (from ACCESSBOT_ENCRYPTION_KEY): must be base64 of 32 random bytes (generate one with: openssl rand -base64 32); it is not valid base64"},
		{"encryption.key short", "encryption:\n  key: c2hvcnQ=\n", nil,
			"c.yaml:2: encryption.key: must be base64 of 32 random bytes (generate one with: openssl rand -base64 32); it decodes to 5 bytes"},
		{"encryption.key_id", "encryption:\n  key_id: \"my key\"\n", nil,
			`c.yaml:2: encryption.key_id: must be 1-32 letters, digits, '.', '_' or '-' (got "my key")`},
		{"previous key id reused", "encryption:\n  key: " + key1 + "\n  previous_keys:\n    - {id: k1, key: " + key2 + "}\n", nil,
			`c.yaml:4: encryption.previous_keys[0].id: key id "k1" is already used: every key id must be unique, and the current one is encryption.key_id`},
		{"previous key missing", "encryption:\n  previous_keys:\n    - id: k0\n", nil,
			`encryption.previous_keys[0].key: required: the retired key that sealed secrets under id "k0"`},
		{"approvals positive", "approvals:\n  reminder_after: 0s\n", nil,
			"c.yaml:2: approvals.reminder_after: must be a positive duration such as 24h (got 0s)"},
		{"approvals order", "approvals:\n  escalate_after: 12h\n", nil,
			"c.yaml:2: approvals.escalate_after: must be longer than approvals.reminder_after (24h0m0s), so the reminder comes first (got 12h0m0s)"},
		{"approvals expiry", "approvals:\n  expire_after: 48h\n", nil,
			"c.yaml:2: approvals.expire_after: must be longer than approvals.escalate_after (48h0m0s), so escalation happens before expiry (got 48h0m0s)"},
		{"jobs rescue before timeout", "jobs:\n  rescue_after: 1m\n", nil,
			"c.yaml:2: jobs.rescue_after: must be at least jobs.timeout (5m0s): a job still running is not dead (got 1m0s)"},
		{"jobs lease too long", "jobs:\n  delivery_lease: 5m\n", nil,
			"c.yaml:2: jobs.delivery_lease: must be positive and shorter than jobs.timeout (5m0s), since a job holds it for each send (got 5m0s)"},

		// Environment parse errors name the variable.
		{"quoted not a number", "slack:\n  connections: \"three\"\n", nil,
			`c.yaml:2: slack.connections: must be a whole number (got "three")`},
		{"env not a number", "", map[string]string{"ACCESSBOT_SLACK_CONNECTIONS": "two"},
			`slack.connections (from ACCESSBOT_SLACK_CONNECTIONS): must be a whole number (got "two")`},
		{"env not a duration", "", map[string]string{"ACCESSBOT_APPROVALS_EXPIRE_AFTER": "7d"},
			`approvals.expire_after (from ACCESSBOT_APPROVALS_EXPIRE_AFTER): must be a Go duration such as 90m, 24h or 1h30m (got "7d")`},
		{"env previous keys", "", map[string]string{"ACCESSBOT_ENCRYPTION_PREVIOUS_KEYS": "k0"},
			"encryption.previous_keys (from ACCESSBOT_ENCRYPTION_PREVIOUS_KEYS): must be a comma-separated list of ID:BASE64KEY (an entry has no colon)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Parse("c.yaml", []byte(tt.yaml), config.EnvMap(tt.env))
			if err == nil {
				t.Fatalf("no error, want %s", tt.want)
			}
			if err.Error() != tt.want {
				t.Fatalf("error:\n got %s\nwant %s", err, tt.want)
			}
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("error is %T, want *config.Error", err)
			}
			for _, leak := range []string{"secretvalue", "hunter2", "secret-in-list", "xoxb-wrong", "xoxp-user", "c2hvcnQ"} {
				if strings.Contains(err.Error(), leak) {
					t.Errorf("error leaks a secret value: %s", err)
				}
			}
		})
	}
}

func TestEnvOverrides(t *testing.T) {
	y := "store:\n  driver: postgres\n  dsn: postgres://file@h/db\nhttp:\n  listen: 127.0.0.1:1\n"
	env := map[string]string{
		"ACCESSBOT_STORE_DSN":                "postgres://env@h/db",
		"ACCESSBOT_SLACK_APP_TOKEN":          appToken,
		"ACCESSBOT_SLACK_BOT_TOKEN":          botToken,
		"ACCESSBOT_SLACK_TENANT":             "acme",
		"ACCESSBOT_SLACK_CLIENT_SECRET":      "cs",
		"ACCESSBOT_SLACK_CLIENT_ID":          "1.2",
		"ACCESSBOT_SLACK_REDIRECT_URL":       "https://bot.example.com/slack/oauth/callback",
		"ACCESSBOT_REDIS_URL":                "redis://127.0.0.1:6379/0",
		"ACCESSBOT_ENCRYPTION_KEY":           key1,
		"ACCESSBOT_ENCRYPTION_PREVIOUS_KEYS": "k0:" + key2 + ", old:" + key2,
		"ACCESSBOT_HTTP_LISTEN":              "127.0.0.1:0",
		"ACCESSBOT_HTTP_ADMIN_LISTEN":        "127.0.0.1:9090",
		"ACCESSBOT_SLACK_CONNECTIONS":        "10",
		"ACCESSBOT_APPROVALS_REMINDER_AFTER": "2h",
	}
	cfg, err := config.Parse("c.yaml", []byte(y), config.EnvMap(env))
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string][2]string{
		"store.dsn":                {cfg.Store.DSN.Reveal(), "postgres://env@h/db"},
		"store.driver (file only)": {cfg.Store.Driver, "postgres"},
		"slack.app_token":          {cfg.Slack.AppToken.Reveal(), appToken},
		"slack.bot_token":          {cfg.Slack.BotToken.Reveal(), botToken},
		"slack.client_secret":      {cfg.Slack.ClientSecret.Reveal(), "cs"},
		"redis.url":                {cfg.Redis.URL.Reveal(), "redis://127.0.0.1:6379/0"},
		"encryption.key":           {cfg.Encryption.Key.Reveal(), key1},
		"http.listen":              {cfg.HTTP.Listen, "127.0.0.1:0"},
		"http.admin_listen":        {cfg.HTTP.AdminListen, "127.0.0.1:9090"},
		"slack.connections":        {strings.Repeat("x", cfg.Slack.Connections), strings.Repeat("x", 10)},
		"approvals.reminder_after": {cfg.Approvals.ReminderAfter.String(), "2h0m0s"},
		"previous key ids":         {cfg.Encryption.PreviousKeys[0].ID + "," + cfg.Encryption.PreviousKeys[1].ID, "k0,old"},
	}
	for name, c := range checks {
		if c[0] != c[1] {
			t.Errorf("%s = %q, want %q", name, c[0], c[1])
		}
	}
	if !cfg.Slack.OAuth() || !cfg.Slack.SingleWorkspace() || !cfg.Slack.SocketMode() || !cfg.Redis.Enabled() {
		t.Errorf("mode helpers wrong: %+v", cfg.Slack)
	}
	// Every key has an environment variable, and Parse honours each one.
	for _, k := range config.Keys() {
		if k.Env() != "ACCESSBOT_"+strings.ToUpper(strings.ReplaceAll(k.Name, ".", "_")) {
			t.Errorf("%s: env %s", k.Name, k.Env())
		}
	}
}

// Every problem is reported at once, each on its own line, in file order,
// then the environment's, then the rest; a key is reported once.
func TestEveryErrorAtOnce(t *testing.T) {
	y := "slack:\n  bot_tokn: x\n  connections: many\nstore:\n  driver: mysql\nlog:\n  level: verbose\n"
	env := map[string]string{"ACCESSBOT_APPROVALS_EXPIRE_AFTER": "7d", "ACCESSBOT_HTTP_LISTEN": "8080"}
	_, err := config.Parse("c.yaml", []byte(y), config.EnvMap(env))
	want := strings.Join([]string{
		"c.yaml:2: slack.bot_tokn: unknown key (did you mean slack.bot_token? every key is listed in config.example.yaml)",
		`c.yaml:3: slack.connections: must be a whole number (got "many")`,
		`approvals.expire_after (from ACCESSBOT_APPROVALS_EXPIRE_AFTER): must be a Go duration such as 90m, 24h or 1h30m (got "7d")`,
		`c.yaml:5: store.driver: must be "sqlite" or "postgres" (got "mysql")`,
		`http.listen (from ACCESSBOT_HTTP_LISTEN): must be HOST:PORT such as 127.0.0.1:8080, or :8080 for every interface (got "8080")`,
		`c.yaml:7: log.level: must be one of debug, info, warn, error (got "verbose")`,
	}, "\n")
	if err == nil || err.Error() != want {
		t.Fatalf("error:\n got %v\nwant %s", err, want)
	}
	var errs config.Errors
	if !errors.As(err, &errs) || len(errs) != 6 {
		t.Fatalf("error is %T, want config.Errors of 6", err)
	}
	var ce *config.Error
	if !errors.As(err, &ce) || ce.Key != "slack.bot_tokn" {
		t.Fatalf("errors.As *config.Error = %+v", ce)
	}
}

// A number written as a YAML string, or quoted in an environment file
// (docker --env-file keeps the quotes), is still the number.
func TestQuotedNumbersAndDurations(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		env  map[string]string
	}{
		{"yaml string", "slack:\n  connections: \"3\"\n  workers: '40'\n  identity_cache_ttl: \"5m\"\n", nil},
		{"env quoted", "", map[string]string{"ACCESSBOT_SLACK_CONNECTIONS": `"3"`, "ACCESSBOT_SLACK_WORKERS": "'40'",
			"ACCESSBOT_SLACK_IDENTITY_CACHE_TTL": `"5m"`}},
		{"env spaces", "", map[string]string{"ACCESSBOT_SLACK_CONNECTIONS": " 3 ", "ACCESSBOT_SLACK_WORKERS": "40",
			"ACCESSBOT_SLACK_IDENTITY_CACHE_TTL": "5m"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Parse("c.yaml", []byte(tt.yaml), config.EnvMap(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Slack.Connections != 3 || cfg.Slack.Workers != 40 || cfg.Slack.IdentityCacheTTL != 5*time.Minute {
				t.Fatalf("got connections %d, workers %d, ttl %s", cfg.Slack.Connections, cfg.Slack.Workers, cfg.Slack.IdentityCacheTTL)
			}
		})
	}
}

func TestLoadFile(t *testing.T) {
	if _, err := config.Load("testdata/does-not-exist.yaml", nil); err == nil || !strings.Contains(err.Error(), "does-not-exist.yaml") {
		t.Fatalf("missing file: %v", err)
	}
	cfg, err := config.Load("", config.EnvMap(map[string]string{"ACCESSBOT_LOG_LEVEL": "debug"}))
	if err != nil || cfg.Log.Level != "debug" {
		t.Fatalf("no file: %v %+v", err, cfg)
	}
}

// The example file loads with the real loader, shows exactly the defaults,
// and documents every key with a comment.
func TestExampleFile(t *testing.T) {
	const path = "../../config.example.yaml"
	got, err := config.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := config.Parse("", nil, nil)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("config.example.yaml does not show the defaults:\n got %+v\nwant %+v", got, want)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	commented := map[string]bool{}
	var walk func(n *yaml.Node, prefix string)
	walk = func(n *yaml.Node, prefix string) {
		for _, c := range n.Content {
			if n.Kind != yaml.MappingNode {
				walk(c, prefix)
			}
		}
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			name := prefix + k.Value
			commented[name] = k.HeadComment != "" || k.LineComment != ""
			walk(n.Content[i+1], name+".")
		}
	}
	walk(&doc, "")
	for _, k := range config.Keys() {
		doc, ok := commented[k.Name]
		if !ok {
			t.Errorf("config.example.yaml lacks %s", k.Name)
		} else if !doc {
			t.Errorf("config.example.yaml has no comment above %s", k.Name)
		}
	}
}

// docs/configuration.md's table names every key and its environment variable.
func TestDocsDocumentEveryKey(t *testing.T) {
	data, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range config.Keys() {
		row := "| `" + k.Name + "` | `" + k.Env() + "` |"
		if !strings.Contains(string(data), row) {
			t.Errorf("docs/configuration.md has no table row starting %s", row)
		}
	}
}

// A flag wins over the environment, which wins over the file; a bad flag
// value is reported with the flag's name.
func TestFlagsOverEnvOverFile(t *testing.T) {
	file := []byte("http:\n  listen: 127.0.0.1:1000\n  public_url: https://file.example\nlog:\n  level: warn\n")
	env := config.EnvMap(map[string]string{"ACCESSBOT_HTTP_LISTEN": "127.0.0.1:2000", "ACCESSBOT_LOG_LEVEL": "error"})
	flags := []config.Flag{{Key: "http.listen", Name: "--listen", Value: "127.0.0.1:3000"}}
	tests := []struct {
		name              string
		env               config.LookupEnv
		flags             []config.Flag
		listen, level, pu string
	}{
		{"file", nil, nil, "127.0.0.1:1000", "warn", "https://file.example"},
		{"env over file", env, nil, "127.0.0.1:2000", "error", "https://file.example"},
		{"flag over env", env, flags, "127.0.0.1:3000", "error", "https://file.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Parse("c.yaml", file, tt.env, tt.flags...)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.HTTP.Listen != tt.listen || cfg.Log.Level != tt.level || cfg.HTTP.PublicURL != tt.pu {
				t.Errorf("got listen %s, level %s, public_url %s", cfg.HTTP.Listen, cfg.Log.Level, cfg.HTTP.PublicURL)
			}
		})
	}
	_, err := config.Parse("c.yaml", file, env, config.Flag{Key: "store.driver", Name: "--store-driver", Value: "mysql"})
	if err == nil || err.Error() != `store.driver (from --store-driver): must be "sqlite" or "postgres" (got "mysql")` {
		t.Errorf("bad flag: %v", err)
	}
	_, err = config.Parse("c.yaml", file, env, config.Flag{Key: "slack.connections", Name: "--slack-connections", Value: "many"})
	if err == nil || !strings.Contains(err.Error(), `slack.connections (from --slack-connections): must be a whole number`) {
		t.Errorf("unparsable flag: %v", err)
	}
}

func TestLimits(t *testing.T) {
	cfg, err := config.Parse("c.yaml", []byte("limits:\n  upload_bytes: 100MB\n  csv_cell_bytes: 8192\n"),
		config.EnvMap(map[string]string{"ACCESSBOT_LIMITS_TENANT_FILE_BYTES": "1GiB"}))
	if err != nil {
		t.Fatal(err)
	}
	if want := (config.Limits{UploadBytes: 100e6, CSVCellBytes: 8 << 10, TenantFileBytes: 1 << 30}); cfg.Limits != want {
		t.Fatalf("limits %+v, want %+v", cfg.Limits, want)
	}
	if s := cfg.Limits.CSVCellBytes.String(); s != "8KiB" {
		t.Errorf("String() = %q", s)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"limits:\n  upload_bytes: lots\n", `must be a size such as 4096, 64KiB, 32MiB or 1GiB (got "lots")`},
		{"limits:\n  csv_cell_bytes: 0\n", "c.yaml:2: limits.csv_cell_bytes: must be at least 1 byte"},
		{"limits:\n  upload_bytes: -5MiB\n", `(got "-5MiB")`},
	} {
		if _, err := config.Parse("c.yaml", []byte(tc.yaml), nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want %q", tc.yaml, err, tc.want)
		}
	}
}
