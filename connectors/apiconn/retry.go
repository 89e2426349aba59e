package apiconn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot/internal/secrets"
)

// Retry retries the calls of one client that its server throttled.
type Retry struct {
	// Attempts bounds the tries of one call, the first included.
	Attempts int
	// Statuses are the answers that mean "throttled, try again" (429, 503, ...).
	Statuses []int
	// Answer reads a failed try's error: the HTTP status (0 when no answer
	// came) and the answer's Retry-After (0 when it gave none).
	Answer func(error) (status int, retryAfter time.Duration)
	// Interrupted is the error of call op when ctx cut a wait short.
	Interrupted func(op string, err error) error
	// Sleep waits; tests replace it to count waits instead.
	Sleep func(ctx context.Context, d time.Duration) error
	Log   zerolog.Logger
	Msg   string // the log message of each wait
}

// Do runs try, the call op, and runs it again after a throttled answer,
// waiting the answer's Retry-After, else a second and then twice as long
// each time, up to Attempts tries. It returns the last try's error.
func (r Retry) Do(ctx context.Context, op string, try func() error) error {
	backoff := time.Second
	for attempt := 1; ; attempt++ {
		err := try()
		if err == nil || attempt >= r.Attempts {
			return err
		}
		status, wait := r.Answer(err)
		if !slices.Contains(r.Statuses, status) {
			return err
		}
		if wait <= 0 {
			wait = backoff
			backoff *= 2
		}
		r.Log.Warn().Str("op", op).Int("status", status).Dur("retry_after", wait).Int("attempt", attempt).Msg(r.Msg)
		if err := r.Sleep(ctx, wait); err != nil {
			return r.Interrupted(op, err)
		}
	}
}

// SleepCtx waits d, or until ctx ends.
func SleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// RetryAfter reads a Retry-After header: seconds or an HTTP date; 0 when
// absent, unreadable or past.
func RetryAfter(v string) time.Duration {
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

// Scrub removes tok from err's text (a transport error may quote the request).
func Scrub(err error, tok string) error {
	if tok == "" || !strings.Contains(err.Error(), tok) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), tok, secrets.Redacted))
}

// Decode reads a 2xx answer into out; out nil, or 204, drains it.
func Decode(resp *http.Response, out any) error {
	if out == nil || resp.StatusCode == http.StatusNoContent {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	return nil
}
