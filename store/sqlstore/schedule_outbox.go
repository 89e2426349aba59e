package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

const deliveryCols = `tenant_id, dkey, status, channel_id, ts, attempts, unsent_through, lease_until, created_at, sent_at`

func scanDelivery(r scanner) (store.Delivery, error) {
	var d store.Delivery
	var status string
	var lease, created, sent dbTime
	err := r.Scan(&d.TenantID, &d.Key, &status, &d.ChannelID, &d.TS, &d.Attempts, &d.UnsentThrough, &lease, &created, &sent)
	d.Status, d.LeaseUntil, d.CreatedAt, d.SentAt = store.DeliveryStatus(status), lease.T, created.T, sent.ptr()
	return d, err
}

// ClaimDelivery: insert wins a new key; a claimed key whose lease ran out
// is taken over by a conditional update. Sent keys are never claimed again.
func (q *queries) ClaimDelivery(ctx context.Context, tenantID, key string, now time.Time, lease time.Duration) (*store.Delivery, bool, error) {
	now = Round(now)
	until := now.Add(lease)
	n, err := q.exec(ctx, `INSERT INTO deliveries (`+deliveryCols+`) VALUES (?, ?, 'claimed', '', '', 1, 0, ?, ?, NULL)
		ON CONFLICT (tenant_id, dkey) DO NOTHING`, tenantID, key, q.tm(until), q.tm(now))
	if err != nil {
		return nil, false, fmt.Errorf("claim delivery %s: %w", key, q.writeErr(err))
	}
	if n == 0 {
		n, err = q.exec(ctx, `UPDATE deliveries SET attempts = attempts + 1, lease_until = ?
			WHERE tenant_id = ? AND dkey = ? AND status = 'claimed' AND lease_until <= ?`,
			q.tm(until), tenantID, key, q.tm(now))
		if err != nil {
			return nil, false, fmt.Errorf("reclaim delivery %s: %w", key, err)
		}
	}
	d, err := scanDelivery(q.queryRow(ctx, `SELECT `+deliveryCols+` FROM deliveries WHERE tenant_id = ? AND dkey = ?`, tenantID, key))
	if err != nil {
		return nil, false, fmt.Errorf("read delivery %s: %w", key, notFound(err))
	}
	return &d, n == 1, nil
}

func (q *queries) CompleteDelivery(ctx context.Context, tenantID, key, channelID, ts string, now time.Time) error {
	err := affected(q.exec(ctx, `UPDATE deliveries SET status = 'sent', channel_id = ?, ts = ?, sent_at = ?
		WHERE tenant_id = ? AND dkey = ? AND status = 'claimed'`, channelID, ts, q.tm(now), tenantID, key))
	if errors.Is(err, accessbot.ErrNotFound) {
		err = accessbot.ErrStale
	}
	if err != nil {
		return fmt.Errorf("complete delivery %s: %w", key, err)
	}
	return nil
}

func (q *queries) ReleaseDelivery(ctx context.Context, tenantID, key string, retryAt time.Time) error {
	err := affected(q.exec(ctx, `UPDATE deliveries SET lease_until = ? WHERE tenant_id = ? AND dkey = ? AND status = 'claimed'`,
		q.tm(retryAt), tenantID, key))
	if errors.Is(err, accessbot.ErrNotFound) {
		err = accessbot.ErrStale
	}
	if err != nil {
		return fmt.Errorf("release delivery %s: %w", key, err)
	}
	return nil
}

func (q *queries) ReleaseUnsentDelivery(ctx context.Context, tenantID, key string, attempt int, retryAt time.Time) error {
	err := affected(q.exec(ctx, `UPDATE deliveries SET lease_until = ?, unsent_through = ?
		WHERE tenant_id = ? AND dkey = ? AND status = 'claimed' AND attempts = ?`,
		q.tm(retryAt), attempt, tenantID, key, attempt))
	if errors.Is(err, accessbot.ErrNotFound) {
		err = accessbot.ErrStale
	}
	if err != nil {
		return fmt.Errorf("release unsent delivery %s: %w", key, err)
	}
	return nil
}

func (q *queries) ListDeliveries(ctx context.Context, tenantID, prefix string) ([]store.Delivery, error) {
	rows, err := q.query(ctx, `SELECT `+deliveryCols+` FROM deliveries WHERE tenant_id = ? AND substr(dkey, 1, ?) = ?
		ORDER BY dkey`, tenantID, len(prefix), prefix)
	out, err := collect(rows, err, scanDelivery)
	if err != nil {
		return nil, fmt.Errorf("list deliveries %s: %w", prefix, err)
	}
	// substr counts characters; keys are ASCII, but stay exact anyway.
	kept := out[:0]
	for _, d := range out {
		if strings.HasPrefix(d.Key, prefix) {
			kept = append(kept, d)
		}
	}
	return kept, nil
}

func (q *queries) PruneDeliveries(ctx context.Context, tenantID string, sentBefore time.Time) (int, error) {
	n, err := q.exec(ctx, `DELETE FROM deliveries WHERE tenant_id = ? AND status = 'sent' AND sent_at < ?`, tenantID, q.tm(sentBefore))
	if err != nil {
		return 0, fmt.Errorf("prune deliveries: %w", err)
	}
	return int(n), nil
}
