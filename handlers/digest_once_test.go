package handlers_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/slackapi"
	"github.com/accessbot/accessbot/flows/digest"
	"github.com/accessbot/accessbot/handlers"
	"github.com/accessbot/accessbot/internal/secrets"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/storetest"
)

// recordOutage fails the outbox's "sent" record while down, as a database
// that went away between a post and its record.
type recordOutage struct {
	store.Store
	mu   sync.Mutex
	down bool
}

func (s *recordOutage) CompleteDelivery(ctx context.Context, tenantID, key, ch, ts string, now time.Time) error {
	s.mu.Lock()
	down := s.down
	s.mu.Unlock()
	if down {
		return errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")
	}
	return s.Store.CompleteDelivery(ctx, tenantID, key, ch, ts, now)
}

// TestCriticalAlertRecordLostAfterPost: the database goes away after Slack
// took a critical alert and stays away past the lease; the next tick finds
// the alert in the channel instead of posting it again.
func TestCriticalAlertRecordLostAfterPost(t *testing.T) {
	e := newDigestEnv(t, "sqlite", time.Now().UTC())
	ctx := context.Background()
	must(t, e.st.PutAlertSettings(ctx, &store.AlertSettings{TenantID: e.tenant, Channels: []string{"C1"}, Since: e.now.Now().Add(-time.Hour)}))
	e.report(t, "terminated_active", accessbot.SeverityCritical, 1)
	st := &recordOutage{Store: e.st, down: true}
	svc := digest.New(st, e.notifier(t, 1), digest.Config{Clock: e.now.Now, Lease: 300 * time.Millisecond})
	if err := svc.AlertCritical(ctx, e.now.Now()); err == nil {
		t.Fatal("the alert was recorded with the database down")
	}
	st.mu.Lock()
	st.down = false
	st.mu.Unlock()
	e.now.Add(time.Minute) // the claim ran out
	must(t, svc.AlertCritical(ctx, e.now.Now()))
	must(t, svc.AlertCritical(ctx, e.now.Now()))
	if got := e.topLevel("C1", "Critical finding"); len(got) != 1 {
		t.Fatalf("%d critical alerts posted, want 1", len(got))
	}
}

// TestCriticalAlertRetryAfterUnsentPost: a critical alert the Slack pace
// refuses was certainly not sent, so the next tick posts it without
// looking in the channel's history first (0 conversations.history calls),
// and once. Daily digests share the send path.
func TestCriticalAlertRetryAfterUnsentPost(t *testing.T) {
	t.Parallel()
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			e := newDigestEnv(t, driver, time.Now().UTC())
			ctx := context.Background()
			must(t, e.st.PutAlertSettings(ctx, &store.AlertSettings{TenantID: e.tenant, Channels: []string{"C1", "C2"}, Since: e.now.Now().Add(-time.Hour)}))
			e.report(t, "terminated_active", accessbot.SeverityCritical, 1)
			// One post an hour for the workspace: C1's alert goes, C2's is refused.
			paced := handlers.NewDigest(handlers.DigestConfig{Store: e.st, Now: e.now.Now, Log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel),
				Clients: handlers.SlackChatClients(slackapi.NewClients(e.st, nil, secrets.Secret(e.team.BotToken), slackapi.Options{
					APIURL: e.fake.URL(), Guard: slackapi.Strict{}, Retry: slackapi.Retry{MaxAttempts: 1},
					Pacing: &slackapi.Pacing{PerWorkspace: slackapi.Limit{Interval: time.Hour, Burst: 1, MaxWait: time.Second}},
				}))})
			err := digest.New(e.st, paced, digest.Config{Clock: e.now.Now}).AlertCritical(ctx, e.now.Now())
			if !errors.Is(err, slackapi.ErrPaceExceeded) {
				t.Fatalf("first tick: err = %v, want C2's alert refused by the pace", err)
			}
			svc := digest.New(e.st, e.notifier(t, 1), digest.Config{Clock: e.now.Now})
			must(t, svc.AlertCritical(ctx, e.now.Now())) // the next tick
			must(t, svc.AlertCritical(ctx, e.now.Now()))
			history := e.fake.CallCount("conversations.history")
			t.Logf("[counts] %s: history_lookups=%d posts=%d", driver, history, e.fake.CallCount("chat.postMessage"))
			if history != 0 {
				t.Errorf("the retry made %d conversations.history calls, want 0 (the refused post was not sent)", history)
			}
			for _, ch := range []string{"C1", "C2"} {
				if got := e.topLevel(ch, "Critical finding"); len(got) != 1 {
					t.Errorf("%s: %d critical alerts, want 1", ch, len(got))
				}
			}
		})
	}
}
