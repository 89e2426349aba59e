package playbooks

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"

	"code.dny.dev/ssrf"

	"github.com/accessbot/accessbot/connectors/outbound"
)

// MaxURLBytes bounds a playbook's server URL.
const MaxURLBytes = 2048

var guard = ssrf.New(ssrf.WithAnyPort(), ssrf.WithAnyNetwork())

// CheckURL validates a playbook server URL when it is saved: an absolute
// https URL (http only for an allow-listed host), no user info, and not a
// literal private address unless allow-listed. Names are not resolved
// here: every delivery checks the address it actually dials (outbound).
func CheckURL(raw string, allow []string) error {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return errors.New("a server URL is required")
	}
	if len(raw) > MaxURLBytes {
		return fmt.Errorf("the URL is longer than %d characters", MaxURLBytes)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Hostname() == "" {
		return errors.New("not an absolute URL such as https://hooks.example.com/accessbot")
	}
	if u.User != nil {
		return errors.New("put credentials in the auth token, not in the URL")
	}
	al, err := outbound.ParseAllowlist(allow)
	if err != nil {
		return fmt.Errorf("the tenant's outbound allow-list: %w", err)
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	ip, ipErr := netip.ParseAddr(host)
	allowed := false
	for _, h := range al.Hosts {
		allowed = allowed || h == host
	}
	if ipErr == nil {
		ip = ip.Unmap()
		for _, p := range al.CIDRs {
			allowed = allowed || p.Contains(ip)
		}
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !allowed {
			return errors.New("only https URLs are allowed, unless the tenant's outbound allow-list names the host")
		}
	default:
		return fmt.Errorf("scheme %q: want https", u.Scheme)
	}
	if ipErr == nil && !allowed {
		if err := guard.SafeAddr(ip); err != nil {
			return fmt.Errorf("%s is a private or otherwise non-public address; the tenant's outbound allow-list must name it first", ip)
		}
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		if !allowed {
			return errors.New("localhost is not reachable from accessbot's point of view unless the tenant's outbound allow-list names it")
		}
	}
	return nil
}

// Lookuper resolves names; *net.Resolver is one.
type Lookuper interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// CheckResolved is CheckURL's early word on a host name: when the name
// resolves only to non-public addresses that the allow-list does not
// name, saving is refused at once rather than at the first delivery. A
// lookup that fails passes (the name may not exist yet): every delivery
// still checks the address it dials.
func CheckResolved(ctx context.Context, raw string, allow []string, r Lookuper) error {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || r == nil {
		return nil // CheckURL's to say
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if _, err := netip.ParseAddr(host); err == nil || host == "" {
		return nil // a literal address: CheckURL checked it
	}
	al, err := outbound.ParseAllowlist(allow)
	if err != nil {
		return nil
	}
	if slices.Contains(al.Hosts, host) {
		return nil
	}
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		return nil
	}
	for _, ip := range addrs {
		ip = ip.Unmap()
		listed := false
		for _, p := range al.CIDRs {
			listed = listed || p.Contains(ip)
		}
		if listed || guard.SafeAddr(ip) == nil {
			return nil // one usable address: the dial-time check decides
		}
	}
	return fmt.Errorf("the name %s resolves to %s, a private or otherwise non-public address; the tenant's outbound allow-list must name it first", host, addrs[0].Unmap())
}
