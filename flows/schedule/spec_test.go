package schedule

import (
	"errors"
	"testing"
	"time"
)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func mustSpec(t *testing.T, expr, tz string) Spec {
	t.Helper()
	s, err := Parse(expr, tz)
	if err != nil {
		t.Fatalf("Parse(%q, %q): %v", expr, tz, err)
	}
	return s
}

func TestParseRefuses(t *testing.T) {
	for _, tc := range []struct {
		expr, tz string
		want     error
	}{
		{"0 9 * *", "UTC", ErrExpr},
		{"61 9 * * *", "UTC", ErrExpr},
		{"", "UTC", ErrExpr},
		{"@every 1h", "UTC", ErrExpr},
		{"CRON_TZ=Europe/Berlin 0 9 * * *", "UTC", ErrExpr},
		{"0 0 30 2 *", "UTC", ErrExpr}, // never fires
		{"0 9 * * *", "Europe/Berlinn", ErrZone},
		{"0 9 * * *", "", ErrZone},
		{"0 9 * * *", "Local", ErrZone},
	} {
		if _, err := Parse(tc.expr, tc.tz); !errors.Is(err, tc.want) {
			t.Errorf("Parse(%q, %q) = %v, want %v", tc.expr, tc.tz, err, tc.want)
		}
	}
	if _, err := Parse("@daily", "America/New_York"); err != nil {
		t.Errorf("@daily: %v", err)
	}
}

func TestLatestAndNext(t *testing.T) {
	for _, tc := range []struct {
		name, expr, tz string
		now            string
		latest, next   string
	}{
		{"berlin summer 09:20 after 09:00", "0 9 * * *", "Europe/Berlin", "2026-07-01T07:20:00Z", "2026-07-01T07:00:00Z", "2026-07-02T07:00:00Z"},
		{"exactly at the slot", "0 9 * * *", "Europe/Berlin", "2026-07-01T07:00:00Z", "2026-07-01T07:00:00Z", "2026-07-02T07:00:00Z"},
		{"before today's slot", "0 9 * * *", "Europe/Berlin", "2026-07-01T06:59:59Z", "2026-06-30T07:00:00Z", "2026-07-01T07:00:00Z"},
		{"berlin winter", "0 9 * * *", "Europe/Berlin", "2026-12-01T12:00:00Z", "2026-12-01T08:00:00Z", "2026-12-02T08:00:00Z"},
		{"weekdays on a sunday", "0 9 * * 1-5", "UTC", "2026-07-05T12:00:00Z", "2026-07-03T09:00:00Z", "2026-07-06T09:00:00Z"},
		{"monthly", "0 6 1 * *", "UTC", "2026-07-20T00:00:00Z", "2026-07-01T06:00:00Z", "2026-08-01T06:00:00Z"},
		{"every 15 minutes", "*/15 * * * *", "America/New_York", "2026-07-01T10:07:00Z", "2026-07-01T10:00:00Z", "2026-07-01T10:15:00Z"},
		// Berlin springs forward 2026-03-29 02:00 CET → 03:00 CEST (01:00 UTC).
		{"berlin spring gap fires at the jump", "30 2 * * *", "Europe/Berlin", "2026-03-29T01:10:00Z", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"},
		{"berlin day before spring", "30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", "2026-03-28T01:30:00Z", "2026-03-29T01:00:00Z"},
		// Berlin falls back 2026-10-25 03:00 CEST → 02:00 CET (01:00 UTC): 02:30 happens twice.
		{"berlin fall-back first occurrence only", "30 2 * * *", "Europe/Berlin", "2026-10-25T01:40:00Z", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"},
		// New York springs forward 2026-03-08 02:00 EST → 03:00 EDT (07:00 UTC).
		{"new york spring gap", "30 2 * * *", "America/New_York", "2026-03-08T07:05:00Z", "2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"},
		// New York falls back 2026-11-01 02:00 EDT → 01:00 EST (06:00 UTC): 01:30 happens twice.
		{"new york 01:30 in the repeated hour", "30 1 * * *", "America/New_York", "2026-11-01T06:10:00Z", "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"},
		{"new york 01:30 after the second 01:30", "30 1 * * *", "America/New_York", "2026-11-01T06:45:00Z", "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustSpec(t, tc.expr, tc.tz)
			now := utc(tc.now)
			if got := s.Latest(now); !got.Equal(utc(tc.latest)) {
				t.Errorf("Latest(%s) = %s, want %s", tc.now, got.Format(time.RFC3339), tc.latest)
			}
			if got := s.Next(now); !got.Equal(utc(tc.next)) {
				t.Errorf("Next(%s) = %s, want %s", tc.now, got.Format(time.RFC3339), tc.next)
			}
		})
	}
}

func TestDue(t *testing.T) {
	s := mustSpec(t, "0 9 * * *", "Europe/Berlin")
	created := utc("2026-06-01T00:00:00Z")
	for _, tc := range []struct {
		name        string
		last, since string
		now         string
		want        string // "" = not due
	}{
		{"catch-up: down at 09:00, back at 09:20", "2026-06-30T07:00:00Z", "", "2026-07-01T07:20:00Z", "2026-07-01T07:00:00Z"},
		{"already claimed", "2026-07-01T07:00:00Z", "", "2026-07-01T07:20:00Z", ""},
		{"two-day outage: only the latest slot", "2026-06-28T07:00:00Z", "", "2026-07-01T10:00:00Z", "2026-07-01T07:00:00Z"},
		{"two-day outage ending before today's slot", "2026-06-28T07:00:00Z", "", "2026-07-01T06:00:00Z", "2026-06-30T07:00:00Z"},
		{"never ran", "", "", "2026-07-01T07:01:00Z", "2026-07-01T07:00:00Z"},
		{"schedule created after today's slot", "", "2026-07-01T07:10:00Z", "2026-07-01T07:20:00Z", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var last time.Time
			if tc.last != "" {
				last = utc(tc.last)
			}
			since := created
			if tc.since != "" {
				since = utc(tc.since)
			}
			got, ok := s.Due(last, since, utc(tc.now))
			if tc.want == "" {
				if ok {
					t.Fatalf("due %s, want nothing", got)
				}
				return
			}
			if !ok || !got.Equal(utc(tc.want)) {
				t.Fatalf("Due = %s, %v; want %s", got, ok, tc.want)
			}
		})
	}
}

// TestSimulatedDays ticks every minute through DST changes and counts the
// slots Due hands out: exactly one per local day, at the expected instants.
func TestSimulatedDays(t *testing.T) {
	for _, tc := range []struct {
		name, expr, tz string
		from, to       string
		want           []string
	}{
		{"berlin 02:30 over spring forward", "30 2 * * *", "Europe/Berlin", "2026-03-27T12:00:00Z", "2026-03-31T00:00:00Z",
			[]string{"2026-03-28T01:30:00Z", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"}},
		{"berlin 02:30 over fall back", "30 2 * * *", "Europe/Berlin", "2026-10-23T12:00:00Z", "2026-10-27T00:00:00Z",
			[]string{"2026-10-24T00:30:00Z", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"}},
		{"new york 01:30 over fall back", "30 1 * * *", "America/New_York", "2026-10-31T00:00:00Z", "2026-11-03T00:00:00Z",
			[]string{"2026-10-31T05:30:00Z", "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"}},
		{"new york 02:30 over spring forward", "30 2 * * *", "America/New_York", "2026-03-07T00:00:00Z", "2026-03-10T00:00:00Z",
			[]string{"2026-03-07T07:30:00Z", "2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"}},
		{"berlin 09:00 across spring forward keeps local 09:00", "0 9 * * *", "Europe/Berlin", "2026-03-28T00:00:00Z", "2026-03-31T00:00:00Z",
			[]string{"2026-03-28T08:00:00Z", "2026-03-29T07:00:00Z", "2026-03-30T07:00:00Z"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustSpec(t, tc.expr, tc.tz)
			var last time.Time
			var got []string
			for now := utc(tc.from); now.Before(utc(tc.to)); now = now.Add(time.Minute) {
				if slot, ok := s.Due(last, utc(tc.from), now); ok {
					if now.Sub(slot) > time.Minute {
						t.Errorf("slot %s found late at %s", slot, now)
					}
					got = append(got, slot.Format(time.RFC3339))
					last = slot
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("fired %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("fired %v, want %v", got, tc.want)
				}
			}
		})
	}
}
