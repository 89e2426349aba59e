// Package scim is the SCIM 2.0 connector (RFC 7643 resources, RFC 7644
// protocol) for any application that serves SCIM: it reads /Users and
// /Groups with startIndex/count paging for the inventory sync, and carries
// out the scim_api_* provisioning scripts (create a user, deactivate one
// with PATCH active=false, delete one, create and delete a group, add and
// remove group members with PATCH operations) with a bearer token.
//
// It speaks plain SCIM JSON over the outbound client. No Go SCIM client
// library fits: github.com/elimity-com/scim is a server framework, and
// github.com/grokify/go-scim-client is generated for one vendor's
// (RingCentral's) API; the few calls here are smaller than either.
package scim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot/connectors/apiconn"
	"github.com/accessbot/accessbot/internal/secrets"
)

// The schema URNs of RFC 7643 and 7644.
const (
	SchemaUser   = "urn:ietf:params:scim:schemas:core:2.0:User"
	SchemaGroup  = "urn:ietf:params:scim:schemas:core:2.0:Group"
	SchemaList   = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	SchemaPatch  = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	SchemaError  = "urn:ietf:params:scim:api:messages:2.0:Error"
	SchemaConfig = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
	// MediaType is SCIM's content type (RFC 7644 §3.1).
	MediaType = "application/scim+json"
)

// DefaultPageSize is the count asked for per page.
const DefaultPageSize = 100

// Config is one SCIM service provider.
type Config struct {
	BaseURL  string // e.g. https://app.example.com/scim/v2, no trailing slash needed
	Token    secrets.Secret
	PageSize int // 0 means DefaultPageSize
}

// Check says what is missing or malformed, naming the field.
func (c Config) Check() error {
	var miss []string
	if strings.TrimSpace(c.BaseURL) == "" {
		miss = append(miss, "base_url")
	}
	if !c.Token.IsSet() {
		miss = append(miss, "token")
	}
	if len(miss) > 0 {
		return fmt.Errorf("scim: %s required", strings.Join(miss, ", "))
	}
	p, err := url.Parse(c.BaseURL)
	if err != nil || p.Host == "" || (p.Scheme != "https" && p.Scheme != "http") {
		return fmt.Errorf("scim: base_url %q: want an absolute http(s) URL", c.BaseURL)
	}
	return nil
}

// Client is safe for concurrent use.
type Client struct {
	hc    *http.Client
	base  string
	token secrets.Secret
	page  int
	log   zerolog.Logger
	retry apiconn.Retry // 429 and 503, 4 tries; tests replace its Sleep
}

// New builds a Client; hc should be an outbound client's *http.Client.
func New(cfg Config, hc *http.Client, log zerolog.Logger) (*Client, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = DefaultPageSize
	}
	return &Client{hc: hc, base: strings.TrimRight(cfg.BaseURL, "/"), token: cfg.Token, page: cfg.PageSize, log: log,
		retry: apiconn.Retry{Attempts: 4, Statuses: []int{http.StatusTooManyRequests, http.StatusServiceUnavailable},
			Answer: answer, Interrupted: func(op string, err error) error { return &Error{Op: op, Err: err} },
			Sleep: apiconn.SleepCtx, Log: log, Msg: "scim server busy; waiting"}}, nil
}

// answer is what a failed call's error says of the server's answer.
func answer(err error) (int, time.Duration) {
	var se *Error
	if !errors.As(err, &se) {
		return 0, 0
	}
	return se.Status, se.retry
}

// Error is a refusal or failure from the service provider. Its text names
// what was being done, the HTTP status, the scimType and what it means,
// and the server's detail; never the token.
type Error struct {
	Op       string // "add user alice@example.com to group Sales"
	Status   int    // 0 when no answer came
	ScimType string // RFC 7644 §3.12: uniqueness, invalidValue, mutability, noTarget, ...
	Detail   string
	Err      error // transport error, when Status is 0
	retry    time.Duration
}

// scimTypes explains RFC 7644's scimType values (§3.12, table 9).
var scimTypes = map[string]string{
	"invalidFilter": "the filter syntax is invalid or names an unknown attribute",
	"tooMany":       "the server will not return that many results; narrow the query",
	"uniqueness":    "a value that must be unique is already in use (the object exists already)",
	"mutability":    "the change tries to modify a read-only or immutable attribute",
	"invalidSyntax": "the request body is not valid SCIM",
	"invalidPath":   "the PATCH path is invalid or not supported",
	"noTarget":      "the PATCH path matched nothing (no such value)",
	"invalidValue":  "a required value is missing or a value is not valid",
	"invalidVers":   "the SCIM protocol version is not supported",
	"sensitive":     "the request carried sensitive data in the URL",
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "scim: %s: ", e.Op)
	if e.Status == 0 {
		fmt.Fprintf(&b, "%v", e.Err)
		return b.String()
	}
	fmt.Fprintf(&b, "HTTP %d", e.Status)
	if e.ScimType != "" {
		fmt.Fprintf(&b, " %s", e.ScimType)
		if m := scimTypes[e.ScimType]; m != "" {
			fmt.Fprintf(&b, " (%s)", m)
		}
	} else if m := statusMeaning[e.Status]; m != "" {
		fmt.Fprintf(&b, " (%s)", m)
	}
	if e.Detail != "" {
		fmt.Fprintf(&b, ": %s", e.Detail)
	}
	return b.String()
}

var statusMeaning = map[int]string{
	http.StatusUnauthorized:    "the bearer token was refused: check the connector's token",
	http.StatusForbidden:       "the token may not do this: check its scopes in the application",
	http.StatusNotFound:        "no such resource",
	http.StatusNotImplemented:  "the service provider does not support this operation",
	http.StatusTooManyRequests: "rate limited",
}

func (e *Error) Unwrap() error { return e.Err }

// Retryable reports whether trying again later may work: not for a 501,
// the one 5xx that says the server never will.
func (e *Error) Retryable() bool {
	return e.Status != http.StatusNotImplemented && apiconn.Retryable(e.Status, e.Err)
}

// IsNotFound reports a 404 (no such resource).
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

// IsUniqueness reports a 409 uniqueness: the value is taken already.
func IsUniqueness(err error) bool {
	var e *Error
	return errors.As(err, &e) && (e.Status == http.StatusConflict || e.ScimType == "uniqueness")
}

// IsNoTarget reports a PATCH path that matched nothing.
func IsNoTarget(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.ScimType == "noTarget"
}

type errorBody struct {
	Schemas  []string        `json:"schemas"`
	Status   json.RawMessage `json:"status"` // a string by the RFC; some servers send a number
	ScimType string          `json:"scimType"`
	Detail   string          `json:"detail"`
}

// call is one request: path is relative to the base URL. It retries 429
// and 503 after Retry-After (or a doubling backoff), up to 4 tries,
// and decodes a 2xx JSON answer into out when out is not nil.
func (c *Client) call(ctx context.Context, op, method, path string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return &Error{Op: op, Err: fmt.Errorf("encode request: %w", err)}
		}
	}
	return c.retry.Do(ctx, op, func() error { return c.once(ctx, op, method, c.base+path, body, out) })
}

func (c *Client) once(ctx context.Context, op, method, u string, body []byte, out any) error {
	a, err := apiconn.Send(ctx, c.hc, apiconn.Request{Method: method, URL: u, Token: c.token.Reveal(),
		Accept: MediaType + ", application/json", ContentType: MediaType, Body: body}, out)
	if err != nil {
		return &Error{Op: op, Err: err}
	}
	if a == nil {
		return nil
	}
	e := &Error{Op: op, Status: a.Status, retry: apiconn.RetryAfter(a.Header.Get("Retry-After"))}
	var eb errorBody
	if json.Unmarshal(a.Body, &eb) == nil && (eb.ScimType != "" || eb.Detail != "") {
		e.ScimType, e.Detail = eb.ScimType, eb.Detail
	} else {
		e.Detail = a.Text()
	}
	return e
}

// filterEq is the filter `attr eq "value"`, the value quoted as a JSON
// string (RFC 7644 §3.4.2.2).
func filterEq(attr, value string) string {
	q, _ := json.Marshal(value)
	return attr + " eq " + string(q)
}
