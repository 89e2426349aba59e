package playground_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/playground"
)

// clockControls is a Controls over a settable clock; the real one (the
// scheduler and the bot's clock) is driven in cmd/accessbot's tests.
type clockControls struct {
	mu  sync.Mutex
	now time.Time
	ran []string
}

func (c *clockControls) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clockControls) Advance(_ context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return nil
}
func (c *clockControls) RunNow(_ context.Context, job string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ran = append(c.ran, job)
	return nil
}
func (c *clockControls) Jobs() []playground.Job {
	return []playground.Job{{Name: "findings_digest", Label: "Send the findings digest"}}
}

func TestClockAPI(t *testing.T) {
	fake := slackfake.New()
	t.Cleanup(fake.Close)
	fake.AddTeam(slackfake.Team{ID: "T1"})
	if _, err := fake.AddUser(slackfake.User{ID: "UADA", TeamID: "T1"}); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	c := &clockControls{now: start}
	pg, err := playground.New(playground.Config{Fake: fake, TeamID: "T1", People: []playground.Person{{ID: "UADA"}},
		Controls: c, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{fake: fake}
	f.srv = newServer(t, pg)
	cases := []struct {
		name, path, body string
		code             int
		want             string
	}{
		{"a day", "/api/clock", `{"advance":"24h"}`, 200, `"now":"2026-12-05T09:00:00Z"`},
		{"not a duration", "/api/clock", `{"advance":"tomorrow"}`, 400, "such as 24h"},
		{"backwards", "/api/clock", `{"advance":"-1h"}`, 400, "such as 24h"},
		{"too far", "/api/clock", `{"advance":"1000h"}`, 400, "such as 24h"},
		{"run the digest", "/api/run", `{"job":"findings_digest"}`, 200, `"findings_digest"`},
		{"run another job", "/api/run", `{"job":"housekeeping"}`, 400, "cannot be run"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body := f.post(t, tc.path, "application/json", tc.body)
			if code != tc.code || !strings.Contains(body, tc.want) {
				t.Fatalf("POST %s %s = %d %s, want %d with %q", tc.path, tc.body, code, body, tc.code, tc.want)
			}
		})
	}
	if len(c.ran) != 1 || c.ran[0] != "findings_digest" || !c.Now().Equal(start.Add(24*time.Hour)) {
		t.Fatalf("ran %v, clock %s", c.ran, c.Now())
	}
	var got struct {
		Now  time.Time
		Jobs []playground.Job
	}
	getJSON(t, f.srv.URL+"/api/clock", &got)
	if !got.Now.Equal(start.Add(24*time.Hour)) || len(got.Jobs) != 1 {
		t.Fatalf("GET /api/clock = %+v", got)
	}
}
