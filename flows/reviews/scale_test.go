package reviews_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/slackapi"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/flows/reviews"
	"github.com/accessbot/accessbot/handlers"
	"github.com/accessbot/accessbot/jobs"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/backend"
	"github.com/accessbot/accessbot/store/storetest"
)

// slackLimit stands in front of the fake Slack and answers chat.postMessage
// 429 (Retry-After 1) when a call breaks Slack's limits: per channel one a
// second with a burst of 3, and per workspace the rate the bot is paced at,
// with 5 more calls of burst than the bot allows itself (Slack's "generous
// bursts"; without any, a call that waited a little longer on the network
// than the one before would count against its successor).
type slackLimit struct {
	perWorkspace slackapi.Limit
	mu           sync.Mutex
	tat          map[string]time.Time
	limited      int
	posts        []time.Time // accepted chat.postMessage calls
}

func (l *slackLimit) allow(key string, lim slackapi.Limit, now time.Time) bool {
	tat := l.tat[key]
	if tat.Before(now) {
		tat = now
	}
	if tat.Sub(now) > time.Duration(lim.Burst-1)*lim.Interval {
		return false
	}
	l.tat[key] = tat.Add(lim.Interval)
	return true
}

func (l *slackLimit) proxy(t *testing.T, fake *slackfake.Server) string {
	target, err := url.Parse(fake.BaseURL())
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/chat.postMessage") {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			form, _ := url.ParseQuery(string(body))
			now := time.Now()
			l.mu.Lock()
			ws := slackapi.Limit{Interval: l.perWorkspace.Interval, Burst: l.perWorkspace.Burst + 5}
			ok := l.allow("ws", ws, now) && l.allow("ch:"+form.Get("channel"), slackapi.Limit{Interval: time.Second, Burst: 3}, now)
			if ok {
				l.posts = append(l.posts, now)
			} else {
				l.limited++
			}
			l.mu.Unlock()
			if !ok {
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusTooManyRequests)
				_, _ = w.Write([]byte(`{"ok":false,"error":"ratelimited"}`))
				return
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/api/"
}

// scaleEnv reads a positive integer from env, or def.
func scaleEnv(t *testing.T, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive number", name, s)
	}
	return n
}

// TestScaleCampaign launches a campaign over generated inventory and then
// sends its reminders, through the real review notifier and Slack client
// (paced) against the fake Slack behind a limiter that answers 429 as
// Slack would. Reviewers are managers: each has 10 reports who hold 10
// entitlements each, so 100 items per reviewer. It reports the launch's
// time (it returns once committed with its DMs' jobs; a River queue,
// started then, sends them), how
// long the DMs took and at what rate against the configured pacing, and
// the 429s. CI runs 2,000 items (20 reviewers) at a 10 ms pace; the
// BENCHMARKS.md figures come from
//
//	ACCESSBOT_SCALE_REVIEW_ITEMS=100000 go test -run TestScaleCampaign -v -count=1 -timeout 60m ./flows/reviews/
//	ACCESSBOT_SCALE_REVIEW_ITEMS=100000 ACCESSBOT_SCALE_REPORTS=1 ... (10,000 reviewers: 10,000 DMs and reminders)
//
// ACCESSBOT_SCALE_LAUNCH_DMS=0 sends no launch DMs (the reminders alone).
// ACCESSBOT_SCALE_PACE_MS is the workspace pacing interval (default 10;
// slackapi.DefaultPacing's is 200, 5 a second, which makes 10,000 DMs take
// 33 minutes); ACCESSBOT_SCALE_LOOKUP_PACE_MS paces users.lookupByEmail and
// conversations.open (Tier 3; default the post pace, DefaultPacing's is
// 1000); ACCESSBOT_SCALE_DRIVER picks one store.
//
// The first round of DMs (the launch's, or with ACCESSBOT_SCALE_LAUNCH_DMS=0
// the first reminders) is cold: one lookup and one DM open per reviewer,
// whose answers are stored. A last round of reminders from a fresh client
// and notifier (a new replica: nothing in process) is warm: it must make no
// lookup and open no DM.
func TestScaleCampaign(t *testing.T) {
	items := scaleEnv(t, "ACCESSBOT_SCALE_REVIEW_ITEMS", 2000)
	pace := time.Duration(scaleEnv(t, "ACCESSBOT_SCALE_PACE_MS", 10)) * time.Millisecond
	const perEmployee = 10
	reports := scaleEnv(t, "ACCESSBOT_SCALE_REPORTS", 10)
	employees := max(1, items/perEmployee)
	managers := max(1, employees/reports)
	for _, driver := range storetest.Drivers(t) {
		if d := os.Getenv("ACCESSBOT_SCALE_DRIVER"); d != "" && d != driver {
			continue
		}
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			clk := &clock{now: t0}
			st := storetest.Open(t, driver, backend.WithClock(clk.Now))
			fake := slackfake.New()
			t.Cleanup(fake.Close)
			team := fake.AddTeam(slackfake.Team{ID: "T1", Name: "Acme"})

			start := time.Now()
			ten := &accessbot.Tenant{Slug: "acme", Name: "Acme"}
			must(t, st.CreateTenant(ctx, ten))
			must(t, st.BindWorkspace(ctx, &accessbot.Workspace{TenantID: ten.ID, TeamID: "T1", TeamName: "Acme", InstalledAt: t0}))
			admin := &accessbot.User{TenantID: ten.ID, Email: "ada@acme.test", Name: "Ada", Status: accessbot.UserActive, Role: accessbot.RoleAdmin}
			var ids []accessbot.Identity
			var rels []accessbot.RelationKey
			must(t, st.InTx(ctx, func(q store.Queries) error {
				if err := q.CreateUser(ctx, admin); err != nil {
					return err
				}
				var mgr *accessbot.User
				for e := range employees {
					if e%reports == 0 {
						mgr = &accessbot.User{TenantID: ten.ID, Email: fmt.Sprintf("m%d@acme.test", e/reports), Name: fmt.Sprintf("Manager %d", e/reports),
							Status: accessbot.UserActive, Role: accessbot.RoleMember}
						if err := q.CreateUser(ctx, mgr); err != nil {
							return err
						}
						if _, err := fake.AddUser(slackfake.User{ID: fmt.Sprintf("UM%d", e/reports), TeamID: "T1", Name: mgr.Name, Email: mgr.Email}); err != nil {
							return err
						}
					}
					email := fmt.Sprintf("e%d@acme.test", e)
					if err := q.CreateUser(ctx, &accessbot.User{TenantID: ten.ID, Email: email, Name: fmt.Sprintf("Employee %d", e),
						Status: accessbot.UserActive, Role: accessbot.RoleMember, ManagerID: mgr.ID}); err != nil {
						return err
					}
					ids = append(ids, accessbot.Identity{ExternalID: fmt.Sprintf("acct-%d", e), Email: email, Status: accessbot.IdentityActive})
					for k := range perEmployee {
						rels = append(rels, accessbot.RelationKey{IdentityExternalID: fmt.Sprintf("acct-%d", e), EntitlementExternalID: fmt.Sprintf("role-%d", (e+k)%100)})
					}
				}
				return nil
			}))
			app := &accessbot.Application{TenantID: ten.ID, Name: "Big", Connector: "manual", PrimaryOwnerID: admin.ID}
			must(t, st.CreateApplication(ctx, app))
			var ents []accessbot.AppEntitlement
			for k := range 100 {
				ents = append(ents, accessbot.AppEntitlement{ExternalID: fmt.Sprintf("role-%d", k), Name: fmt.Sprintf("Role %d", k), Type: "group"})
			}
			must(t, st.InTx(ctx, func(q store.Queries) error {
				if _, err := q.ReplaceIdentities(ctx, ten.ID, app.ID, ids, accessbot.SnapshotKeep{}, t0); err != nil {
					return err
				}
				if _, err := q.ReplaceAppEntitlements(ctx, ten.ID, app.ID, ents, accessbot.SnapshotKeep{}, t0); err != nil {
					return err
				}
				_, err := q.ReplaceRelations(ctx, ten.ID, app.ID, rels, accessbot.SnapshotKeep{}, t0)
				return err
			}))
			t.Logf("[counts] %s: %d employees, %d managers, %d relations made in %.1fs", driver, employees, managers, len(rels), time.Since(start).Seconds())

			pacing := slackapi.DefaultPacing()
			pacing.PerWorkspace.Interval = pace
			// Lookups and DM opens (Tier 3, one a second by default) go at
			// the post pace unless told, so a cold round's figures stay
			// about posting; a real cold fan-out looks up at most ~1/s. The
			// fake caps each as Slack's tier would, scaled to that pace: what
			// the pace lets through in a second, with room for HTTP jitter
			// (as TestTier3FanOutIsPaced, bot/slackapi, does).
			pacing.Lookups.Interval = time.Duration(scaleEnv(t, "ACCESSBOT_SCALE_LOOKUP_PACE_MS", int(pace/time.Millisecond))) * time.Millisecond
			tier3Cap := pacing.Lookups.Burst + int(time.Second/pacing.Lookups.Interval) + 5
			for _, m := range []string{"users.lookupByEmail", "conversations.open"} {
				fake.RateCap(m, tier3Cap, time.Second)
			}
			lim := &slackLimit{perWorkspace: pacing.PerWorkspace, tat: map[string]time.Time{}}
			apiURL := lim.proxy(t, fake)
			// replica is a new process's review service: its own Slack
			// client (pacing in memory) and notifier, sharing the store.
			replica := func() *reviews.Service {
				cl, err := slackapi.NewClient("T1", team.BotToken, slackapi.Options{APIURL: apiURL, Guard: slackapi.Strict{}, Pacing: &pacing})
				must(t, err)
				rn := handlers.NewReviewNotifier(handlers.ReviewNotifierConfig{Store: st, Now: clk.Now, Log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel),
					Clients: handlers.ChatClientsFunc(func(context.Context, string) (handlers.ChatAPI, error) { return cl, nil })})
				return reviews.New(st, rn, clk.Now, reviews.DefaultPolicy(), zerolog.Nop())
			}
			// The launch's DMs are jobs on a River queue, as run works them
			// (its default 4 workers); started once the launch returned.
			var svc *reviews.Service
			workers := river.NewWorkers()
			reviews.AddWorkers(workers, func() *reviews.Service { return svc }, handlers.FinalSlackError)
			q, err := jobs.New(jobs.Config{Driver: driver, DB: st.(interface{ DB() *sql.DB }).DB(), Workers: workers,
				PollInterval: 20 * time.Millisecond, Log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)})
			must(t, err)
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_ = q.Stop(ctx)
			})
			svc = replica().WithQueue(q)
			slackCalls := func() (int, int) { return fake.CallCount("users.lookupByEmail"), fake.CallCount("conversations.open") }

			// report reports the DMs sent since mark: how many, how long
			// from the first to the last, that rate against the pacing, and
			// the Tier 3 calls made for them.
			var markLookups, markOpens int
			report := func(what string, from int, began time.Time, want int) {
				t.Helper()
				lim.mu.Lock()
				defer func() { markLookups, markOpens = slackCalls() }()
				posts, limited := lim.posts[from:], lim.limited
				lim.mu.Unlock()
				if len(posts) != want || limited != 0 {
					t.Fatalf("%s: %d DMs, %d answered 429; want %d and none", what, len(posts), limited, want)
				}
				took := posts[len(posts)-1].Sub(began)
				// The pacing lets Burst go at once, then one per Interval.
				ideal := time.Duration(max(0, want-pacing.PerWorkspace.Burst)) * pacing.PerWorkspace.Interval
				pct := 100.0
				if took > 0 && ideal > 0 {
					pct = 100 * ideal.Seconds() / took.Seconds()
				}
				lookups, opens := slackCalls()
				t.Logf("[counts] %s: %s: %d DMs in %v (%.1f/s; pacing %v, burst %d: %.1f%% of its rate), %d answered 429, users.lookupByEmail %d, conversations.open %d (lookups paced %v)",
					driver, what, len(posts), took.Round(time.Millisecond), float64(len(posts))/took.Seconds(), pacing.PerWorkspace.Interval,
					pacing.PerWorkspace.Burst, pct, limited, lookups-markLookups, opens-markOpens, pacing.Lookups.Interval)
			}
			// tier3 checks the Slack Tier 3 calls made so far.
			tier3 := func(what string, wantLookups, wantOpens int) {
				t.Helper()
				lookups, opens := slackCalls()
				limited := fake.RateLimitCounts("users.lookupByEmail").Limited + fake.RateLimitCounts("conversations.open").Limited
				if lookups != wantLookups || opens != wantOpens || limited != 0 {
					t.Fatalf("%s: %d users.lookupByEmail and %d conversations.open calls in all, %d answered 429; want %d, %d and none",
						what, lookups, opens, limited, wantLookups, wantOpens)
				}
			}

			launcher := svc
			if os.Getenv("ACCESSBOT_SCALE_LAUNCH_DMS") == "0" { // measure the reminders alone
				launcher = reviews.New(st, nil, clk.Now, reviews.DefaultPolicy(), zerolog.Nop())
			}
			began := time.Now()
			res, err := launcher.Launch(ctx, reviews.LaunchInput{TenantID: ten.ID, ActorID: admin.ID, Name: "Everything",
				Scope: accessbot.ReviewScope{AppIDs: []string{app.ID}}, Levels: []accessbot.ReviewerRule{accessbot.ReviewerManager},
				DueAt: t0.Add(10 * 24 * time.Hour)})
			must(t, err)
			launched := time.Since(began)
			began = time.Now() // the DMs follow the launch
			t.Logf("[counts] %s: launch: %d items for %d reviewers, returned in %v", driver, res.Items, res.Reviewers, launched.Round(time.Millisecond))
			if res.Items != len(rels) || res.Reviewers != managers {
				t.Fatalf("launch: %d items, %d reviewers; want %d, %d", res.Items, res.Reviewers, len(rels), managers)
			}
			if launcher == svc {
				must(t, q.Start(ctx))
				deadline := time.Now().Add(time.Duration(managers)*pacing.PerWorkspace.Interval*5 + 2*time.Minute)
				for {
					lim.mu.Lock()
					n := len(lim.posts)
					lim.mu.Unlock()
					if n >= managers {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("launch DMs: %d of %d sent by %s", n, managers, deadline.Format(time.TimeOnly))
					}
					time.Sleep(10 * time.Millisecond)
				}
				report("launch DMs (cold)", 0, began, managers)
				tier3("launch DMs", managers, managers) // one each per reviewer
			}

			// 7 days before the due date: every reviewer is reminded.
			clk.Set(t0.Add(3 * 24 * time.Hour))
			mark := len(lim.posts)
			began = time.Now()
			tr, err := svc.Tick(ctx, ten.ID, clk.Now())
			must(t, err)
			if tr.Reminded != managers {
				t.Fatalf("tick reminded %d, want %d", tr.Reminded, managers)
			}
			if launcher == svc {
				report("reminders (ids stored)", mark, began, managers)
			} else {
				report("reminders (cold)", mark, began, managers)
			}
			tier3("first reminders", managers, managers) // none more once stored

			// 3 days before: a new replica reminds everyone from the stored
			// ids. Let both sides' bursts refill first.
			time.Sleep(time.Duration(pacing.PerWorkspace.Burst+5) * pacing.PerWorkspace.Interval)
			warm := replica()
			clk.Set(t0.Add(7 * 24 * time.Hour))
			mark = len(lim.posts)
			began = time.Now()
			tr, err = warm.Tick(ctx, ten.ID, clk.Now())
			must(t, err)
			if tr.Reminded != managers {
				t.Fatalf("warm tick reminded %d, want %d", tr.Reminded, managers)
			}
			report("reminders (warm: new replica, ids stored)", mark, began, managers)
			tier3("warm reminders", managers, managers)
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
