package handlers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/accessbot/accessbot/store"
)

// deliveryLease is how long one send of a notification may take before a
// retry may claim it again (after a crash mid-send).
const deliveryLease = time.Minute

// errInFlight: another run is sending the same notification right now; the
// job is retried later and then finds it sent.
var errInFlight = errors.New("the same notification is being sent by another run")

// deliveryKey names one notification of a request: what it is (with the
// level or decision it is about) and who it is for. Keys live in the
// store's delivery outbox.
func deliveryKey(requestID, what, recipient string) string {
	return "request:" + requestID + ":" + what + ":" + recipient
}

// once posts the notification key at most once, however often the job that
// calls it is retried: the delivery outbox (store.ClaimDelivery) remembers
// what went out, and where, which it returns either way. A failed post
// releases the claim so the retry sends it.
func (n *Notifier) once(ctx context.Context, tenantID, key string, post func(context.Context) (channel, ts string, err error)) (string, string, error) {
	d, won, err := n.st.ClaimDelivery(ctx, tenantID, key, n.now(), deliveryLease)
	if err != nil {
		return "", "", fmt.Errorf("claim notification %s: %w", key, err)
	}
	if !won {
		if d.Status == store.DeliverySent {
			return d.ChannelID, d.TS, nil
		}
		return "", "", fmt.Errorf("notification %s: %w", key, errInFlight)
	}
	ch, ts, err := post(ctx)
	if err != nil {
		if rerr := n.st.ReleaseDelivery(ctx, tenantID, key, n.now()); rerr != nil {
			n.log.Warn().Err(rerr).Str("tenant", tenantID).Str("key", key).Msg("release notification claim failed; retried after the lease")
		}
		return "", "", err
	}
	if err := n.st.CompleteDelivery(ctx, tenantID, key, ch, ts, n.now()); err != nil {
		return "", "", fmt.Errorf("record notification %s as sent: %w", key, err)
	}
	return ch, ts, nil
}
