package handlers

import (
	"testing"
	"time"
)

// The memo knows what a message shows only after a write that overlapped
// no other write of it and succeeded, and never while one is on its way.
func TestShownMemo(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	type step struct {
		op   string // begin (returns a handle), end-ok, end-fail
		w    int    // which write (handle index)
		key  string
		want map[string]bool // after the step: key → shows
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"one write", []step{
			{op: "begin", w: 0, want: map[string]bool{"A": false}},
			{op: "end-ok", w: 0, key: "A", want: map[string]bool{"A": true, "B": false}},
		}},
		{"a failed write forgets", []step{
			{op: "begin", w: 0}, {op: "end-ok", w: 0, key: "A"},
			{op: "begin", w: 1, want: map[string]bool{"A": false}},
			{op: "end-fail", w: 1, want: map[string]bool{"A": false}},
		}},
		{"overlapping writes: either order at Slack, so unknown", []step{
			{op: "begin", w: 0}, {op: "begin", w: 1},
			{op: "end-ok", w: 1, key: "B", want: map[string]bool{"B": false}},
			{op: "end-ok", w: 0, key: "A", want: map[string]bool{"A": false, "B": false}},
		}},
		{"overlapping, first ends first", []step{
			{op: "begin", w: 0}, {op: "begin", w: 1},
			{op: "end-ok", w: 0, key: "A", want: map[string]bool{"A": false}},
			{op: "end-ok", w: 1, key: "B", want: map[string]bool{"A": false, "B": false}},
		}},
		{"sequential writes: the last one", []step{
			{op: "begin", w: 0}, {op: "end-ok", w: 0, key: "A"},
			{op: "begin", w: 1}, {op: "end-ok", w: 1, key: "B", want: map[string]bool{"A": false, "B": true}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m shownMemo
			for i, s := range tt.steps {
				switch s.op {
				case "begin":
					m.begin("D1", "1.0")
				case "end-ok":
					m.end("D1", "1.0", s.key, t0)
				case "end-fail":
					m.end("D1", "1.0", "", t0)
				}
				for key, want := range s.want {
					if got := m.skip("D1", "1.0", key, t0); got != want {
						t.Errorf("step %d (%s w%d): shows(%s) = %v, want %v", i, s.op, s.w, key, got, want)
					}
				}
			}
			if got := m.skip("D2", "1.0", "A", t0); got {
				t.Error("another message shows A")
			}
		})
	}
	t.Run("held for a click", func(t *testing.T) {
		var m shownMemo
		m.hold("D1", "1.0")
		if !m.skip("D1", "1.0", "anything", t0) {
			t.Error("a held message is not skipped")
		}
		m.begin("D1", "1.0")
		m.end("D1", "1.0", "A", t0)
		if !m.release("D1", "1.0") {
			t.Error("release does not report the sync it skipped")
		}
		if !m.skip("D1", "1.0", "A", t0) || m.skip("D1", "1.0", "B", t0) {
			t.Error("after the release, want skipped for what the click wrote (A) only")
		}
		m.hold("D2", "1.0")
		if m.release("D2", "1.0") {
			t.Error("release reports a skip that did not happen")
		}
		if m.skip("D2", "1.0", "A", t0) || len(m.shown) != 1 {
			t.Errorf("a released hold that wrote nothing left %d entries (want 1) or a skip", len(m.shown))
		}
	})
	t.Run("expires", func(t *testing.T) {
		var m shownMemo
		m.begin("D1", "1.0")
		m.end("D1", "1.0", "A", t0)
		if !m.skip("D1", "1.0", "A", t0.Add(shownTTL-time.Second)) || m.skip("D1", "1.0", "A", t0.Add(shownTTL)) {
			t.Error("want known until shownTTL, then not")
		}
	})
	t.Run("bounded", func(t *testing.T) {
		var m shownMemo
		m.begin("DX", "1.0")
		for i := range maxShown + 10 {
			ts := time.Unix(int64(i), 0).UTC().Format("15:04:05")
			m.begin("D1", ts)
			m.end("D1", ts, "A", t0)
		}
		if n := len(m.shown); n > maxShown {
			t.Errorf("%d entries, want at most %d", n, maxShown)
		}
		m.end("DX", "1.0", "A", t0) // a write on its way across a reset is still tracked
		if !m.skip("DX", "1.0", "A", t0) {
			t.Error("the write held across the reset was lost")
		}
	})
}
