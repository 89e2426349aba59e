// Package email sends the `email_notification` action-chain script (and,
// later, `email_approval`'s messages) over SMTP with github.com/wneessen/go-mail:
// TLS by policy (STARTTLS required by default, implicit TLS, or none for a
// local relay) and SMTP AUTH.
package email

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"regexp"
	"strings"
	"time"

	"github.com/rs/zerolog"
	mail "github.com/wneessen/go-mail"

	"github.com/accessbot/accessbot/internal/secrets"
)

// Notifier is the capability the email_notification script needs. Flows
// declare their own copy where they consume it; this one keeps the
// implementation's shape checked.
type Notifier interface {
	Notify(ctx context.Context, n Notification) error
}

var _ Notifier = (*Client)(nil)

// TLSMode says how the connection is encrypted.
type TLSMode string

const (
	// StartTLS requires STARTTLS; a server that does not offer it is refused. The default.
	StartTLS TLSMode = "starttls"
	// ImplicitTLS connects with TLS from the first byte (usually port 465).
	ImplicitTLS TLSMode = "tls"
	// NoTLS sends in clear text: for a relay on the same host only. AUTH is refused.
	NoTLS TLSMode = "none"
)

// Config is one SMTP account.
type Config struct {
	Host     string
	Port     int     // 0: 587 for starttls and none, 465 for tls
	TLS      TLSMode // "" means StartTLS
	Username string  // "" means no AUTH
	Password secrets.Secret
	// AuthMechanism is an SMTP AUTH mechanism go-mail knows: "PLAIN" (the
	// default), "LOGIN", "CRAM-MD5", "SCRAM-SHA-256", ...
	AuthMechanism string
	From          string // "accessbot <accessbot@example.com>"
	HELO          string // "" lets go-mail choose
	Timeout       time.Duration
	RootCAs       *x509.CertPool // nil: system roots (tests trust their fake)
	// Dial, when set, opens the TCP connection: the outbound client's
	// DialContext, so the SMTP host is held to the tenant's address rules.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Notification is one message to people.
type Notification struct {
	// ID, when set, makes the Message-ID <ID@accessbot>, the same on every
	// retry, so a re-sent notification can be recognised as the same one.
	ID      string
	To      []string
	Subject string
	Text    string // the plain-text part, always sent
	HTML    string // optional HTML alternative
}

// ErrAuth means the server refused the username or password.
var ErrAuth = errors.New("the SMTP server refused the username or password")

// Client sends mail. Each Notify opens its own connection.
type Client struct {
	cfg  Config
	from string
	log  zerolog.Logger
}

// New validates cfg.
func New(cfg Config, log zerolog.Logger) (*Client, error) {
	if cfg.Host == "" {
		return nil, errors.New("email: host is required")
	}
	switch cfg.TLS {
	case "":
		cfg.TLS = StartTLS
	case StartTLS, ImplicitTLS, NoTLS:
	default:
		return nil, fmt.Errorf("email: tls %q: want starttls, tls or none", cfg.TLS)
	}
	if cfg.Port == 0 {
		cfg.Port = mail.DefaultPortTLS
		if cfg.TLS == ImplicitTLS {
			cfg.Port = mail.DefaultPortSSL
		}
	}
	if cfg.Username != "" && cfg.TLS == NoTLS {
		return nil, errors.New("email: a username is set but tls is none: the password would cross the network in clear text")
	}
	if cfg.AuthMechanism == "" {
		cfg.AuthMechanism = string(mail.SMTPAuthPlain)
	}
	from, err := parseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("email: from: %w", err)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	return &Client{cfg: cfg, from: from, log: log}, nil
}

func parseAddress(s string) (string, error) {
	m := mail.NewMsg()
	if err := m.From(s); err != nil {
		return "", fmt.Errorf("%q is not an email address", s)
	}
	return s, nil
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)

// Notify sends n. The error names the server and what failed, never the password.
func (c *Client) Notify(ctx context.Context, n Notification) error {
	if len(n.To) == 0 {
		return errors.New("email: no recipients")
	}
	if n.Subject == "" || n.Text == "" {
		return errors.New("email: subject and text are required")
	}
	if n.ID != "" && !idPattern.MatchString(n.ID) {
		return fmt.Errorf("email: id %q: use 1-128 of A-Z a-z 0-9 . _ -", n.ID)
	}
	m := mail.NewMsg()
	if err := m.From(c.from); err != nil {
		return fmt.Errorf("email: from: %w", err)
	}
	if err := m.To(n.To...); err != nil {
		return fmt.Errorf("email: recipients: %w", err)
	}
	m.Subject(n.Subject)
	if n.ID != "" {
		m.SetMessageIDWithValue(n.ID + "@accessbot")
	} else {
		m.SetMessageID()
	}
	m.SetDate()
	m.SetBodyString(mail.TypeTextPlain, n.Text)
	if n.HTML != "" {
		m.AddAlternativeString(mail.TypeTextHTML, n.HTML)
	}

	client, err := c.client()
	if err != nil {
		return err
	}
	addr := fmt.Sprintf("%s:%d", c.cfg.Host, c.cfg.Port)
	start := time.Now()
	err = client.DialAndSendWithContext(ctx, m)
	ev := c.log.Info().Str("smtp", addr).Int("recipients", len(n.To)).Str("message_id", m.GetMessageID()).Dur("took", time.Since(start))
	if err != nil {
		err = c.explain(err)
		ev.Err(err).Msg("email not sent")
		return fmt.Errorf("email: send via %s: %w", addr, err)
	}
	ev.Msg("email sent")
	return nil
}

func (c *Client) client() (*mail.Client, error) {
	opts := []mail.Option{
		mail.WithPort(c.cfg.Port),
		mail.WithTimeout(c.cfg.Timeout),
		mail.WithTLSConfig(&tls.Config{ServerName: c.cfg.Host, RootCAs: c.cfg.RootCAs, MinVersion: tls.VersionTLS12}),
	}
	switch c.cfg.TLS {
	case StartTLS:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	case ImplicitTLS:
		opts = append(opts, mail.WithSSL())
	case NoTLS:
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	}
	if dial := c.cfg.Dial; dial != nil {
		tlsCfg := &tls.Config{ServerName: c.cfg.Host, RootCAs: c.cfg.RootCAs, MinVersion: tls.VersionTLS12}
		implicit := c.cfg.TLS == ImplicitTLS
		opts = append(opts, mail.WithDialContextFunc(func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := dial(ctx, network, addr)
			if err != nil || !implicit {
				return conn, err
			}
			// go-mail wraps TLS itself only around its own dialer.
			tc := tls.Client(conn, tlsCfg)
			if err := tc.HandshakeContext(ctx); err != nil {
				conn.Close()
				return nil, fmt.Errorf("TLS handshake: %w", err)
			}
			return tc, nil
		}))
	}
	if c.cfg.HELO != "" {
		opts = append(opts, mail.WithHELO(c.cfg.HELO))
	}
	if c.cfg.Username != "" {
		opts = append(opts,
			mail.WithSMTPAuth(mail.SMTPAuthType(strings.ToUpper(c.cfg.AuthMechanism))),
			mail.WithUsername(c.cfg.Username),
			mail.WithPassword(c.cfg.Password.Reveal()))
	}
	cl, err := mail.NewClient(c.cfg.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("email: configure SMTP client: %w", err)
	}
	return cl, nil
}

// explain turns the server's refusal of AUTH into ErrAuth and makes sure
// the password (or its base64, as AUTH PLAIN sends it) is not in the text.
func (c *Client) explain(err error) error {
	var tp *textproto.Error
	if errors.As(err, &tp) && (tp.Code == 535 || tp.Code == 534) {
		return fmt.Errorf("%w (user %s; server said %d %s)", ErrAuth, c.cfg.Username, tp.Code, redact(tp.Msg, c.cfg.Password))
	}
	if s := redact(err.Error(), c.cfg.Password); s != err.Error() {
		return errors.New(s) // the cause's text held the password: keep only the scrubbed text
	}
	return err
}

func redact(s string, pw secrets.Secret) string {
	if v := pw.Reveal(); v != "" {
		s = strings.ReplaceAll(s, v, secrets.Redacted)
	}
	return s
}
