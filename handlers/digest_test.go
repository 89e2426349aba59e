package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot"
	"github.com/accessbot/accessbot/bot/blockkit"
	"github.com/accessbot/accessbot/bot/slackapi"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/flows/digest"
	"github.com/accessbot/accessbot/flows/schedule"
	"github.com/accessbot/accessbot/handlers"
	"github.com/accessbot/accessbot/internal/secrets"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/storetest"
)

type digestEnv struct {
	fake   *slackfake.Server
	team   slackfake.Team
	st     store.Store
	tenant string
	now    *testClock
}

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Set(t time.Time)     { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func (c *testClock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newDigestEnv(t *testing.T, driver string, start time.Time) *digestEnv {
	t.Helper()
	fake := slackfake.New()
	t.Cleanup(fake.Close)
	team := fake.AddTeam(slackfake.Team{ID: "T1", Name: "Acme"})
	st := storetest.Open(t, driver)
	ctx := context.Background()
	ten := &accessbot.Tenant{Slug: "acme", Name: "Acme"}
	must(t, st.CreateTenant(ctx, ten))
	must(t, st.BindWorkspace(ctx, &accessbot.Workspace{TenantID: ten.ID, TeamID: team.ID, TeamName: "Acme", BotUserID: team.BotUserID}))
	return &digestEnv{fake: fake, team: team, st: st, tenant: ten.ID, now: &testClock{t: start}}
}

// notifier is the Slack side as run wires it, with the strict guard, no
// pacing and no 429 retry inside the client (so a 429 fails the slot and
// the scheduler's retry is what recovers).
func (e *digestEnv) notifier(t *testing.T, retries int) *handlers.Digest {
	clients := slackapi.NewClients(e.st, nil, secrets.Secret(e.team.BotToken), slackapi.Options{
		APIURL: e.fake.URL(), Pacing: &slackapi.Pacing{}, Guard: slackapi.Strict{}, Retry: slackapi.Retry{MaxAttempts: retries},
	})
	return handlers.NewDigest(handlers.DigestConfig{Store: e.st, Clients: handlers.SlackChatClients(clients), Now: e.now.Now,
		Log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)})
}

func (e *digestEnv) report(t *testing.T, rule string, sev accessbot.Severity, n int) {
	t.Helper()
	matches := make([]accessbot.FindingMatch, n)
	for i := range matches {
		matches[i] = accessbot.FindingMatch{Severity: sev, Subject: accessbot.Subject{Kind: accessbot.SubjectIdentity, ID: fmt.Sprintf("%s-%d", rule, i), Display: fmt.Sprintf("acct-%d@acme.test", i)}}
	}
	if _, err := e.st.ReportFindings(context.Background(), e.tenant, rule, matches, e.now.Now()); err != nil {
		t.Fatal(err)
	}
}

// topLevel counts the channel's top-level messages whose text starts with prefix.
func (e *digestEnv) topLevel(channel, prefix string) []slackfake.Message {
	var out []slackfake.Message
	for _, m := range e.fake.Messages(channel) {
		if m.ThreadTS == "" && strings.HasPrefix(m.Text, prefix) && !m.Ephemeral {
			out = append(out, m)
		}
	}
	return out
}

func berlinUTC(y int, mo time.Month, d, h, mi int) time.Time {
	return time.Date(y, mo, d, h, mi, 0, 0, time.UTC)
}

// TestDigestThreeReplicasOneDigestPerSlot: three schedulers, each with its
// own digest service and Slack client, share one store and the fake Slack
// over simulated days (a 429 in the middle, an all-clear day, a critical
// finding): every slot's digest reaches each channel exactly once.
func TestDigestThreeReplicasOneDigestPerSlot(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			start := berlinUTC(2026, 10, 23, 0, 0)
			e := newDigestEnv(t, driver, start)
			ctx := context.Background()
			must(t, e.st.PutAlertSettings(ctx, &store.AlertSettings{TenantID: e.tenant, Channels: []string{"C1", "C2"}, AllClear: true, Since: start}))
			must(t, e.st.PutSchedule(ctx, &store.Schedule{TenantID: e.tenant, Job: digest.Job, Cron: "0 9 * * *", TimeZone: "Europe/Berlin", Since: start}))
			var scheds []*schedule.Scheduler
			for i := range 3 {
				svc := digest.New(e.st, e.notifier(t, 1), digest.Config{Clock: e.now.Now})
				s, err := schedule.New(schedule.Config{Store: e.st, Owner: fmt.Sprintf("r%d", i), Clock: e.now.Now,
					Backoff: func(int) time.Duration { return time.Minute }})
				must(t, err)
				must(t, s.Register(digest.Job, svc))
				s.Every("critical_alerts", svc.AlertCritical)
				scheds = append(scheds, s)
			}
			tick := func() {
				var wg sync.WaitGroup
				for _, s := range scheds {
					wg.Go(func() { _ = s.Tick(ctx) }) // a 429'd attempt reports an error; counts decide
				}
				wg.Wait()
			}
			// Day 1 (Fri 23 Oct, CEST): three findings, one critical.
			e.now.Set(berlinUTC(2026, 10, 23, 5, 0))
			e.report(t, "orphan", accessbot.SeverityHigh, 2)
			e.report(t, "terminated_active", accessbot.SeverityCritical, 1)
			for e.now.Now().Before(berlinUTC(2026, 10, 24, 5, 0)) {
				tick()
				e.now.Add(13 * time.Minute)
			}
			// Day 2: two findings; Slack answers the first post with 429.
			e.report(t, "unused", accessbot.SeverityLow, 2)
			e.fake.FailNext("chat.postMessage", 1, 429, time.Second)
			for e.now.Now().Before(berlinUTC(2026, 10, 25, 5, 0)) {
				tick()
				e.now.Add(13 * time.Minute)
			}
			// Day 3 (Sun 25 Oct, clocks fall back): nothing new → all clear.
			for e.now.Now().Before(berlinUTC(2026, 10, 26, 5, 0)) {
				tick()
				e.now.Add(13 * time.Minute)
			}
			for _, ch := range []string{"C1", "C2"} {
				digests := e.topLevel(ch, "Findings digest")
				clear := e.topLevel(ch, ":white_check_mark: All clear")
				crit := e.topLevel(ch, "Critical finding")
				if len(digests) != 2 || len(clear) != 1 || len(crit) != 1 {
					t.Errorf("%s: %d digests, %d all-clears, %d critical alerts; want 2, 1, 1", ch, len(digests), len(clear), len(crit))
				}
				if len(digests) == 2 && (!strings.HasPrefix(digests[0].Text, "Findings digest: 3 new") || !strings.HasPrefix(digests[1].Text, "Findings digest: 2 new")) {
					t.Errorf("%s: digests %q, %q", ch, digests[0].Text, digests[1].Text)
				}
			}
			if n := len(e.fake.Calls("chat.postMessage")); n != 9 {
				// 2 channels × (2 digests + 1 all clear + 1 critical) + the one 429.
				t.Errorf("%d chat.postMessage calls, want 9", n)
			}
		})
	}
}

// TestDigestOf5000SplitsWithinLimits: 5,000 new findings go out as one top
// message and thread replies, every message within Block Kit limits, every
// finding listed once.
func TestDigestOf5000SplitsWithinLimits(t *testing.T) {
	e := newDigestEnv(t, "sqlite", berlinUTC(2026, 7, 1, 6, 0))
	ctx := context.Background()
	must(t, e.st.PutAlertSettings(ctx, &store.AlertSettings{TenantID: e.tenant, Channels: []string{"C1"}, AllClear: true}))
	sevs := []accessbot.Severity{accessbot.SeverityLow, accessbot.SeverityHigh, accessbot.SeverityCritical, accessbot.SeverityMedium}
	for i, s := range sevs {
		e.report(t, fmt.Sprintf("rule-%d", i), s, 1250)
	}
	e.now.Set(berlinUTC(2026, 7, 1, 7, 0))
	svc := digest.New(e.st, e.notifier(t, 4), digest.Config{MaxItems: -1, Clock: e.now.Now})
	must(t, svc.Run(ctx, schedule.Run{TenantID: e.tenant, Job: digest.Job, Slot: e.now.Now(), Attempt: 1}))

	msgs := e.fake.Messages("C1")
	top := e.topLevel("C1", "Findings digest")
	if len(top) != 1 {
		t.Fatalf("%d top-level digests", len(top))
	}
	seen := map[string]int{}
	replies := 0
	lastRank := -1
	for _, m := range msgs {
		if m.ThreadTS != "" {
			if m.ThreadTS != top[0].TS {
				t.Fatalf("reply in thread %s, want %s", m.ThreadTS, top[0].TS)
			}
			replies++
		}
		var blocks slack.Blocks
		must(t, json.Unmarshal(m.Blocks, &blocks))
		if err := blockkit.ValidateMessageText(m.Text, blocks.BlockSet); err != nil {
			t.Fatalf("message %s breaks Block Kit limits: %v", m.TS, err)
		}
		for _, b := range blocks.BlockSet {
			if sb, ok := b.(*slack.SectionBlock); ok && strings.HasPrefix(sb.BlockID, "digest_item:") {
				seen[strings.TrimPrefix(sb.BlockID, "digest_item:")]++
				rank := severityRank(sb.Text.Text)
				if rank < lastRank {
					t.Fatalf("items not most severe first: %q after rank %d", sb.Text.Text, lastRank)
				}
				lastRank = rank
			}
		}
	}
	if len(seen) != 5000 {
		t.Fatalf("%d distinct findings listed, want 5000", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("finding %s listed %d times", id, n)
		}
	}
	if want := (5000 - 10 + 49) / 50; replies != want {
		t.Fatalf("%d thread replies, want %d", replies, want)
	}
	// A retry of the same slot sends nothing again.
	before := len(e.fake.Calls("chat.postMessage"))
	must(t, svc.Run(ctx, schedule.Run{TenantID: e.tenant, Job: digest.Job, Slot: e.now.Now(), Attempt: 2}))
	if after := len(e.fake.Calls("chat.postMessage")); after != before {
		t.Fatalf("a rerun of the slot posted %d more messages", after-before)
	}
}

func severityRank(text string) int {
	for i, s := range accessbot.Severities {
		if strings.Contains(text, "*"+string(s)+"*") {
			return i
		}
	}
	return 99
}

// startDigestBot runs the real bot (sockets, router, identity) with the
// digest's item actions routed, until the test ends.
func startDigestBot(t *testing.T, ctx context.Context, e *digestEnv) {
	t.Helper()
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	app, err := bot.NewApp(bot.AppConfig{
		Store: e.st, AppToken: secrets.Secret(e.fake.AppToken()), BotToken: secrets.Secret(e.team.BotToken),
		APIURL: e.fake.URL(), Connections: 1, PingInterval: 5 * time.Second, Pacing: &slackapi.Pacing{}, Guard: slackapi.Strict{},
		Register: func(r *bot.Router, id bot.Resolver) error {
			must(t, handlers.Register(r, handlers.Deps{Identity: id}))
			return handlers.RegisterDigest(r, handlers.NewDigest(handlers.DigestConfig{Store: e.st, Now: e.now.Now, Log: log}))
		},
		Now: e.now.Now, Log: log,
	})
	must(t, err)
	runApp(t, ctx, e.fake, app)
}

// addPeople adds Slack users and tenant users of the same emails.
func (e *digestEnv) addPeople(t *testing.T, ctx context.Context, people map[string]accessbot.Role) map[string]*accessbot.User {
	t.Helper()
	out := map[string]*accessbot.User{}
	for name, role := range people {
		email := name + "@acme.test"
		if _, err := e.fake.AddUser(slackfake.User{ID: "U" + strings.ToUpper(name), TeamID: "T1", Name: name, RealName: name, Email: email}); err != nil {
			t.Fatal(err)
		}
		u := &accessbot.User{TenantID: e.tenant, Email: email, Name: name, Status: accessbot.UserActive, Role: role}
		must(t, e.st.CreateUser(ctx, u))
		out[name] = u
	}
	return out
}

// waitEphemeral waits for an ephemeral answer to user containing text.
func (e *digestEnv) waitEphemeral(t *testing.T, ctx context.Context, user, contains string) {
	t.Helper()
	if err := e.fake.WaitFor(ctx, func() bool {
		for _, m := range e.fake.AllMessages() {
			if m.Ephemeral && m.Recipient == user && strings.Contains(m.Text, contains) {
				return true
			}
		}
		return false
	}); err != nil {
		t.Fatalf("no answer to %s containing %q", user, contains)
	}
}

// clickFinding clicks the item button action ("ack", "resolve") of finding
// id on the message at ts, as user, and waits for the ack.
func (e *digestEnv) clickFinding(t *testing.T, ctx context.Context, user, channel, ts, action, id string) {
	t.Helper()
	env := e.fake.SendInteractive(e.fake.BlockActionOnMessage("T1", user, channel, ts,
		slackfake.Action{ActionID: "finding_" + action, BlockID: "digest_actions:" + id, Value: id}))
	if _, err := e.fake.AwaitAck(ctx, env); err != nil {
		t.Fatal(err)
	}
}
