package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
)

// TestSeedWarmIDs: -warm-ids seeds each linked user's Slack id verified an
// hour before (stale), at seeding (fresh), or not at all (none).
func TestSeedWarmIDs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		mode  string
		found bool
		age   time.Duration // about
	}{
		{warmIDsNone, false, 0},
		{warmIDsStale, true, warmIDsAge},
		{warmIDsFresh, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			w := newWorld(2, 0)
			defer w.close()
			if err := w.openStore(ctx, "sqlite", t.TempDir(), "", tt.mode); err != nil {
				t.Fatal(err)
			}
			for _, email := range []string{"eve@acme.test", "user1@acme.test"} {
				u, err := w.st.GetUserByEmail(ctx, w.tenant, email)
				if err != nil {
					t.Fatal(err)
				}
				s, err := w.st.GetSlackID(ctx, w.tenant, u.ID, teamID)
				if !tt.found {
					if !errors.Is(err, accessbot.ErrNotFound) {
						t.Fatalf("%s: %+v, %v; want none", email, s, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%s: %v", email, err)
				}
				if age := time.Since(s.VerifiedAt); age < tt.age || age > tt.age+time.Minute {
					t.Fatalf("%s: verified %v ago, want about %v", email, age, tt.age)
				}
			}
			if _, err := parseFlags([]string{"-warm-ids", "warm"}); err == nil || !strings.Contains(err.Error(), "-warm-ids") {
				t.Fatalf("-warm-ids warm: %v", err)
			}
		})
	}
}
