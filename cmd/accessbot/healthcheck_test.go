package main

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
)

func TestHealthcheck(t *testing.T) {
	t.Parallel()
	m, _, _ := testMain(map[string]string{
		"ACCESSBOT_HTTP_LISTEN": "127.0.0.1:0",
		"ACCESSBOT_STORE_DSN":   "file:" + filepath.Join(t.TempDir(), "hc.db"),
	})
	addr, _ := startRun(t, m)
	_, port, _ := net.SplitHostPort(addr)

	// A port nobody listens on: taken, then released.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()

	for _, tc := range []struct {
		name    string
		env     map[string]string
		args    []string
		wantErr string
	}{
		{name: "listen on all addresses probes loopback", env: map[string]string{"ACCESSBOT_HTTP_LISTEN": "0.0.0.0:" + port}},
		{name: "explicit url", args: []string{"--url", "http://" + addr + "/healthz"}},
		{name: "wrong path", args: []string{"--url", "http://" + addr + "/nope"}, wantErr: "404"},
		{name: "nothing listening", env: map[string]string{"ACCESSBOT_HTTP_LISTEN": closed}, wantErr: "connection refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hm, _, _ := testMain(tc.env)
			err := hm.Run(context.Background(), append([]string{"healthcheck"}, tc.args...))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("healthcheck: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("healthcheck error = %v, want one with %q", err, tc.wantErr)
			}
		})
	}
}
