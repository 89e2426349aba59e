package scim

import (
	"context"
	"time"
)

// SetSleep replaces the Retry-After wait, so tests count waits instead of sleeping.
func SetSleep(c *Client, f func(ctx context.Context, d time.Duration) error) { c.retry.Sleep = f }
