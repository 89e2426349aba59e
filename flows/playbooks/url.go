package playbooks

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
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
