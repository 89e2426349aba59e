// Package outbound is the one HTTP client for every URL a customer gives
// accessbot (webhooks, self-hosted GitLab, ...). It refuses, at dial time,
// every address that is not public unicast unless the tenant allow-lists it,
// speaks https only (unless the host is allow-listed), bounds time and
// response size, and re-checks every redirect hop the same way.
package outbound

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"time"

	"code.dny.dev/ssrf"
)

// Defaults used when Options leaves a field zero.
const (
	DefaultUserAgent        = "accessbot-connector/1"
	DefaultTimeout          = 30 * time.Second
	DefaultDialTimeout      = 5 * time.Second
	DefaultMaxResponseBytes = 1 << 20 // 1 MiB: answers we parse are small JSON
	DefaultMaxRedirects     = 3
)

var (
	// ErrBlocked means the destination address is not public and not allow-listed.
	ErrBlocked = errors.New("destination address is blocked (private, loopback, link-local or other non-public range); allow-list it for this tenant if it is intended")
	// ErrInsecureScheme means a plain-http URL whose host is not allow-listed.
	ErrInsecureScheme = errors.New("only https URLs are allowed unless the host is allow-listed")
	// ErrResponseTooLarge means the answer exceeded Options.MaxResponseBytes.
	ErrResponseTooLarge = errors.New("response body is larger than the allowed maximum")
	// ErrTooManyRedirects means the redirect chain exceeded Options.MaxRedirects.
	ErrTooManyRedirects = errors.New("too many redirects")
)

// Allowlist is what a tenant permits beyond public unicast addresses.
// A host entry permits whatever address that name resolves to, and http for it.
type Allowlist struct {
	CIDRs []netip.Prefix
	Hosts []string // lower-case DNS names, matched exactly
}

// ParseAllowlist reads tenant entries: a CIDR ("10.0.0.0/8"), an IP ("10.1.2.3",
// "::1") or a host name ("hooks.corp.internal").
func ParseAllowlist(entries []string) (Allowlist, error) {
	var a Allowlist
	for i, e := range entries {
		e = strings.TrimSpace(e)
		switch {
		case e == "":
			return Allowlist{}, fmt.Errorf("allow-list entry %d is empty", i+1)
		case strings.Contains(e, "/"):
			p, err := netip.ParsePrefix(e)
			if err != nil {
				return Allowlist{}, fmt.Errorf("allow-list entry %d %q: not a CIDR: %w", i+1, e, err)
			}
			a.CIDRs = append(a.CIDRs, p.Masked())
		default:
			if ip, err := netip.ParseAddr(strings.Trim(e, "[]")); err == nil {
				ip = ip.Unmap()
				a.CIDRs = append(a.CIDRs, netip.PrefixFrom(ip, ip.BitLen()))
				continue
			}
			if strings.ContainsAny(e, ":@ ") {
				return Allowlist{}, fmt.Errorf("allow-list entry %d %q: want a CIDR, an IP or a host name", i+1, e)
			}
			a.Hosts = append(a.Hosts, strings.ToLower(strings.TrimSuffix(e, ".")))
		}
	}
	return a, nil
}

func (a Allowlist) hostAllowed(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, h := range a.Hosts {
		if h == host {
			return true
		}
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return a.addrAllowed(ip)
	}
	return false
}

func (a Allowlist) addrAllowed(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range a.CIDRs {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Options configure a Client. Zero values take the defaults above.
type Options struct {
	Allow            Allowlist
	UserAgent        string
	Timeout          time.Duration // whole exchange, body included
	DialTimeout      time.Duration
	MaxResponseBytes int64
	MaxRedirects     int // 0 means DefaultMaxRedirects; negative means none followed
	// RootCAs replaces the system roots (tests trust their httptest CA with it).
	RootCAs *x509.CertPool
	// Resolver replaces the default DNS resolver (tests point names at chosen addresses).
	Resolver *net.Resolver
}

// Client is safe for concurrent use. It owns its connection pool, so one
// Client serves one allow-list: a pooled connection is reused without a new
// dial check, and must never serve a tenant with a narrower list.
type Client struct {
	hc   *http.Client
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// New builds a Client.
func New(o Options) *Client {
	if o.UserAgent == "" {
		o.UserAgent = DefaultUserAgent
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	if o.MaxResponseBytes <= 0 {
		o.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if o.MaxRedirects == 0 {
		o.MaxRedirects = DefaultMaxRedirects
	}
	// The ssrf Guardian holds the IANA special-purpose ranges (IPv4) and
	// everything outside 2000::/3 plus special ranges inside it (IPv6). We call
	// SafeAddr ourselves so ports and allow-listed host names stay our policy.
	guard := ssrf.New(ssrf.WithAnyPort(), ssrf.WithAnyNetwork())
	dialer := &net.Dialer{
		Timeout:   o.DialTimeout,
		KeepAlive: 30 * time.Second,
		Resolver:  o.Resolver,
		ControlContext: func(ctx context.Context, network, address string, _ syscall.RawConn) error {
			return checkDial(ctx, guard, o.Allow, network, address)
		},
	}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		if host, _, err := net.SplitHostPort(addr); err == nil && o.Allow.hostAllowed(host) {
			ctx = context.WithValue(ctx, hostAllowedKey{}, true)
		}
		return dialer.DialContext(ctx, network, addr)
	}
	tr := &http.Transport{
		Proxy:                 nil, // a proxy would be what gets dial-checked, not the customer's host
		DialContext:           dial,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: o.RootCAs},
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   o.DialTimeout,
		ResponseHeaderTimeout: o.Timeout,
		ExpectContinueTimeout: time.Second,
		MaxIdleConns:          50,
		IdleConnTimeout:       90 * time.Second,
	}
	maxRedirects := o.MaxRedirects
	return &Client{dial: dial, hc: &http.Client{
		Timeout:   o.Timeout,
		Transport: &guardTransport{base: tr, allow: o.Allow, ua: o.UserAgent, max: o.MaxResponseBytes},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if maxRedirects < 0 || len(via) > maxRedirects {
				return fmt.Errorf("%w (limit %d)", ErrTooManyRedirects, max(maxRedirects, 0))
			}
			return nil // each hop goes through guardTransport and the dial check again
		},
	}}
}

// Do sends req. The response body stops with ErrResponseTooLarge past the cap.
func (c *Client) Do(req *http.Request) (*http.Response, error) {
	return c.hc.Do(req)
}

// DialContext opens a TCP connection under the same address rules (for
// protocols other than HTTP, such as SMTP): a name that resolves to a
// blocked address is refused at dial time unless allow-listed.
func (c *Client) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return c.dial(ctx, network, addr)
}

// HTTPClient is the same client for libraries that take an *http.Client
// (the GitLab API client, for one). Every rule still applies.
func (c *Client) HTTPClient() *http.Client { return c.hc }

type hostAllowedKey struct{}

func checkDial(ctx context.Context, guard *ssrf.Guardian, allow Allowlist, network, address string) error {
	if !strings.HasPrefix(network, "tcp") {
		return fmt.Errorf("%w: network %s", ErrBlocked, network)
	}
	if ok, _ := ctx.Value(hostAllowedKey{}).(bool); ok {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot parse %q: %v", ErrBlocked, address, err)
	}
	return checkAddr(guard, allow, ap.Addr())
}

// checkAddr unmaps IPv4-mapped IPv6 first, so ::ffff:10.0.0.1 is judged (and
// allow-listed) as 10.0.0.1.
func checkAddr(guard *ssrf.Guardian, allow Allowlist, ip netip.Addr) error {
	ip = ip.Unmap().WithZone("")
	if allow.addrAllowed(ip) {
		return nil
	}
	if err := guard.SafeAddr(ip); err != nil {
		return fmt.Errorf("%w: %s", ErrBlocked, ip)
	}
	return nil
}

// guardTransport enforces what the dialer cannot see: the scheme, the
// User-Agent and the size of the answer. It runs for every redirect hop.
type guardTransport struct {
	base  http.RoundTripper
	allow Allowlist
	ua    string
	max   int64
}

func (t *guardTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	switch req.URL.Scheme {
	case "https":
	case "http":
		if !t.allow.hostAllowed(req.URL.Hostname()) {
			closeBody(req)
			return nil, fmt.Errorf("%w: %s", ErrInsecureScheme, req.URL.Host)
		}
	default:
		closeBody(req)
		return nil, fmt.Errorf("%w: scheme %q", ErrInsecureScheme, req.URL.Scheme)
	}
	if req.Header.Get("User-Agent") == "" {
		req = req.Clone(req.Context())
		req.Header.Set("User-Agent", t.ua)
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if resp.ContentLength > t.max {
		resp.Body.Close()
		return nil, fmt.Errorf("%w: %d bytes announced, limit %d", ErrResponseTooLarge, resp.ContentLength, t.max)
	}
	resp.Body = &capBody{rc: resp.Body, left: t.max}
	return resp, nil
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// capBody reads at most left bytes, then fails rather than truncating
// silently: half a JSON document must not parse as a smaller one.
type capBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *capBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One probe byte tells "exactly at the cap" from "over it".
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			return 0, ErrResponseTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *capBody) Close() error { return b.rc.Close() }
