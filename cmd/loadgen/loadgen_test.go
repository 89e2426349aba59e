package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// buildBots builds accessbot and the bare bot into a temp dir, with -race
// when this test binary has it.
func buildBots(t *testing.T) (accessbot, barebot string) {
	t.Helper()
	dir := t.TempDir()
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	if raceEnabled {
		args = append(args, "-race")
	}
	args = append(args, "github.com/accessbot/accessbot/cmd/accessbot", "github.com/accessbot/accessbot/cmd/loadgen/barebot")
	cmd := exec.Command("go", args...)
	cmd.Env = os.Environ()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return filepath.Join(dir, "accessbot"), filepath.Join(dir, "barebot")
}

// TestLoadgenSmoke runs the load tool briefly at a low rate, accessbot
// (SQLite) and the bare bot each as its own process, and checks that it
// measured: every envelope acked and none late, the work after the acks
// done, and every approval click answered on the clicked message and to
// the requester.
func TestLoadgenSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs two bots")
	}
	ab, bb := buildBots(t)
	var out, progress bytes.Buffer
	// The same build as the baseline: -baseline runs it in the same rounds.
	cfg := &config{accessbot: ab, baseline: ab, barebot: bb, rates: []float64{20}, duration: 2 * time.Second,
		stores: []string{"sqlite"}, rounds: 1, approvals: 2, users: 5, warmIDs: warmIDsStale, workDir: t.TempDir(), out: &out, progress: &progress}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	results, err := run(ctx, cfg)
	t.Logf("table:\n%s", out.String())
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 3 {
		t.Fatalf("%d runs, want 3 (accessbot, baseline and bare)", len(results))
	}
	for _, r := range results {
		t.Logf("counted %s: %d sent, %d acked, %d lost, %d late, %d redelivered, p99 %s ms, CPU %s µs/envelope, peak RSS %d KiB",
			r.target, r.sent, r.acked, r.lost, r.late, r.redelivered, ms(pct(r.lat, .99)), us(r.cpuPerEnvelope()), r.rssKiB)
		if want := 40 + r.approvals; r.sent != want {
			t.Errorf("%s: sent %d envelopes, want %d", r.target, r.sent, want)
		}
		if r.acked != r.sent || r.lost != 0 || r.late != 0 {
			t.Errorf("%s: %d of %d acked, %d lost, %d late; want all acked in time", r.target, r.acked, r.sent, r.lost, r.late)
		}
		if r.cpu <= 0 || r.rssKiB <= 0 {
			t.Errorf("%s: CPU %s, peak RSS %d KiB: not read from /proc", r.target, r.cpu, r.rssKiB)
		}
		if !isAccessbot(r.target) {
			continue
		}
		t.Logf("counted %s approvals: %d clicked, %d updated (p99 %s ms), %d requesters told (p99 %s ms); %d chat.update, %d chat.postMessage, %d response_url",
			r.target, r.clicked, len(r.updated), ms(pct(r.updated, .99)), len(r.dm), ms(pct(r.dm, .99)), r.chatUpdates, r.chatPosts, r.responseURLs)
		t.Logf("counted %s work: %d Home opens handled, %d published; %d owed not done", r.target, r.homes, r.published, r.workMissing)
		if r.workMissing != 0 {
			t.Errorf("%s: %d Home handlers or response_url answers missing", r.target, r.workMissing)
		}
		if r.published < 1 || r.published > r.homes {
			t.Errorf("%s: %d Home tabs published for %d opens", r.target, r.published, r.homes)
		}
		if r.clicked != 2 || r.notUpdated != 0 || r.noDM != 0 {
			t.Errorf("accessbot: %d clicks, %d clicked messages not updated, %d requesters not told; want 2, 0, 0", r.clicked, r.notUpdated, r.noDM)
		}
	}
	for _, row := range []string{"accessbot ÷ bare", "baseline ÷ bare"} {
		if !strings.Contains(out.String(), row) {
			t.Errorf("no %q row in the table", row)
		}
	}
}
