package apiconn_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/accessbot/accessbot/connectors/apiconn"
	"github.com/accessbot/accessbot/internal/secrets"
)

// Send sends the token, Accept and (with a body) Content-Type; decodes a
// 2xx answer; hands back any other answer with its headers and at most
// 64 KiB of its body.
func TestSend(t *testing.T) {
	t.Parallel()
	var seen http.Header
	var seenBody string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Header.Clone()
		b, _ := io.ReadAll(r.Body)
		seenBody = string(b)
		switch r.URL.Path {
		case "/ok":
			_, _ = io.WriteString(w, `{"id":"u1"}`)
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		case "/bad-json":
			_, _ = io.WriteString(w, `{"id":`)
		case "/big":
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, strings.Repeat("x", 100<<10))
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, " no such user \n")
		}
	}))
	t.Cleanup(srv.Close)
	ctx := context.Background()
	req := func(path string, body []byte) apiconn.Request {
		return apiconn.Request{Method: http.MethodPost, URL: srv.URL + path, Token: "tok123", Accept: "application/x+json",
			ContentType: "application/y+json", Body: body}
	}

	var out struct{ ID string }
	a, err := apiconn.Send(ctx, srv.Client(), req("/ok", []byte(`{"a":1}`)), &out)
	if err != nil || a != nil || out.ID != "u1" {
		t.Fatalf("2xx: answer %v, err %v, decoded %+v", a, err, out)
	}
	if seen.Get("Authorization") != "Bearer tok123" || seen.Get("Accept") != "application/x+json" ||
		seen.Get("Content-Type") != "application/y+json" || seenBody != `{"a":1}` {
		t.Fatalf("sent headers %v, body %q", seen, seenBody)
	}
	if a, err := apiconn.Send(ctx, srv.Client(), req("/empty", nil), &out); err != nil || a != nil {
		t.Fatalf("204: answer %v, err %v", a, err)
	}
	if seen.Get("Content-Type") != "" {
		t.Fatalf("no body, but Content-Type %q", seen.Get("Content-Type"))
	}
	if _, err := apiconn.Send(ctx, srv.Client(), req("/bad-json", nil), &out); err == nil || !strings.Contains(err.Error(), "decode answer") {
		t.Fatalf("a 2xx that does not decode: err %v", err)
	}
	a, err = apiconn.Send(ctx, srv.Client(), req("/nobody", nil), nil)
	if err != nil || a == nil || a.Status != http.StatusNotFound || a.Text() != "no such user" {
		t.Fatalf("404: answer %+v, err %v", a, err)
	}
	a, err = apiconn.Send(ctx, srv.Client(), req("/big", nil), nil)
	if err != nil || a == nil {
		t.Fatalf("503: answer %v, err %v", a, err)
	}
	if a.Status != http.StatusServiceUnavailable || a.Header.Get("Retry-After") != "7" || len(a.Body) != 64<<10 || a.Text() != "" {
		t.Fatalf("503 with a 100 KiB body: status %d, Retry-After %q, %d bytes kept, text %q",
			a.Status, a.Header.Get("Retry-After"), len(a.Body), a.Text())
	}
}

// A transport error does not carry the token, even when the URL did.
func TestSendScrubsTheToken(t *testing.T) {
	t.Parallel()
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return nil, fmt.Errorf("refused %s", r.Header.Get("Authorization"))
	})}
	_, err := apiconn.Send(context.Background(), hc, apiconn.Request{Method: http.MethodGet, URL: "http://127.0.0.1:1/x", Token: "tok123"}, nil)
	if err == nil || strings.Contains(err.Error(), "tok123") || !strings.Contains(err.Error(), secrets.Redacted) {
		t.Fatalf("err = %v, want it without the token", err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestRetryable(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		status int
		err    error
		want   bool
	}{
		{0, errors.New("connection reset"), true},
		{0, fmt.Errorf("call: %w", context.Canceled), false},
		{0, context.DeadlineExceeded, true},
		{http.StatusTooManyRequests, nil, true},
		{http.StatusRequestTimeout, nil, true},
		{http.StatusInternalServerError, nil, true},
		{http.StatusGatewayTimeout, nil, true},
		{http.StatusBadRequest, nil, false},
		{http.StatusNotFound, nil, false},
		{http.StatusConflict, nil, false},
	} {
		if got := apiconn.Retryable(c.status, c.err); got != c.want {
			t.Errorf("Retryable(%d, %v) = %v, want %v", c.status, c.err, got, c.want)
		}
	}
}
