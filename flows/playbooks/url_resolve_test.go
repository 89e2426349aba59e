package playbooks_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/accessbot/accessbot/flows/playbooks"
)

// stubDNS answers from a map; a name not in it does not resolve.
type stubDNS map[string][]string

func (s stubDNS) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, a := range s[host] {
		out = append(out, netip.MustParseAddr(a))
	}
	if len(out) == 0 {
		return nil, errors.New("no such host")
	}
	return out, nil
}

func TestCheckResolved(t *testing.T) {
	dns := stubDNS{
		"internal.example.com": {"10.1.2.3"},
		"meta.example.com":     {"169.254.169.254"},
		"mixed.example.com":    {"10.1.2.3", "93.184.215.14"},
		"hooks.example.com":    {"93.184.215.14"},
		"v6.example.com":       {"::1"},
	}
	for _, tc := range []struct {
		url   string
		allow []string
		want  string // "" for accepted
	}{
		{"https://internal.example.com/hook", nil, "resolves to 10.1.2.3"},
		{"https://meta.example.com/", nil, "resolves to 169.254.169.254"},
		{"https://v6.example.com/", nil, "resolves to ::1"},
		{"https://internal.example.com/hook", []string{"10.0.0.0/8"}, ""},
		{"https://internal.example.com/hook", []string{"internal.example.com"}, ""},
		{"https://mixed.example.com/", nil, ""}, // the dial-time check decides
		{"https://hooks.example.com/", nil, ""},
		{"https://gone.example.com/", nil, ""}, // not resolvable now: the delivery says so
		{"https://10.1.2.3/", nil, ""},         // a literal: CheckURL's job
	} {
		err := playbooks.CheckResolved(context.Background(), tc.url, tc.allow, dns)
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("CheckResolved(%s, %v) = %v; want %q", tc.url, tc.allow, err, tc.want)
		}
	}
}
