package handlers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/slackapi"
	"github.com/accessbot/accessbot/internal/metrics"
	"github.com/accessbot/accessbot/store"
)

// DefaultDeliveryLease is how long one send of a notification may hold its
// claim before a retry may take it over (after a crash mid-send).
const DefaultDeliveryLease = time.Minute

// lookback widens the search for an earlier post before the first claim,
// for clock skew between this host and Slack.
const lookback = 2 * time.Minute

// errInFlight: another run is sending the same notification right now; the
// job is retried later and then finds it sent.
var errInFlight = errors.New("the same notification is being sent by another run")

// deliveryKey names one notification of a request: what it is (with the
// level or decision it is about) and who it is for. Keys live in the
// store's delivery outbox and tag the post in Slack (message metadata).
func deliveryKey(requestID, what, recipient string) string {
	return "request:" + requestID + ":" + what + ":" + recipient
}

// deliveryStore is the store's delivery outbox.
type deliveryStore interface {
	ClaimDelivery(ctx context.Context, tenantID, key string, now time.Time, lease time.Duration) (*store.Delivery, bool, error)
	CompleteDelivery(ctx context.Context, tenantID, key, channelID, ts string, now time.Time) error
	ReleaseDelivery(ctx context.Context, tenantID, key string, retryAt time.Time) error
	ReleaseUnsentDelivery(ctx context.Context, tenantID, key string, attempt int, retryAt time.Time) error
}

// outbox sends messages exactly once through the store's delivery outbox;
// the request and review notifiers share it.
type outbox struct {
	st    deliveryStore
	now   func() time.Time
	lease time.Duration
	log   zerolog.Logger
}

// delivery is one message sent through the outbox.
type delivery struct {
	key string
	// to is the channel it goes to; for a DM it opens the conversation,
	// which gives the same channel every time.
	to     func(ctx context.Context) (string, error)
	thread string // the thread it replies in, if any
	msg    slackapi.Message
	// posted, when set, is set to true when this call posted msg (not
	// when it found an earlier post, which may show something older).
	posted *bool
	// after, when set, runs once the post was tried (sent or not), with
	// the rest of the claim's time and the send's error (nil when sent):
	// to's bookkeeping that the post need not wait for
	// (slackDirectory.delivery). What it returns is once's error.
	after func(ctx context.Context, err error) error
}

// once posts d exactly once, however often the job that calls it is
// retried, crashes, is stopped or loses the database:
//
//   - the outbox (store.ClaimDelivery) remembers what went out and where,
//     which it returns either way;
//   - once the claim is won, a cancelled ctx (shutdown) no longer cuts the
//     send: the post gets half the lease, the record the rest, and a
//     record the database refuses is retried in process until the lease ends;
//   - a claim taken over after its lease ran out (a crash, an outage longer
//     than the lease, a post that failed in an unknown state) first looks
//     for the post in the conversation by its delivery key (message
//     metadata) and records the one found instead of posting again.
//
// The post's deadline, half the lease, keeps it from still being on its way
// when a retry looks. A failed post releases the claim so the retry sends it;
// a post certainly not sent (refused by the pace, say) after no earlier claim
// could have posted releases it as unsent, so the retry posts without
// looking in the history first.
func (n *outbox) once(ctx context.Context, cl ChatAPI, tenantID string, d delivery) (ch, ts string, err error) {
	row, won, err := n.st.ClaimDelivery(ctx, tenantID, d.key, n.now(), n.lease)
	if err != nil {
		metrics.StoreErrors.WithLabelValues("claim_delivery").Inc()
		return "", "", fmt.Errorf("claim notification %s: %w", d.key, err)
	}
	if !won {
		if row.Status == store.DeliverySent {
			metrics.Notifications.WithLabelValues("deduplicated").Inc()
			return row.ChannelID, row.TS, nil
		}
		return "", "", fmt.Errorf("notification %s: %w", d.key, errInFlight)
	}
	held, cancel := context.WithTimeout(context.WithoutCancel(ctx), n.lease)
	defer cancel()
	if d.after != nil {
		defer func() { err = d.after(held, err) }() // before cancel: defers run last in, first out
	}
	postCtx, cancelPost := context.WithTimeout(held, n.lease/2)
	defer cancelPost()
	// clean: no earlier claim posted, as far as this one knows (the outbox
	// says so, or the history was searched).
	clean := !row.EarlierMayHavePosted()
	// release lets a retry claim d again. unsent: this claim posted nothing;
	// with clean, the retry then skips the history lookup.
	release := func(err error, unsent bool) (string, string, error) {
		metrics.Notifications.WithLabelValues("failed").Inc()
		var rerr error
		if unsent && clean {
			rerr = n.st.ReleaseUnsentDelivery(held, tenantID, d.key, row.Attempts, n.now())
		} else {
			rerr = n.st.ReleaseDelivery(held, tenantID, d.key, n.now())
		}
		if rerr != nil {
			n.log.Warn().Err(rerr).Str("tenant", tenantID).Str("key", d.key).Msg("release notification claim failed; retried after the lease")
		}
		return "", "", err
	}
	if ch, err = d.to(postCtx); err != nil {
		return release(err, true) // nothing was posted yet
	}
	if !clean {
		// An earlier claim ran out or failed: its post may have gone through.
		ts, err = cl.FindDelivery(postCtx, ch, d.thread, d.key, row.CreatedAt.Add(-lookback))
		if slackapi.SlackErrorCode(err) == "missing_scope" {
			// Installed before the history scopes were asked for: sending
			// at least once beats never; reinstalling grants them.
			n.log.Warn().Err(err).Str("tenant", tenantID).Str("key", d.key).
				Msg("cannot check whether an earlier attempt posted (reinstall the Slack app to grant the history scopes); posting")
			ts, err = "", nil
		} else if err == nil {
			clean = ts == ""
		}
		if err != nil {
			return release(fmt.Errorf("check whether notification %s went out: %w", d.key, err), true)
		}
	}
	if ts == "" {
		m := d.msg
		m.ThreadTS, m.DeliveryKey = d.thread, d.key
		if ch, ts, err = cl.PostMessage(postCtx, ch, m); err != nil {
			// Refused before it left (the pace, say): certainly not sent.
			return release(err, slackapi.NotSent(err))
		}
		metrics.Notifications.WithLabelValues("sent").Inc()
		if d.posted != nil {
			*d.posted = true
		}
	} else {
		metrics.Notifications.WithLabelValues("deduplicated").Inc() // an earlier attempt's post, found
	}
	if err := n.record(held, tenantID, d.key, ch, ts); err != nil {
		return "", "", err
	}
	return ch, ts, nil
}

// record marks key sent, retrying with backoff while the database refuses
// (an outage) until ctx ends: a retry after the lease finds the post anyway.
func (n *outbox) record(ctx context.Context, tenantID, key, ch, ts string) error {
	wait := 50 * time.Millisecond
	for {
		err := n.st.CompleteDelivery(ctx, tenantID, key, ch, ts, n.now())
		if err == nil || errors.Is(err, accessbot.ErrStale) {
			// Stale: a run that took the claim over found this post and recorded it.
			return nil
		}
		metrics.StoreErrors.WithLabelValues("complete_delivery").Inc()
		n.log.Warn().Err(err).Str("tenant", tenantID).Str("key", key).Dur("retry_in", wait).Msg("record notification as sent failed; retrying")
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("record notification %s as sent: %w", key, err)
		case <-t.C:
		}
		wait = min(2*wait, 2*time.Second)
	}
}
