package handlers_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/accessbot/accessbot/bot/identity"
	"github.com/accessbot/accessbot/handlers"
	"github.com/accessbot/accessbot/internal/metrics"
	"github.com/accessbot/accessbot/internal/testenv"
)

// homesHandled is how many app_home_opened handlers have finished in this
// process (every replica of a test shares the metric).
func homesHandled(t *testing.T) uint64 {
	t.Helper()
	var m dto.Metric
	if err := metrics.HandlerLatency.WithLabelValues("event:app_home_opened", "ok").(interface{ Write(*dto.Metric) error }).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount()
}

// TestE2EAppHomeUnchangedNotPublishedAgain: opening a Home that renders the
// same as the last publish to that user publishes nothing; a memo that
// differs (another view shown) publishes again. With Redis the memo is
// shared, so two replicas publish an unchanged Home once between them.
func TestE2EAppHomeUnchangedNotPublishedAgain(t *testing.T) {
	for _, tc := range []struct {
		name     string
		replicas int
		redis    bool
	}{
		{"memory, 1 replica", 1, false},
		{"redis, 2 replicas", 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var memo handlers.Memo = identity.NewMemoryCache(0, nil)
			if tc.redis {
				c, _ := testenv.Redis(t)
				memo = identity.NewRedisCache(c, fmt.Sprintf("test:%s:%d:", t.Name(), time.Now().UnixNano()))
			}
			e := start(t, e2eOpts{replicas: tc.replicas, redis: tc.redis, published: memo})
			opens := func(user string, n int) {
				t.Helper()
				before := homesHandled(t)
				for range n {
					e.fake.SendEvent(e.fake.AppHomeOpened(e.team.ID, user))
				}
				if err := e.fake.WaitFor(e.ctx, func() bool { return homesHandled(t) >= before+uint64(n) }); err != nil {
					t.Fatalf("%d Home opens of %s not handled: %v", n, user, err)
				}
			}
			published := func(user string) int {
				n := 0
				for _, c := range e.fake.Calls("views.publish") {
					if c.Param("user_id") == user {
						n++
					}
				}
				return n
			}
			// The first open publishes; later ones find the memo (opens
			// at the same moment would both publish: nothing is memoed yet).
			opens("UADA", 1)
			e.home("UADA", "Acme Corp", "Linked")
			opens("UADA", 4)
			opens("UEVE", 1)
			e.home("UEVE", "not linked")
			opens("UEVE", 1)
			ada, eve := published("UADA"), published("UEVE")
			t.Logf("[counts] %s: 5 opens of ada, 2 of eve: %d and %d publishes", tc.name, ada, eve)
			if ada != 1 || eve != 1 {
				t.Fatalf("views.publish: ada %d, eve %d times, want 1 each (the view did not change)", ada, eve)
			}
			// Slack shows something else (e.g. another replica without the
			// shared memo published): the memo no longer matches.
			if err := memo.Set(context.Background(), "home:"+e.team.ID+":UADA", "other", time.Minute); err != nil {
				t.Fatal(err)
			}
			opens("UADA", 1)
			if n := published("UADA"); n != 2 {
				t.Fatalf("after the memo changed, views.publish for ada %d times, want 2", n)
			}
		})
	}
}
