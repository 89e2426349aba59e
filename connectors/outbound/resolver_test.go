package outbound

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// fakeDNS answers A queries from a map over real DNS on UDP, so the
// dialer's own resolver is what turns names into addresses.
func fakeDNS(t *testing.T, records map[string]netip.Addr) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var p dnsmessage.Parser
			h, err := p.Start(buf[:n])
			if err != nil {
				continue
			}
			q, err := p.Question()
			if err != nil {
				continue
			}
			b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true})
			b.EnableCompression()
			b.StartQuestions()
			b.Question(q)
			b.StartAnswers()
			name := strings.TrimSuffix(strings.ToLower(q.Name.String()), ".")
			if a, ok := records[name]; ok && q.Type == dnsmessage.TypeA {
				b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 1}, dnsmessage.AResource{A: a.As4()})
			}
			msg, err := b.Finish()
			if err == nil {
				pc.WriteTo(msg, from)
			}
		}
	}()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", pc.LocalAddr().String())
	}}
}

// Public-looking names that resolve to private addresses are refused: the
// check is on the address dialled, not on the name.
func TestNamesResolvingToPrivateAddresses(t *testing.T) {
	t.Parallel()
	srv, hits := countingTLSServer(t) // its certificate covers *.example.com
	roots := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	port := itoa(srv.Listener.Addr().(*net.TCPAddr).Port)
	res := fakeDNS(t, map[string]netip.Addr{
		"hooks.example.com":      netip.MustParseAddr("10.0.0.5"),
		"meta.example.com":       netip.MustParseAddr("169.254.169.254"),
		"svc.example.com":        netip.MustParseAddr("127.0.0.1"),
		"corp-hooks.example.com": netip.MustParseAddr("127.0.0.1"),
	})
	for _, tc := range []struct {
		name    string
		allow   []string
		url     string
		blocked bool
	}{
		{"name to rfc1918", nil, "https://hooks.example.com/", true},
		{"name to metadata", nil, "https://meta.example.com/latest/meta-data/", true},
		{"name to loopback", nil, "https://svc.example.com:" + port + "/", true},
		{"name to loopback, address allow-listed", []string{"127.0.0.1/32"}, "https://svc.example.com:" + port + "/", false},
		{"name allow-listed", []string{"corp-hooks.example.com"}, "https://corp-hooks.example.com:" + port + "/", false},
		{"other name allow-listed", []string{"corp-hooks.example.com"}, "https://svc.example.com:" + port + "/", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			al, err := ParseAllowlist(tc.allow)
			if err != nil {
				t.Fatal(err)
			}
			c := New(Options{Allow: al, RootCAs: roots, Resolver: res})
			before := hits.Load()
			resp, err := get(t, c, tc.url)
			if tc.blocked {
				if !errors.Is(err, ErrBlocked) {
					t.Fatalf("err = %v; want ErrBlocked", err)
				}
				if hits.Load() != before {
					t.Fatal("a blocked request reached the server")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if hits.Load() != before+1 {
				t.Fatal("the allowed request did not reach the server")
			}
		})
	}
}
