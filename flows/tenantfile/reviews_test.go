package tenantfile

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

const reviewsYAML = `
reviews:
  reminder_days: [1, 14, 7]
  grace: 1d
`

func reviewSettings(t *testing.T, s store.Store) *accessbot.ReviewSettings {
	t.Helper()
	ten, err := s.GetTenantBySlug(context.Background(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	rs, err := s.GetReviewSettings(context.Background(), ten.ID)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func TestApplyReviewSettings(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, s store.Store) {
		src := string(baseYAML(t)) + reviewsYAML
		if got := lines(mustApply(t, s, []byte(src))); !strings.Contains(got, "+ reviews acme: reminder_days [14 7 1], grace 1d\n") {
			t.Fatalf("changes:\n%s", got)
		}
		if rs := reviewSettings(t, s); !slices.Equal(rs.RemindDays, []int{14, 7, 1}) || rs.Grace != 24*time.Hour {
			t.Fatalf("stored %+v", rs)
		}
		if res := mustApply(t, s, []byte(src)); len(res.Changes) != 0 {
			t.Fatalf("second apply changed:\n%s", lines(res))
		}
		res := mustApply(t, s, []byte(strings.Replace(src, "grace: 1d", "grace: 0", 1)))
		if got := lines(res); got != "~ reviews acme: grace 1d→0\n" {
			t.Fatalf("changes:\n%s", got)
		}
		// No reviews: key leaves them; an empty section restores the defaults.
		if res := mustApply(t, s, baseYAML(t)); len(res.Changes) != 0 {
			t.Fatalf("apply without reviews: changed:\n%s", lines(res))
		}
		res = mustApply(t, s, []byte(string(baseYAML(t))+"reviews: {}\n"))
		if got := lines(res); got != "~ reviews acme: reminder_days [14 7 1]→[7 3 1], grace 0→2d\n" {
			t.Fatalf("changes:\n%s", got)
		}
		res = mustApply(t, s, []byte(string(baseYAML(t))+"reviews:\n  reminder_days: []\n"))
		if got := lines(res); got != "~ reviews acme: reminder_days [7 3 1]→[]\n" {
			t.Fatalf("changes:\n%s", got)
		}
	})
}

func TestBadReviewSettingsRefusedWithLineAndField(t *testing.T) {
	t.Parallel()
	example := string(baseYAML(t))
	base := example + reviewsYAML
	first := strings.Count(example, "\n")
	cases := []struct {
		name, old, new, want string
		line                 int // within reviewsYAML
	}{
		{"not a number", "[1, 14, 7]", "[1, two, 7]", `reviews.reminder_days[1]: want a whole number of days before the due date, found the value "two"`, 3},
		{"negative", "[1, 14, 7]", "[1, -2, 7]", "reviews.reminder_days[1]: -2: want 0 (the due day) to 365 days", 3},
		{"duplicate", "[1, 14, 7]", "[1, 14, 14]", "reviews.reminder_days[2]: duplicate day 14", 3},
		{"not a list", "[1, 14, 7]", "seven", `reviews.reminder_days: want a list, found the value "seven"`, 3},
		{"bad grace", "grace: 1d", "grace: a while", `reviews.grace: "a while" is not a duration`, 4},
		{"grace too long", "grace: 1d", "grace: 200d", `reviews.grace: "200d": at most 90d`, 4},
		{"unknown key", "grace: 1d", "grase: 1d", "reviews.grase: unknown key", 4},
	}
	var edits []badEdit
	for _, tc := range cases {
		edits = append(edits, badEdit{tc.name, tc.old, tc.new, tc.want, first + tc.line})
	}
	refuseEdits(t, base, func(t *testing.T, s store.Store) string {
		rs := reviewSettings(t, s)
		return fmt.Sprintf("reminder_days %v, grace %v", rs.RemindDays, rs.Grace)
	}, edits)
}
