// Package config is accessbot's one configuration struct: loaded once from
// YAML, filled with defaults, overridden from ACCESSBOT_* environment
// variables, and validated once. Nothing else in accessbot reads the
// environment.
package config

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/accessbot/accessbot/internal/secrets"
)

// Config is the whole configuration. Field comments are in config.example.yaml.
type Config struct {
	Slack      Slack      `yaml:"slack"`
	Store      Store      `yaml:"store"`
	Redis      Redis      `yaml:"redis"`
	HTTP       HTTP       `yaml:"http"`
	Log        Log        `yaml:"log"`
	Encryption Encryption `yaml:"encryption"`
	Approvals  Approvals  `yaml:"approvals"`
	Limits     Limits     `yaml:"limits"`
	Jobs       Jobs       `yaml:"jobs"`
	Playbooks  Playbooks  `yaml:"playbooks"`
}

type Slack struct {
	AppToken         secrets.Secret `yaml:"app_token"`
	BotToken         secrets.Secret `yaml:"bot_token"`
	APIURL           string         `yaml:"api_url"`
	Tenant           string         `yaml:"tenant"`
	Connections      int            `yaml:"connections"`
	Workers          int            `yaml:"workers"`
	ClientID         string         `yaml:"client_id"`
	ClientSecret     secrets.Secret `yaml:"client_secret"`
	RedirectURL      string         `yaml:"redirect_url"`
	IdentityCacheTTL time.Duration  `yaml:"identity_cache_ttl"`
}

// SocketMode reports whether an app-level token is configured, i.e. whether
// the bot can connect to Slack at all.
func (s Slack) SocketMode() bool { return s.AppToken.IsSet() }

// SingleWorkspace reports whether a bot token for one workspace is configured.
func (s Slack) SingleWorkspace() bool { return s.BotToken.IsSet() }

// OAuth reports whether OAuth v2 install mode is configured.
func (s Slack) OAuth() bool { return s.ClientID != "" }

type Store struct {
	Driver string         `yaml:"driver"`
	DSN    secrets.Secret `yaml:"dsn"`
	// PoolSize is how many connections a process keeps to PostgreSQL:
	// opened before Slack connects, never more.
	PoolSize int `yaml:"pool_size"`
}

type Redis struct {
	URL secrets.Secret `yaml:"url"`
}

// Enabled reports whether Redis is configured.
func (r Redis) Enabled() bool { return r.URL.IsSet() }

type HTTP struct {
	Listen      string `yaml:"listen"`
	AdminListen string `yaml:"admin_listen"`
	// Pprof serves Go's profiler under /debug/pprof/ on AdminListen.
	Pprof     bool   `yaml:"pprof"`
	PublicURL string `yaml:"public_url"`
}

type Log struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

type Encryption struct {
	Key          secrets.Secret `yaml:"key"`
	KeyID        string         `yaml:"key_id"`
	PreviousKeys []PreviousKey  `yaml:"previous_keys"`
}

// PreviousKey is a retired key that still opens what it sealed.
type PreviousKey struct {
	ID  string         `yaml:"id"`
	Key secrets.Secret `yaml:"key"`
}

type Approvals struct {
	ReminderAfter time.Duration `yaml:"reminder_after"`
	EscalateAfter time.Duration `yaml:"escalate_after"`
	ExpireAfter   time.Duration `yaml:"expire_after"`
}

// Limits bound what the CLI reads from files (sizes, see ByteSize), so a
// huge or hostile file is refused while it streams.
type Limits struct {
	UploadBytes     ByteSize `yaml:"upload_bytes"`
	CSVCellBytes    ByteSize `yaml:"csv_cell_bytes"`
	TenantFileBytes ByteSize `yaml:"tenant_file_bytes"`
}

// Jobs bounds the durable background jobs (notifications, provisioning).
type Jobs struct {
	Timeout       time.Duration `yaml:"timeout"`
	RescueAfter   time.Duration `yaml:"rescue_after"`
	DeliveryLease time.Duration `yaml:"delivery_lease"`
	MaxBackoff    time.Duration `yaml:"max_backoff"`
	// StepTimeout bounds one run of a provisioning step whose script sets no timeout.
	StepTimeout time.Duration `yaml:"step_timeout"`
	// StepAttempts is how often a provisioning step runs before it fails for good.
	StepAttempts int `yaml:"step_attempts"`
}

// Playbooks bounds deliveries to playbook servers (docs/playbooks.md).
type Playbooks struct {
	Timeout     time.Duration `yaml:"timeout"`      // one attempt, answer included
	MaxAttempts int           `yaml:"max_attempts"` // per delivery, retries included
}

// DefaultSQLiteDSN is store.dsn when store.driver is sqlite and no dsn is set:
// a file in the working directory.
const DefaultSQLiteDSN = "file:accessbot.db"

// LookupEnv is os.LookupEnv's shape; tests pass a map instead of the real environment.
type LookupEnv func(key string) (string, bool)

// EnvMap adapts a map to LookupEnv.
func EnvMap(m map[string]string) LookupEnv {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// Flag is a key's value given on the command line. Flags win over the
// environment, which wins over the file.
type Flag struct {
	Key   string // e.g. "http.listen"
	Name  string // as typed, e.g. "--listen"; named in errors
	Value string
}

// Load reads path ("" means no file: defaults only), applies defaults, then
// environment overrides from env (nil means none), then flags, then
// validates. The error, if any, names every problem: one *Error, or Errors
// when there are several.
func Load(path string, env LookupEnv, flags ...Flag) (*Config, error) {
	var data []byte
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read config: %w", err)
		}
		data = b
	}
	return Parse(path, data, env, flags...)
}

// Parse is Load for bytes already read; name is used in messages.
func Parse(name string, data []byte, env LookupEnv, flags ...Flag) (*Config, error) {
	if env == nil {
		env = EnvMap(nil)
	}
	var cfg Config
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlSyntaxError(name, err) // nothing else can be read
	}
	idx := indexNode(&doc)
	var errs problems
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		// yaml.v3 decodes what it can and lists every field it could not.
		for _, e := range decodeErrors(name, idx, err, &cfg) {
			errs.add(e)
		}
	}
	keys := Keys()
	for _, k := range keys {
		if k.Default != "" && !idx.present[k.Name] {
			if err := k.set(&cfg, k.Default); err != nil {
				return nil, fmt.Errorf("config: built-in default of %s: %w", k.Name, err) // a bug, caught by TestDefaults
			}
		}
	}
	fromEnv := map[string]string{}
	for _, k := range keys {
		v, ok := env(k.Env())
		if !ok {
			continue
		}
		fromEnv[k.Name] = k.Env()
		if err := k.set(&cfg, v); err != nil {
			errs.add(&Error{Key: k.Name, Env: k.Env(), Msg: err.Error()})
		}
	}
	for _, f := range flags {
		k, ok := keyNamed(f.Key)
		if !ok {
			return nil, fmt.Errorf("config: flag %s sets unknown key %q", f.Name, f.Key) // a bug in the command
		}
		fromEnv[k.Name] = f.Name
		if err := k.set(&cfg, f.Value); err != nil {
			errs.add(&Error{Key: k.Name, Env: f.Name, Msg: err.Error()})
		}
	}
	cfg.normalize()
	if err := cfg.Validate(); err != nil {
		for _, ce := range err.(Errors) {
			if e, ok := fromEnv[rootKey(ce.Key)]; ok {
				ce.Env = e
			} else if line, ok := idx.lineOf[ce.Key]; ok {
				ce.File, ce.Line = name, line
			}
			errs.add(ce) // not when the key's value already failed to read
		}
	}
	switch len(errs.list) {
	case 0:
		return &cfg, nil
	case 1:
		return nil, errs.list[0]
	}
	return nil, Errors(errs.list)
}

// rootKey maps "encryption.previous_keys[1].id" to "encryption.previous_keys".
func rootKey(k string) string {
	if i := strings.IndexByte(k, '['); i >= 0 {
		return k[:i]
	}
	return k
}

// normalize fills values that depend on other values.
func (c *Config) normalize() {
	if len(c.Encryption.PreviousKeys) == 0 {
		c.Encryption.PreviousKeys = nil
	}
	if c.Store.Driver == "sqlite" && !c.Store.DSN.IsSet() {
		c.Store.DSN = DefaultSQLiteDSN
	}
	if c.Slack.APIURL != "" && !strings.HasSuffix(c.Slack.APIURL, "/") {
		c.Slack.APIURL += "/"
	}
}

// Keyring builds the encryption keyring. With no encryption.key it returns a
// keyring that can't seal (secrets.ErrNoKey) but still opens previous keys.
func (c *Config) Keyring() (*secrets.Keyring, error) {
	cur := secrets.Key{ID: c.Encryption.KeyID}
	if c.Encryption.Key.IsSet() {
		b, err := decodeKey(c.Encryption.Key)
		if err != nil {
			return nil, &Error{Key: "encryption.key", Msg: err.Error()}
		}
		cur.Key = b
	}
	var prev []secrets.Key
	for i, p := range c.Encryption.PreviousKeys {
		b, err := decodeKey(p.Key)
		if err != nil {
			return nil, &Error{Key: fmt.Sprintf("encryption.previous_keys[%d].key", i), Msg: err.Error()}
		}
		prev = append(prev, secrets.Key{ID: p.ID, Key: b})
	}
	kr, err := secrets.NewKeyring(cur, prev...)
	if err != nil {
		return nil, fmt.Errorf("build keyring: %w", err)
	}
	return kr, nil
}

func decodeKey(s secrets.Secret) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s.Reveal()))
	if err != nil {
		return nil, errors.New("must be base64 of 32 random bytes (generate one with: openssl rand -base64 32); it is not valid base64")
	}
	if len(b) != secrets.KeySize {
		return nil, fmt.Errorf("must be base64 of 32 random bytes (generate one with: openssl rand -base64 32); it decodes to %d bytes", len(b))
	}
	return b, nil
}

// Error is a configuration problem: which key, where it came from, and the fix.
type Error struct {
	File string // config file, when the value came from it
	Line int
	Env  string // environment variable or flag (--listen), when the value came from it
	Key  string // e.g. "store.driver"
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		if e.Env != "" {
			fmt.Fprintf(&b, " (from %s)", e.Env)
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in one load: the file's values that could
// not be read, in file order, then the environment's, then the rest. It
// unwraps to each *Error.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}
