package httpserver_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot/internal/httpserver"
)

// serveShort serves s with timeouts short enough for a test, until cleanup.
func serveShort(t *testing.T, s *httpserver.Server) string {
	t.Helper()
	httpserver.SetTimeouts(s, httpserver.Timeouts{
		ReadHeader: 200 * time.Millisecond, Read: 400 * time.Millisecond,
		Write: 400 * time.Millisecond, Idle: 400 * time.Millisecond,
	})
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return s.Addr()
}

// A client that trickles its request, or holds an idle keep-alive
// connection, is cut off: it cannot pin a connection and a goroutine forever.
func TestSlowClientsAreCutOff(t *testing.T) {
	t.Parallel()
	s := httpserver.New("127.0.0.1:0", "", zerolog.Nop())
	s.HandleFunc("POST /upload", func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			http.Error(w, "read body", http.StatusBadRequest)
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
	addr := serveShort(t, s)

	tests := []struct {
		name string
		// start writes the opening bytes; drip is then written every 50 ms.
		start, drip string
	}{
		{"headers trickled", "GET /healthz HTTP/1.1\r\nHost: x\r\n", "X-Slow: 1\r\n"},
		{"body trickled", "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n", "a"},
		{"idle keep-alive", "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			start := time.Now()
			if _, err := io.WriteString(conn, tt.start); err != nil {
				t.Fatal(err)
			}
			if tt.drip != "" {
				go func() {
					for {
						time.Sleep(50 * time.Millisecond)
						if _, err := io.WriteString(conn, tt.drip); err != nil {
							return
						}
					}
				}()
			}
			// The server must close the connection; whatever it answers
			// first is read and dropped. 3 s is far beyond every timeout.
			_ = conn.SetReadDeadline(time.Now().Add(3 * time.Second))
			var answered strings.Builder
			_, err = io.Copy(&answered, bufio.NewReader(conn))
			took := time.Since(start)
			t.Logf("cut off after %s; answered %q", took.Round(time.Millisecond), firstLine(answered.String()))
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("connection still open after %s", took)
			}
		})
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\r\n")
	return line
}

// Headers are capped well below net/http's 1 MB default.
func TestOversizedHeadersRefused(t *testing.T) {
	t.Parallel()
	s := httpserver.New("127.0.0.1:0", "", zerolog.Nop())
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx) }()
	defer func() { cancel(); <-served }()
	req, _ := http.NewRequest(http.MethodGet, "http://"+s.Addr()+"/healthz", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 200<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("GET with 200 KB of headers = %d, want 431", resp.StatusCode)
	}
}
