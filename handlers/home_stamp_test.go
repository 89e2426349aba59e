package handlers

import (
	"testing"
	"time"

	"github.com/accessbot/accessbot/store"
)

func TestHomeStamp(t *testing.T) {
	at := time.Date(2026, 12, 6, 7, 0, 0, 0, time.UTC)
	v42 := store.HomeVersion{Tenant: 42, Admins: 7, User: 3}
	st := homeStamp{Version: v42, At: at, Actor: "a1", Sum: "s-_1"}
	got, ok := parseStamp(st.String())
	if !ok || got.Version != v42 || !got.At.Equal(at) || got.Actor != "a1" || got.Sum != "s-_1" {
		t.Fatalf("round trip of %q: %+v, %v", st.String(), got, ok)
	}
	for _, bad := range []string{"", "hello", "home1.1.1.a.s", "home2.x.0.0.1.a.s", "home2.1.0.0.1.a", "home2.1.0.0.1..s", "home2.1.0.x.1.a.s",
		"home3.1.0.0.1.a.s", "home2.1.0.0.1.a.s.t"} {
		if _, ok := parseStamp(bad); ok {
			t.Errorf("parseStamp(%q) accepted", bad)
		}
	}
	for _, tc := range []struct {
		name    string
		version store.HomeVersion
		actor   string
		now     time.Time
		want    bool
	}{
		{"same, just rendered", v42, "a1", at, true},
		{"same, young", v42, "a1", at.Add(HomeMaxAge - time.Second), true},
		{"too old: due dates may have passed", v42, "a1", at.Add(HomeMaxAge), false},
		{"everyone's part moved", store.HomeVersion{Tenant: 43, Admins: 7, User: 3}, "a1", at, false},
		{"the admins' part moved", store.HomeVersion{Tenant: 42, Admins: 8, User: 3}, "a1", at, false},
		{"the viewer's part moved", store.HomeVersion{Tenant: 42, Admins: 7, User: 4}, "a1", at, false},
		{"viewer changed", v42, "a2", at, false},
		{"rendered in the future: clock went back", v42, "a1", at.Add(-2 * time.Minute), false},
	} {
		if got := st.current(tc.version, tc.actor, tc.now); got != tc.want {
			t.Errorf("%s: current = %v, want %v", tc.name, got, tc.want)
		}
	}
}
