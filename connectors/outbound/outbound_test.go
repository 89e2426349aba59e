package outbound

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"code.dny.dev/ssrf"
)

func get(t *testing.T, c *Client, url string) (*http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c.Do(req)
}

// A counting TLS server on 127.0.0.1: if a blocked request ever reached it,
// hits would show it, so "blocked" cannot pass by some other failure.
func countingTLSServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var hits atomic.Int64
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func TestBlockedDestinations(t *testing.T) {
	t.Parallel()
	srv, hits := countingTLSServer(t)
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	c := New(Options{RootCAs: srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs})

	p := func(s string) string { return strings.ReplaceAll(s, "PORT", itoa(port)) }
	for _, tc := range []struct{ name, url string }{
		{"ipv4 loopback", p("https://127.0.0.1:PORT/")},
		{"ipv6 loopback", p("https://[::1]:PORT/")},
		{"ipv4-mapped ipv6 loopback", p("https://[::ffff:127.0.0.1]:PORT/")},
		{"name resolving to loopback", p("https://localhost:PORT/")},
		{"cloud metadata", "https://169.254.169.254/latest/meta-data/"},
		{"rfc1918 10/8", "https://10.1.2.3/"},
		{"rfc1918 172.16/12", "https://172.20.0.1/"},
		{"rfc1918 192.168/16", "https://192.168.1.1/"},
		{"cgnat 100.64/10", "https://100.64.0.1/"},
		{"unspecified v4", "https://0.0.0.0/"},
		{"multicast v4", "https://224.0.0.1/"},
		{"ipv6 link-local", "https://[fe80::1]/"},
		{"ipv6 unique local", "https://[fd00::1]/"},
		{"ipv6 multicast", "https://[ff02::1]/"},
		{"ipv4-mapped metadata", "https://[::ffff:169.254.169.254]/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := get(t, c, tc.url)
			if err == nil {
				resp.Body.Close()
				t.Fatalf("GET %s succeeded; want blocked", tc.url)
			}
			if !errors.Is(err, ErrBlocked) {
				t.Fatalf("GET %s: err = %v; want ErrBlocked", tc.url, err)
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("test server got %d requests; every one should have been blocked at dial", n)
	}
}

func itoa(i int) string {
	return netip.AddrPortFrom(netip.IPv4Unspecified(), uint16(i)).String()[len("0.0.0.0:"):]
}

func TestAllowlistPermits(t *testing.T) {
	t.Parallel()
	srv, hits := countingTLSServer(t)
	roots := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	port := itoa(srv.Listener.Addr().(*net.TCPAddr).Port)
	// The httptest certificate does not name localhost: the host entry is
	// tried over plain http, which it also permits.
	plain := httptest.NewServer(srv.Config.Handler)
	t.Cleanup(plain.Close)
	plainPort := itoa(plain.Listener.Addr().(*net.TCPAddr).Port)

	for _, tc := range []struct {
		name    string
		allow   []string
		url     string
		blocked bool
	}{
		{"cidr", []string{"127.0.0.0/8"}, "https://127.0.0.1:" + port + "/", false},
		{"single ip", []string{"127.0.0.1"}, "https://127.0.0.1:" + port + "/", false},
		// localhost may resolve to ::1 first; the host entry allows whatever it resolves to
		{"host name", []string{"localhost"}, "http://localhost:" + plainPort + "/", false},
		{"other ip not covered", []string{"127.0.0.2"}, "https://127.0.0.1:" + port + "/", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			al, err := ParseAllowlist(tc.allow)
			if err != nil {
				t.Fatal(err)
			}
			c := New(Options{Allow: al, RootCAs: roots})
			before := hits.Load()
			resp, err := get(t, c, tc.url)
			if tc.blocked {
				if !errors.Is(err, ErrBlocked) {
					t.Fatalf("err = %v; want ErrBlocked", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("GET: %v", err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != "ok" || hits.Load() != before+1 {
				t.Fatalf("body %q, hits %d→%d", b, before, hits.Load())
			}
		})
	}
}

func TestHTTPSOnlyUnlessAllowlisted(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.Header.Get("User-Agent") != DefaultUserAgent {
			t.Errorf("User-Agent %q", r.Header.Get("User-Agent"))
		}
	}))
	t.Cleanup(srv.Close)

	_, err := get(t, New(Options{}), "http://example.com/")
	if !errors.Is(err, ErrInsecureScheme) {
		t.Fatalf("plain http to a public host: err = %v; want ErrInsecureScheme", err)
	}
	_, err = get(t, New(Options{}), "ftp://example.com/")
	if !errors.Is(err, ErrInsecureScheme) {
		t.Fatalf("ftp: err = %v; want ErrInsecureScheme", err)
	}
	al, _ := ParseAllowlist([]string{"127.0.0.1"})
	resp, err := get(t, New(Options{Allow: al}), srv.URL)
	if err != nil {
		t.Fatalf("allow-listed http: %v", err)
	}
	resp.Body.Close()
	if hits.Load() != 1 {
		t.Fatalf("hits = %d", hits.Load())
	}
}

// An allow-listed server (on 127.0.0.2) redirects to an address that is
// not allow-listed (127.0.0.1, where a real server listens): the second hop
// must be refused at dial and never reach it.
func TestRedirectToBlockedAddress(t *testing.T) {
	t.Parallel()
	target, hits := countingTLSServer(t)
	roots := target.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs

	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("cannot listen on 127.0.0.2: %v", err)
	}
	var redirects atomic.Int64
	first := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		redirects.Add(1)
		switch r.URL.Path {
		case "/to-blocked":
			http.Redirect(w, r, target.URL+"/secret", http.StatusFound)
		case "/to-metadata":
			http.Redirect(w, r, "https://169.254.169.254/latest/meta-data/", http.StatusFound)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		}
	}))
	first.Listener.Close()
	first.Listener = ln
	first.Start()
	t.Cleanup(first.Close)

	al, _ := ParseAllowlist([]string{"127.0.0.2"})
	c := New(Options{Allow: al, RootCAs: roots, MaxRedirects: 2})
	for _, path := range []string{"/to-blocked", "/to-metadata"} {
		_, err = get(t, c, first.URL+path)
		if !errors.Is(err, ErrBlocked) {
			t.Fatalf("%s: err = %v; want ErrBlocked", path, err)
		}
	}
	if hits.Load() != 0 {
		t.Fatalf("blocked target got %d requests", hits.Load())
	}
	before := redirects.Load()
	_, err = get(t, c, first.URL+"/loop")
	if !errors.Is(err, ErrTooManyRedirects) {
		t.Fatalf("loop: err = %v; want ErrTooManyRedirects", err)
	}
	if n := redirects.Load() - before; n != 3 { // the first request and 2 followed redirects
		t.Fatalf("loop: %d requests; want 3", n)
	}
}

func TestResponseSizeCap(t *testing.T) {
	t.Parallel()
	const limit = 1024
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := limit
		switch r.URL.Path {
		case "/big-chunked":
			n = 10 * limit
			w.(http.Flusher).Flush() // no Content-Length: the cap must hold while reading
		case "/big-announced":
			n = 10 * limit
			w.Header().Set("Content-Length", itoa(n))
		}
		w.Write([]byte(strings.Repeat("x", n)))
	}))
	t.Cleanup(srv.Close)
	al, _ := ParseAllowlist([]string{"127.0.0.1"})
	c := New(Options{Allow: al, MaxResponseBytes: limit})

	resp, err := get(t, c, srv.URL+"/exact")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || len(b) != limit {
		t.Fatalf("exactly at the cap: %d bytes, err %v", len(b), err)
	}

	resp, err = get(t, c, srv.URL+"/big-chunked")
	if err != nil {
		t.Fatal(err)
	}
	b, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !errors.Is(err, ErrResponseTooLarge) || len(b) > limit {
		t.Fatalf("chunked over the cap: read %d bytes, err %v; want ErrResponseTooLarge", len(b), err)
	}

	_, err = get(t, c, srv.URL+"/big-announced")
	if !errors.Is(err, ErrResponseTooLarge) {
		t.Fatalf("announced over the cap: err %v; want ErrResponseTooLarge", err)
	}
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	al, _ := ParseAllowlist([]string{"127.0.0.1"})
	c := New(Options{Allow: al, Timeout: 200 * time.Millisecond})
	start := time.Now()
	_, err := get(t, c, srv.URL)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("err = %v; want a timeout", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("timed out after %v", d)
	}
}

// The address policy on its own, for public addresses the test cannot dial.
func TestCheckAddr(t *testing.T) {
	t.Parallel()
	guard := ssrf.New(ssrf.WithAnyPort(), ssrf.WithAnyNetwork())
	al, err := ParseAllowlist([]string{"10.20.0.0/16", "fd12::1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		addr    string
		blocked bool
	}{
		{"8.8.8.8", false},
		{"2606:4700:4700::1111", false},
		{"::ffff:8.8.8.8", false},
		{"127.0.0.1", true},
		{"::1", true},
		{"::", true},
		{"0.0.0.0", true},
		{"169.254.169.254", true},
		{"100.127.255.254", true},
		{"255.255.255.255", true},
		{"fe80::1", true},
		{"10.20.3.4", false},        // allow-listed CIDR
		{"::ffff:10.20.3.4", false}, // the same, IPv4-mapped
		{"10.21.0.1", true},
		{"fd12::1", false},
		{"fd12::2", true},
	} {
		err := checkAddr(guard, al, netip.MustParseAddr(tc.addr))
		if got := errors.Is(err, ErrBlocked); got != tc.blocked {
			t.Errorf("%s: blocked = %v (err %v); want %v", tc.addr, got, err, tc.blocked)
		}
	}
}

func TestParseAllowlist(t *testing.T) {
	t.Parallel()
	for _, bad := range [][]string{{""}, {"10.0.0.0/33"}, {"user@host"}, {"a b"}} {
		if _, err := ParseAllowlist(bad); err == nil {
			t.Errorf("ParseAllowlist(%q) accepted", bad)
		}
	}
	al, err := ParseAllowlist([]string{"Hooks.Example.", "[::1]", "192.168.1.7/16"})
	if err != nil {
		t.Fatal(err)
	}
	if !al.hostAllowed("hooks.example") || !al.hostAllowed("::1") || !al.hostAllowed("192.168.200.1") || al.hostAllowed("example") {
		t.Fatalf("unexpected allow-list %+v", al)
	}
}
