// Package webhook delivers the `{provider}_webhook_{endpoint}` action-chain
// scripts: a JSON POST with an optional bearer token and Standard Webhooks
// signature headers, sent through the outbound client.
//
// One call is one attempt. Retries belong to the durable job that runs the
// step: it sends the same Message (same ID) again, after the delay a
// *DeliveryError suggests, and the receiver drops duplicates by webhook-id.
package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot/internal/secrets"
)

// Sender is the capability the webhook scripts need. Flows declare their own
// copy where they consume it; this one keeps the implementation's shape checked.
type Sender interface {
	Send(ctx context.Context, ep Endpoint, msg Message) (Result, error)
}

var _ Sender = (*Client)(nil)

// Doer is what Client needs from an HTTP client: *outbound.Client in production.
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// Endpoint is one configured receiver (the {endpoint} of a script name).
type Endpoint struct {
	Name   string
	URL    string
	Bearer secrets.Secret // optional: sent as Authorization: Bearer
	// SigningSecrets are "whsec_..." secrets, current first. Several sign
	// at once during a rotation. None means unsigned.
	SigningSecrets []secrets.Secret
}

// Message is one event. ID must be stable for the event (see MessageID).
type Message struct {
	ID        string
	Type      string    // e.g. "access.granted"
	Timestamp time.Time // when the event happened; fixed across retries
	Data      any       // JSON-encoded as "data"
}

// Result is a delivery the receiver accepted (2xx).
type Result struct {
	ID     string
	Status int
	Detail string // start of the answer's body, secrets removed
	// BodyErr is why the rest of the answer could not be read (over the
	// outbound client's size cap, cut off); nil when it was read to its end.
	BodyErr error
}

// DeliveryError is a delivery the receiver did not accept, or that failed on
// the way. Retryable says whether sending the same Message again may work.
type DeliveryError struct {
	Endpoint   string
	Status     int           // 0 when no answer came
	RetryAfter time.Duration // from Retry-After, 0 when absent
	Retryable  bool
	Detail     string // start of the answer's body, secrets removed
	Err        error  // the transport error, when no answer came
}

func (e *DeliveryError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "webhook %s: ", e.Endpoint)
	if e.Status == 0 {
		fmt.Fprintf(&b, "delivery failed: %v", e.Err)
	} else {
		fmt.Fprintf(&b, "receiver answered HTTP %d", e.Status)
		if e.Detail != "" {
			fmt.Fprintf(&b, ": %s", e.Detail)
		}
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	return b.String()
}

func (e *DeliveryError) Unwrap() error { return e.Err }

// Client sends webhooks. Safe for concurrent use.
type Client struct {
	http Doer
	log  zerolog.Logger
	now  func() time.Time
}

// New builds a Client over hc (an *outbound.Client in production).
func New(hc Doer, log zerolog.Logger) *Client {
	return &Client{http: hc, log: log, now: time.Now}
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

const detailLimit = 200

// Send makes one delivery attempt.
func (c *Client) Send(ctx context.Context, ep Endpoint, msg Message) (Result, error) {
	// The id is part of the signed content "id.timestamp.body": a "." in it
	// would make two different messages sign the same bytes.
	if !idPattern.MatchString(msg.ID) {
		return Result{}, fmt.Errorf("webhook %s: message id %q must be 1-128 of A-Z a-z 0-9 _ -", ep.Name, msg.ID)
	}
	u, err := url.Parse(ep.URL)
	if err != nil || u.Host == "" {
		return Result{}, fmt.Errorf("webhook %s: invalid URL", ep.Name)
	}
	body, err := json.Marshal(struct {
		Type      string `json:"type"`
		Timestamp string `json:"timestamp"`
		Data      any    `json:"data"`
	}{msg.Type, msg.Timestamp.UTC().Format(time.RFC3339Nano), msg.Data})
	if err != nil {
		return Result{}, fmt.Errorf("webhook %s: encode message %s: %w", ep.Name, msg.ID, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(body))
	if err != nil {
		return Result{}, fmt.Errorf("webhook %s: build request: %w", ep.Name, scrub(err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderID, msg.ID)
	now := c.now()
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	if len(ep.SigningSecrets) > 0 {
		signer, err := NewSigner(ep.SigningSecrets...)
		if err != nil {
			return Result{}, fmt.Errorf("webhook %s: %w", ep.Name, err)
		}
		req.Header.Set(HeaderSignature, signer.Sign(msg.ID, now, body))
	}
	if ep.Bearer.IsSet() {
		req.Header.Set("Authorization", "Bearer "+ep.Bearer.Reveal())
	}

	start := time.Now()
	resp, err := c.http.Do(req)
	ev := c.log.Info().Str("webhook", ep.Name).Str("host", u.Host).Str("webhook_id", msg.ID).Dur("took", time.Since(start))
	if err != nil {
		err = scrub(err)
		derr := &DeliveryError{Endpoint: ep.Name, Err: err, Retryable: ctx.Err() == nil}
		ev.Err(err).Msg("webhook delivery failed")
		return Result{}, derr
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, detailLimit))
	_, bodyErr := io.Copy(io.Discard, resp.Body) // lets the connection be reused (the body is capped)
	ev = ev.Int("status", resp.StatusCode)
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if bodyErr != nil {
			bodyErr = scrub(bodyErr)
			ev = ev.AnErr("body_error", bodyErr)
		}
		ev.Msg("webhook delivered")
		return Result{ID: msg.ID, Status: resp.StatusCode, Detail: redact(strings.TrimSpace(strings.ToValidUTF8(string(snippet), "")), ep), BodyErr: bodyErr}, nil
	}
	derr := &DeliveryError{
		Endpoint:   ep.Name,
		Status:     resp.StatusCode,
		RetryAfter: retryAfter(resp.Header.Get("Retry-After"), now),
		Retryable:  resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout,
		Detail:     redact(strings.TrimSpace(strings.ToValidUTF8(string(snippet), "")), ep),
	}
	ev.Bool("retryable", derr.Retryable).Msg("webhook refused")
	return Result{}, derr
}

func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// redact removes the endpoint's secrets from text that came from outside
// (a receiver may echo our headers back in an error page).
func redact(s string, ep Endpoint) string {
	for _, sec := range append([]secrets.Secret{ep.Bearer}, ep.SigningSecrets...) {
		if v := sec.Reveal(); len(v) >= 4 {
			s = strings.ReplaceAll(s, v, secrets.Redacted)
		}
	}
	return s
}

// scrub drops the URL's query and user info from transport errors: a
// customer's URL may carry a token there.
func scrub(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			u.User, u.RawQuery, u.Fragment = nil, "", ""
			ue.URL = u.String()
		}
	}
	return err
}
