package postgres

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot/store/sqlstore"
)

// homeChannel is what the home_v triggers NOTIFY on commit (migration
// 00291, then home_mark in 00300), with the payload "schema/" and the part
// moved, a JSON array [tenant id, part] (00320; see parseHomeChange).
const homeChannel = "accessbot_home"

// Reconnect backoff of the Home version listener.
const (
	homeRetryMin = 100 * time.Millisecond
	homeRetryMax = 5 * time.Second
)

// homeListener listens for Home version bumps of this store's schema on a
// connection of its own (LISTEN holds it), so that sqlstore keeps versions
// in memory. Lost, it reconnects with backoff; meanwhile the store reads
// versions from the database. Its fences are notifications on the same
// channel, sent through db after this process's writes (see parseFence).
func homeListener(dsn string, db *sql.DB, log zerolog.Logger) sqlstore.HomeListener {
	nonce := newNonce()
	listen := func(ctx context.Context, changed func(sqlstore.HomeChange), fenced func(uint64, time.Duration), live func(bool)) {
		wait := homeRetryMin
		for {
			listened, err := listenHome(ctx, dsn, nonce, changed, fenced, live)
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
	fence := func(ctx context.Context, n uint64, asked time.Duration) error {
		// Committed after every write counted up to n returned, and
		// after asked, so delivered after their notifications (in commit
		// order).
		_, err := db.ExecContext(ctx, `SELECT pg_notify('`+homeChannel+`', current_schema() || '/' || json_build_object('fence', $1::text, 'n', $2::bigint, 'at', $3::bigint)::text)`,
			nonce, int64(n), int64(asked))
		if err != nil {
			return fmt.Errorf("home version fence: %w", err)
		}
		return nil
	}
	return sqlstore.HomeListener{Listen: listen, Fence: fence}
}

// newNonce names this store's fences among every process's.
func newNonce() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// listenHome listens until the connection fails or ctx ends; listened
// reports whether it got as far as listening.
func listenHome(ctx context.Context, dsn, nonce string, changed func(sqlstore.HomeChange), fenced func(uint64, time.Duration), live func(bool)) (listened bool, err error) {
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
		rest, ok := strings.CutPrefix(n.Payload, prefix)
		if !ok {
			continue
		}
		if f, ok := parseFence(rest); ok {
			if f.Nonce == nonce {
				fenced(f.N, time.Duration(f.At))
			}
			continue // another process's
		}
		// Unreadable (another build's format, a hand-made NOTIFY): the
		// zero change, which drops everything.
		ch, _ := parseHomeChange(rest)
		changed(ch)
	}
}

// fence is a notification a process sends itself after its writes, and
// as a heartbeat ({"fence": nonce, "n": n, "at": when it was asked, as
// sqlstore gave it}): heard, every write it counted up to n, and every
// write committed before it was asked, has been heard too.
type fence struct {
	Nonce string `json:"fence"`
	N     uint64 `json:"n"`
	At    int64  `json:"at"`
}

func parseFence(s string) (f fence, ok bool) {
	if !strings.HasPrefix(s, "{") {
		return fence{}, false
	}
	if err := json.Unmarshal([]byte(s), &f); err != nil || f.Nonce == "" {
		return fence{}, false
	}
	return f, true
}

// parseHomeChange reads what follows the schema in a notification: a JSON
// array of the tenant id and the part moved ('*', '@admins' or a user
// id), as home_mark writes it (migration 00320). ok is false for anything
// else.
func parseHomeChange(s string) (ch sqlstore.HomeChange, ok bool) {
	var f []string
	if err := json.Unmarshal([]byte(s), &f); err != nil || len(f) != 2 || f[0] == "" || f[1] == "" {
		return sqlstore.HomeChange{}, false
	}
	return sqlstore.HomeChange{Tenant: f[0], Part: f[1]}, true
}
