package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot/store/sqlstore"
)

// homeChannel is what the home_v triggers NOTIFY on commit (migration
// 00291, then home_mark in 00300), with the payload "schema/tenant id".
const homeChannel = "accessbot_home"

// Reconnect backoff of the Home version listener.
const (
	homeRetryMin = 100 * time.Millisecond
	homeRetryMax = 5 * time.Second
)

// homeListener listens for Home version bumps of this store's schema on a
// connection of its own (LISTEN holds it), so that sqlstore keeps versions
// in memory. Lost, it reconnects with backoff; meanwhile the store reads
// versions from the database.
func homeListener(dsn string, log zerolog.Logger) sqlstore.HomeListener {
	return func(ctx context.Context, changed func(), live func(bool)) {
		wait := homeRetryMin
		for {
			listened, err := listenHome(ctx, dsn, changed, live)
			live(false)
			if ctx.Err() != nil {
				return
			}
			if listened {
				wait = homeRetryMin
			}
			log.Warn().Err(err).Dur("retry_in", wait).Msg("Home version listener lost; reading versions from the database until it is back")
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			wait = min(wait*2, homeRetryMax)
		}
	}
}

// listenHome listens until the connection fails or ctx ends; listened
// reports whether it got as far as listening.
func listenHome(ctx context.Context, dsn string, changed func(), live func(bool)) (listened bool, err error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return false, fmt.Errorf("connect: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	var schema string
	if err := conn.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return false, fmt.Errorf("current schema: %w", err)
	}
	if _, err := conn.Exec(ctx, `LISTEN `+homeChannel); err != nil {
		return false, fmt.Errorf("listen %s: %w", homeChannel, err)
	}
	// Writes before this point were not heard: live drops every version
	// kept, and only reads from now on are kept.
	live(true)
	prefix := schema + "/"
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return true, fmt.Errorf("wait for %s: %w", homeChannel, err)
		}
		if strings.HasPrefix(n.Payload, prefix) {
			changed()
		}
	}
}
