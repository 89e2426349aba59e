package handlers

import (
	"testing"
	"time"
)

func TestHomeStamp(t *testing.T) {
	at := time.Date(2026, 12, 6, 7, 0, 0, 0, time.UTC)
	st := homeStamp{Version: 42, At: at, Actor: "a1", Sum: "s-_1"}
	got, ok := parseStamp(st.String())
	if !ok || got.Version != 42 || !got.At.Equal(at) || got.Actor != "a1" || got.Sum != "s-_1" {
		t.Fatalf("round trip of %q: %+v, %v", st.String(), got, ok)
	}
	for _, bad := range []string{"", "hello", "home1.x.1.a.s", "home1.1.1.a", "home1.1.1..s", "home2.1.1.a.s", "home1.1.1.a.s.t"} {
		if _, ok := parseStamp(bad); ok {
			t.Errorf("parseStamp(%q) accepted", bad)
		}
	}
	for _, tc := range []struct {
		name    string
		version int64
		actor   string
		now     time.Time
		want    bool
	}{
		{"same, just rendered", 42, "a1", at, true},
		{"same, young", 42, "a1", at.Add(HomeMaxAge - time.Second), true},
		{"too old: due dates may have passed", 42, "a1", at.Add(HomeMaxAge), false},
		{"version moved", 43, "a1", at, false},
		{"viewer changed", 42, "a2", at, false},
		{"rendered in the future: clock went back", 42, "a1", at.Add(-2 * time.Minute), false},
	} {
		if got := st.current(tc.version, tc.actor, tc.now); got != tc.want {
			t.Errorf("%s: current = %v, want %v", tc.name, got, tc.want)
		}
	}
}
