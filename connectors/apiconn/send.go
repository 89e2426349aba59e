package apiconn

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
)

// Answer is a call's answer other than 2xx: its status, headers and the
// first 64 KiB of its body, for the connector to read its error format from.
type Answer struct {
	Status int
	Header http.Header
	Body   []byte
}

// Text is the body as a short plain-text detail: "" when it is empty or
// 300 bytes or more (an HTML error page rather than a message).
func (a *Answer) Text() string {
	s := strings.TrimSpace(string(a.Body))
	if len(s) >= 300 {
		return ""
	}
	return s
}

// Request is one call of a JSON API with a bearer token.
type Request struct {
	Method, URL string
	Token       string
	Accept      string // the Accept header
	ContentType string // the body's, when there is one
	Body        []byte // nil: none
}

// Send makes the call with hc. A 2xx answer is decoded into out (see
// Decode) and Send returns nil, nil; any other answer comes back as an
// *Answer. The error is the transport's or the decoder's, with the token
// scrubbed from its text.
func Send(ctx context.Context, hc *http.Client, r Request, out any) (*Answer, error) {
	var rd io.Reader
	if r.Body != nil {
		rd = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+r.Token)
	req.Header.Set("Accept", r.Accept)
	if r.Body != nil {
		req.Header.Set("Content-Type", r.ContentType)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, Scrub(err, r.Token)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil, Decode(resp, out)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return &Answer{Status: resp.StatusCode, Header: resp.Header, Body: body}, nil
}

// Retryable is whether a later try of a call may work, from its answer's
// status (0: none came) and its transport error: a call that got no answer
// (unless it was cancelled), a 429, a 408 or a 5xx.
func Retryable(status int, err error) bool {
	switch {
	case status == 0:
		return !errors.Is(err, context.Canceled)
	case status == http.StatusTooManyRequests, status == http.StatusRequestTimeout, status >= 500:
		return true
	}
	return false
}
