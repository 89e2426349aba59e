package bot

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestAckFrame: the hand-built frame of a bare ack is what json.Marshal
// makes, and ids that need escaping still go through json.Marshal.
func TestAckFrame(t *testing.T) {
	for _, tc := range []struct {
		name, id string
		payload  any
	}{
		{"uuid, no payload", "1d6e6f7a-1f2b-4c3d-9e8f-0a1b2c3d4e5f", nil},
		{"quote and backslash", `a"b\c`, nil},
		{"html and unicode", "<é>\u2028", nil},
		{"payload", "abc", map[string]any{"text": "hi"}},
	} {
		got, err := ackFrame(tc.id, tc.payload)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		want, _ := json.Marshal(struct {
			EnvelopeID string `json:"envelope_id"`
			Payload    any    `json:"payload,omitempty"`
		}{tc.id, tc.payload})
		if string(got) != string(want) {
			t.Errorf("%s: frame %s, want %s", tc.name, got, want)
		}
		var back struct {
			EnvelopeID string `json:"envelope_id"`
		}
		if err := json.Unmarshal(got, &back); err != nil || back.EnvelopeID != tc.id {
			t.Errorf("%s: frame %s reads back as %q, %v", tc.name, got, back.EnvelopeID, err)
		}
	}
}

// BenchmarkAckFrame: a bare ack's frame, built by hand (ackFrame) and by
// json.Marshal of the envelope struct (what ackFrame did before).
func BenchmarkAckFrame(b *testing.B) {
	const id = "1d6e6f7a-1f2b-4c3d-9e8f-0a1b2c3d4e5f"
	b.Run("ackFrame", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ackFrame(id, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(struct {
				EnvelopeID string `json:"envelope_id"`
				Payload    any    `json:"payload,omitempty"`
			}{id, nil}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestAckFramePrepared: a prepared payload's frame is what json.Marshal
// makes of the same payload, and one of 20 KB or more is refused.
func TestAckFramePrepared(t *testing.T) {
	raw := json.RawMessage(`{"blocks":[{"type":"section"}],"response_type":"ephemeral","text":"hi \u003c"}`)
	for _, id := range []string{"1d6e6f7a-1f2b-4c3d-9e8f-0a1b2c3d4e5f", `a"b`} {
		got, err := ackFrame(id, raw)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(struct {
			EnvelopeID string `json:"envelope_id"`
			Payload    any    `json:"payload,omitempty"`
		}{id, raw})
		if string(got) != string(want) {
			t.Errorf("id %q: frame %s, want %s", id, got, want)
		}
	}
	big := json.RawMessage(`{"text":"` + strings.Repeat("x", maxAckBytes) + `"}`)
	if _, err := ackFrame("abc", big); err == nil {
		t.Error("a 20 KB prepared payload was framed")
	}
}
