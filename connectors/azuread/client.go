// Package azuread is the Microsoft Entra ID (Azure AD) connector: it reads
// users, groups, directory roles and their members from Microsoft Graph
// v1.0 (delta queries, $batch) for the inventory sync, and carries out the
// azuread_api_* provisioning scripts (create, disable and delete a user;
// add and remove group and directory-role members; create and delete a
// group).
//
// It speaks plain Graph JSON over the outbound client (address rules, size
// caps) and takes app-only tokens with golang.org/x/oauth2/clientcredentials;
// msgraph-sdk-go was measured and left out (BENCHMARKS.md). The authority
// and Graph URLs are configurable so tests point them at graphfake.
package azuread

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
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/accessbot/accessbot/connectors/apiconn"
	"github.com/accessbot/accessbot/internal/secrets"
)

// Defaults for Config's URLs.
const (
	DefaultAuthorityURL = "https://login.microsoftonline.com"
	DefaultGraphURL     = "https://graph.microsoft.com/v1.0"
	graphScope          = "https://graph.microsoft.com/.default"
)

// Config is one Entra ID tenant reached through one app registration.
type Config struct {
	TenantID     string // Directory (tenant) ID
	ClientID     string // Application (client) ID
	ClientSecret secrets.Secret
	AuthorityURL string // "" means DefaultAuthorityURL
	GraphURL     string // "" means DefaultGraphURL; no trailing slash
}

// Check says what is missing or malformed, naming the field.
func (c Config) Check() error {
	var miss []string
	if strings.TrimSpace(c.TenantID) == "" {
		miss = append(miss, "tenant_id")
	}
	if strings.TrimSpace(c.ClientID) == "" {
		miss = append(miss, "client_id")
	}
	if !c.ClientSecret.IsSet() {
		miss = append(miss, "client_secret")
	}
	if len(miss) > 0 {
		return fmt.Errorf("azuread: %s required", strings.Join(miss, ", "))
	}
	for name, u := range map[string]string{"authority_url": c.AuthorityURL, "graph_url": c.GraphURL} {
		if u == "" {
			continue
		}
		p, err := url.Parse(u)
		if err != nil || p.Host == "" || (p.Scheme != "https" && p.Scheme != "http") {
			return fmt.Errorf("azuread: %s %q: want an absolute http(s) URL", name, u)
		}
	}
	return nil
}

// Client is safe for concurrent use.
type Client struct {
	hc    *http.Client
	graph string   // base URL, no trailing slash
	root  *url.URL // scheme and host every followed link must keep
	ts    oauth2.TokenSource
	cfg   Config
	log   zerolog.Logger
	retry apiconn.Retry // 429, 503 and 504, 5 tries; tests replace its Sleep
}

// New builds a Client. hc should be an outbound client's *http.Client with
// a response cap that fits a page of 999 users (a few MiB).
func New(cfg Config, hc *http.Client, log zerolog.Logger) (*Client, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	if cfg.AuthorityURL == "" {
		cfg.AuthorityURL = DefaultAuthorityURL
	}
	if cfg.GraphURL == "" {
		cfg.GraphURL = DefaultGraphURL
	}
	graph := strings.TrimRight(cfg.GraphURL, "/")
	root, err := url.Parse(graph)
	if err != nil {
		return nil, fmt.Errorf("azuread: graph_url: %w", err)
	}
	cc := clientcredentials.Config{
		ClientID:     cfg.ClientID,
		ClientSecret: cfg.ClientSecret.Reveal(),
		TokenURL:     strings.TrimRight(cfg.AuthorityURL, "/") + "/" + url.PathEscape(cfg.TenantID) + "/oauth2/v2.0/token",
		Scopes:       []string{graphScope},
		AuthStyle:    oauth2.AuthStyleInParams,
	}
	// The token source outlives any one call: it gets its own context,
	// carrying the outbound client so the authority is reached under the
	// same rules. clientcredentials caches the token until shortly before
	// it expires.
	tctx := context.WithValue(context.Background(), oauth2.HTTPClient, hc)
	return &Client{
		hc: hc, graph: graph, root: root, ts: cc.TokenSource(tctx), cfg: cfg, log: log,
		retry: apiconn.Retry{Attempts: 5, Statuses: []int{http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusGatewayTimeout},
			Answer: answer, Interrupted: func(op string, err error) error { return &Error{Op: op, Err: err} },
			Sleep: apiconn.SleepCtx, Log: log, Msg: "graph throttled; waiting"},
	}, nil
}

// answer is what a failed call's error says of Graph's answer.
func answer(err error) (int, time.Duration) {
	var ge *Error
	if !errors.As(err, &ge) {
		return 0, 0
	}
	return ge.Status, ge.RetryAfter
}

// Error is a refusal or failure from Graph or the token endpoint. Its text
// names what was being done and carries Graph's code and request-id, which
// is what a Microsoft admin asks for; never the secret or the token.
type Error struct {
	Op         string // "add user 7f3… to group Sales (1c2…)"
	Status     int    // 0 when no answer came
	Code       string // Graph's error.code, e.g. "Request_ResourceNotFound"
	Message    string
	RequestID  string
	RetryAfter time.Duration
	Err        error // transport error, when Status is 0
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "azuread: %s: ", e.Op)
	if e.Status == 0 {
		fmt.Fprintf(&b, "%v", e.Err)
		return b.String()
	}
	fmt.Fprintf(&b, "HTTP %d", e.Status)
	if e.Code != "" {
		fmt.Fprintf(&b, " %s", e.Code)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, " (request-id %s)", e.RequestID)
	}
	if e.Status == http.StatusForbidden && e.Code == "Authorization_RequestDenied" {
		// Nearly always a Graph application permission not granted (or
		// not consented): say where to look.
		b.WriteString("; the app registration lacks a Microsoft Graph application permission or its admin consent: accessbot connectors test APP lists what is missing")
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Retryable reports whether trying again later may work.
func (e *Error) Retryable() bool { return apiconn.Retryable(e.Status, e.Err) }

// IsNotFound reports a 404 (the object, or the membership, is not there).
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

// isAlreadyExists is Graph's 400 for adding a reference that is already
// there ("One or more added object references already exist ...").
func isAlreadyExists(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusBadRequest && strings.Contains(e.Message, "already exist")
}

// IsSyncStateNotFound reports an expired or unknown delta token: the cure
// is a full resync. Graph answers 400 (directory objects, after 7 days) or
// 410, with syncStateNotFound, syncStateInvalid or resyncRequired, the
// case of the code varying between services.
func IsSyncStateNotFound(err error) bool {
	var e *Error
	if !errors.As(err, &e) || (e.Status != http.StatusBadRequest && e.Status != http.StatusGone) {
		return false
	}
	switch strings.ToLower(e.Code) {
	case "syncstatenotfound", "syncstateinvalid", "resyncrequired":
		return true
	}
	return false
}

type graphErrorBody struct {
	Error struct {
		Code       string `json:"code"`
		Message    string `json:"message"`
		InnerError struct {
			RequestID string `json:"request-id"`
		} `json:"innerError"`
	} `json:"error"`
}

// token returns a bearer token, or an *Error naming the app and the
// authority's answer (AADSTS codes are in its description).
func (c *Client) token(ctx context.Context) (string, error) {
	tok, err := c.ts.Token()
	if err == nil {
		return tok.AccessToken, nil
	}
	e := &Error{Op: fmt.Sprintf("get a token for app %s in directory %s", c.cfg.ClientID, c.cfg.TenantID), Err: err}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		e.Err = nil
		e.Code = re.ErrorCode
		e.Message = strings.SplitN(re.ErrorDescription, "\r\n", 2)[0]
		if re.Response != nil {
			e.Status = re.Response.StatusCode
		}
		if e.Status == 0 {
			e.Status = http.StatusBadRequest
		}
	}
	return "", e
}

// call is one Graph request: path is relative to the Graph base URL, or an
// absolute @odata link (which must stay on the Graph host). It retries 429,
// 503 and 504 after Retry-After (or a doubling backoff), up to 5 tries,
// and decodes a 2xx JSON answer into out when out is not nil.
func (c *Client) call(ctx context.Context, op, method, path string, in, out any) error {
	u, err := c.resolve(path)
	if err != nil {
		return &Error{Op: op, Err: err}
	}
	var body []byte
	if in != nil {
		if body, err = json.Marshal(in); err != nil {
			return &Error{Op: op, Err: fmt.Errorf("encode request: %w", err)}
		}
	}
	return c.retry.Do(ctx, op, func() error { return c.once(ctx, op, method, u, body, out) })
}

func (c *Client) resolve(path string) (string, error) {
	if !strings.HasPrefix(path, "http://") && !strings.HasPrefix(path, "https://") {
		return c.graph + path, nil
	}
	u, err := url.Parse(path)
	if err != nil {
		return "", fmt.Errorf("link %q: %w", path, err)
	}
	// A link from an answer must not carry the token anywhere else.
	if u.Scheme != c.root.Scheme || u.Host != c.root.Host {
		return "", fmt.Errorf("link %q leaves the Graph host %s", path, c.root.Host)
	}
	return path, nil
}

func (c *Client) once(ctx context.Context, op, method, u string, body []byte, out any) error {
	tok, err := c.token(ctx)
	if err != nil {
		return err
	}
	a, err := apiconn.Send(ctx, c.hc, apiconn.Request{Method: method, URL: u, Token: tok,
		Accept: "application/json", ContentType: "application/json", Body: body}, out)
	if err != nil {
		return &Error{Op: op, Err: err}
	}
	if a == nil {
		return nil
	}
	return graphError(op, a)
}

// graphError is the *Error of Graph's answer a to op.
func graphError(op string, a *apiconn.Answer) *Error {
	e := &Error{Op: op, Status: a.Status, RetryAfter: apiconn.RetryAfter(a.Header.Get("Retry-After")), RequestID: a.Header.Get("request-id")}
	var ge graphErrorBody
	if json.Unmarshal(a.Body, &ge) == nil && ge.Error.Code != "" {
		e.Code, e.Message = ge.Error.Code, ge.Error.Message
		if ge.Error.InnerError.RequestID != "" {
			e.RequestID = ge.Error.InnerError.RequestID
		}
	} else {
		e.Message = a.Text()
	}
	return e
}
