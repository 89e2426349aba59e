package reviews_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/slackapi"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/flows/reviews"
	"github.com/accessbot/accessbot/handlers"
	"github.com/accessbot/accessbot/jobs"
	"github.com/accessbot/accessbot/store"
)

// slackWorld is the fake Slack of a durable test: the fixture's tenant
// bound to team T1, every fixture user a member with the same email.
type slackWorld struct {
	t    *testing.T
	f    *fixture
	fake *slackfake.Server
	team slackfake.Team
	// backoff, when set, is the wait before a failed job's retry.
	backoff time.Duration
}

func newSlackWorld(f *fixture) *slackWorld {
	fake := slackfake.New()
	f.t.Cleanup(fake.Close)
	w := &slackWorld{t: f.t, f: f, fake: fake, team: fake.AddTeam(slackfake.Team{ID: "T1", Name: "Acme"})}
	f.must(f.st.BindWorkspace(f.ctx, &accessbot.Workspace{TenantID: f.ten.ID, TeamID: "T1", TeamName: "Acme", InstalledAt: t0}))
	for name, u := range f.u {
		_, err := fake.AddUser(slackfake.User{ID: "U" + strings.ToUpper(name), TeamID: "T1", Name: name, Email: u.Email})
		f.must(err)
	}
	return w
}

// process is one accessbot run on st: a review service telling n (nil:
// its Slack review notifier, which it also returns) whose DMs are jobs on
// its own queue, not started.
func (w *slackWorld) process(driver string, st store.Store, n reviews.Notifier) (*reviews.Service, *handlers.ReviewNotifier, *jobs.Queue) {
	f := w.f
	log := zerolog.New(zerolog.NewTestWriter(w.t)).Level(zerolog.WarnLevel)
	cl, err := slackapi.NewClient("T1", w.team.BotToken, slackapi.Options{APIURL: w.fake.URL(), Guard: slackapi.Strict{}, Pacing: &slackapi.Pacing{}})
	f.must(err)
	rn := handlers.NewReviewNotifier(handlers.ReviewNotifierConfig{Store: f.st, Now: f.clock.Now, Log: log,
		Clients: handlers.ChatClientsFunc(func(context.Context, string) (handlers.ChatAPI, error) { return cl, nil })})
	if n == nil {
		n = rn
	}
	var svc *reviews.Service
	workers := river.NewWorkers()
	reviews.AddWorkers(workers, func() *reviews.Service { return svc }, handlers.FinalSlackError)
	var backoff func(int) time.Duration
	if w.backoff > 0 {
		backoff = func(int) time.Duration { return w.backoff }
	}
	q, err := jobs.New(jobs.Config{Driver: driver, DB: f.st.(interface{ DB() *sql.DB }).DB(), Workers: workers,
		PollInterval: 20 * time.Millisecond, Backoff: backoff, Log: log})
	f.must(err)
	w.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = q.Stop(ctx)
	})
	svc = reviews.New(st, n, f.clock.Now, reviews.DefaultPolicy(), zerolog.Nop()).WithQueue(q)
	return svc, rn, q
}

// queued lists the jobs of the review kinds that are not finished.
func queued(f *fixture, q *jobs.Queue) []*rivertype.JobRow {
	f.t.Helper()
	res, err := q.Client().JobList(f.ctx, river.NewJobListParams().First(1000).
		States(rivertype.JobStateAvailable, rivertype.JobStateScheduled, rivertype.JobStateRetryable))
	f.must(err)
	var out []*rivertype.JobRow
	for _, j := range res.Jobs {
		if strings.HasPrefix(j.Kind, "review_") {
			out = append(out, j)
		}
	}
	return out
}

// workAll starts q and waits until it completed n review jobs.
func workAll(f *fixture, q *jobs.Queue, n int) {
	f.t.Helper()
	f.must(q.Start(f.ctx))
	deadline := time.Now().Add(30 * time.Second)
	for {
		done, err := q.Client().JobList(f.ctx, river.NewJobListParams().States(rivertype.JobStateCompleted).First(1000))
		f.must(err)
		got := 0
		for _, j := range done.Jobs {
			if strings.HasPrefix(j.Kind, "review_") {
				got++
			}
		}
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("%d of %d review DM jobs completed after the restart", got, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestLaunchDMsSurviveACrash: a launch's DMs are jobs committed with the
// campaign, not sends in the launching process's memory. The process that
// launched dies before its queue works them, one DM having reached Slack
// before its job was marked done; a new process's queue sends every
// reviewer their DM, and that one not a second time.
func TestLaunchDMsSurviveACrash(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		w := newSlackWorld(f)
		first, firstDMs, q1 := w.process(driver, f.st, nil)
		res, err := first.Launch(f.ctx, reviews.LaunchInput{TenantID: f.ten.ID, ActorID: f.u["ada"].ID, Name: "Q1 review",
			Scope: accessbot.ReviewScope{AppIDs: []string{f.app.ID}}, Levels: []accessbot.ReviewerRule{accessbot.ReviewerManager},
			DueAt: f.clock.Now().Add(10 * 24 * time.Hour)})
		f.must(err)
		if n := w.fake.CallCount("chat.postMessage"); n != 0 {
			t.Fatalf("the launch posted %d DMs itself; want them left to its jobs", n)
		}
		jobs := queued(f, q1)
		if len(jobs) != res.Reviewers || res.Reviewers < 2 {
			t.Fatalf("%d DM jobs committed with the launch, want one per reviewer (%d)", len(jobs), res.Reviewers)
		}
		// The dying process had posted one DM before its job was marked done.
		var a reviews.AssignedArgs
		f.must(json.Unmarshal(jobs[0].EncodedArgs, &a))
		c, err := f.st.GetCampaign(f.ctx, f.ten.ID, res.Campaign.ID)
		f.must(err)
		f.must(firstDMs.Assigned(f.ctx, reviews.Assignment{Campaign: *c, ReviewerID: a.ReviewerID, Reason: reviews.AssignLaunch,
			Items: a.Items, ByApp: a.ByApp, Pending: a.Items, Slot: a.Slot}))

		_, _, q2 := w.process(driver, f.st, nil) // the restart; q1 never ran
		workAll(f, q2, len(jobs))
		posts := w.fake.DeliveryPosts(slackapi.DeliveryEventType)
		t.Logf("[counts] %s: reviewers %d, DM jobs %d, DMs posted %d (chat.postMessage %d)", driver, res.Reviewers, len(jobs),
			len(posts), w.fake.CallCount("chat.postMessage"))
		if len(posts) != res.Reviewers {
			t.Errorf("%d reviewers got a DM, want %d", len(posts), res.Reviewers)
		}
		for k, n := range posts {
			if n != 1 {
				t.Errorf("DM %s posted %d times, want once", k, n)
			}
		}
	})
}

// dead is the notifier of a process that has died: nothing it was to send
// after its change committed goes out.
type dead struct{}

func (dead) Assigned(context.Context, reviews.Assignment) error { return errCrashed }
func (dead) Remind(context.Context, *accessbot.Campaign, string, string, int, bool) error {
	return errCrashed
}
func (dead) Escalated(context.Context, *accessbot.Campaign, string, int, []string) error {
	return errCrashed
}
func (dead) RevocationRequested(context.Context, *accessbot.Campaign, string, []accessbot.ReviewItem) error {
	return errCrashed
}

// TestDecisionDMsSurviveACrash: the DMs a decision batch and a nomination
// owe are jobs committed with them. Each change is made by a process that
// dies the moment it commits (its store and its Slack gone), one of its
// DMs having reached Slack before its job was marked done; a new process
// sends the next level's reviewer, the owner asked to revoke by hand and
// the nominee one DM each, and that one not a second time.
func TestDecisionDMsSurviveACrash(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		w := newSlackWorld(f)
		res := f.launch(accessbot.ReviewerManager, accessbot.ReviewerAppOwner) // its DMs go to the recorder
		camp := res.Campaign.ID

		// mia keeps bob's two items (olga reviews them next) and revokes
		// cat's admins (olga, the owner, removes it by hand).
		decider, firstDMs, q1 := w.process(driver, &crashAfterCommit{Store: f.st}, dead{})
		dec, err := decider.Decide(f.ctx, reviews.DecideInput{TenantID: f.ten.ID, ActorID: f.u["mia"].ID,
			Decisions: decisions(f.pending("mia"), func(it accessbot.ReviewItem) accessbot.ReviewDecision {
				if it.Subject == "Cat" {
					return accessbot.DecisionRevoke
				}
				return accessbot.DecisionKeep
			})})
		f.must(err)
		if len(dec.Decided) != 3 || len(dec.Next) != 2 {
			t.Fatalf("decided %d, next level %d; want 3 and 2", len(dec.Decided), len(dec.Next))
		}
		// olga hands dan's admins to ned, and that process dies too.
		var dans accessbot.ReviewItem
		for _, it := range f.pending("olga") {
			if it.Subject == "Dan" && it.EntitlementName == "admins" && it.Level == 0 {
				dans = it
			}
		}
		nominator := reviews.New(&crashAfterCommit{Store: f.st}, dead{}, f.clock.Now, reviews.DefaultPolicy(), zerolog.Nop()).WithQueue(q1)
		_, err = nominator.Nominate(f.ctx, reviews.NominateInput{TenantID: f.ten.ID, ActorID: f.u["olga"].ID, ItemID: dans.ID,
			ToUserID: f.u["ned"].ID, Reason: "ned runs the admins group"})
		f.must(err)
		if n := w.fake.CallCount("chat.postMessage"); n != 0 {
			t.Fatalf("the dead processes posted %d DMs", n)
		}
		jobs := queued(f, q1)
		if len(jobs) != 3 {
			t.Fatalf("%d DM jobs committed with the decisions and the nomination, want 3 (olga's next level, olga's revocation, ned's nomination)", len(jobs))
		}
		// The dying decider had posted olga's next-level DM before its job was marked done.
		for _, j := range jobs {
			var a reviews.AssignedArgs
			f.must(json.Unmarshal(j.EncodedArgs, &a))
			if j.Kind != reviews.KindAssigned || a.ReviewerID != f.u["olga"].ID {
				continue
			}
			c, err := f.st.GetCampaign(f.ctx, f.ten.ID, camp)
			f.must(err)
			f.must(firstDMs.Assigned(f.ctx, reviews.Assignment{Campaign: *c, ReviewerID: a.ReviewerID, Reason: reviews.AssignNextLevel,
				Items: a.Items, ByApp: a.ByApp, Pending: a.Items, Slot: a.Slot}))
		}
		if n := w.fake.CallCount("chat.postMessage"); n != 1 {
			t.Fatalf("%d DMs posted before the restart, want olga's next-level one", n)
		}

		_, _, q2 := w.process(driver, f.st, nil) // the restart; q1 never ran
		workAll(f, q2, len(jobs))
		posts := w.fake.DeliveryPosts(slackapi.DeliveryEventType)
		var keys []string
		for k, n := range posts {
			keys = append(keys, k)
			if n != 1 {
				t.Errorf("DM %s posted %d times, want once", k, n)
			}
		}
		sort.Strings(keys)
		t.Logf("[counts] %s: DM jobs %d, DMs posted %d (chat.postMessage %d): %v", driver, len(jobs), len(posts),
			w.fake.CallCount("chat.postMessage"), keys)
		olga, ned := f.u["olga"].ID, f.u["ned"].ID
		want := map[string]string{ // what → the key's start and end
			"olga's next level": "review:" + camp + ":assigned:next_level:|" + olga,
			"olga's revocation": "review:" + camp + ":revoke:|" + olga,
			"ned's nomination":  "review:" + camp + ":assigned:nominated:" + dans.ID + ":|" + ned,
		}
		for what, k := range want {
			pre, suf, _ := strings.Cut(k, "|")
			found := 0
			for _, key := range keys {
				if strings.HasPrefix(key, pre) && strings.HasSuffix(key, suf) {
					found++
				}
			}
			if found != 1 {
				t.Errorf("%s: %d DMs, want 1 (posted %v)", what, found, keys)
			}
		}
		if len(posts) != len(want) {
			t.Errorf("%d DMs posted, want %d: %v", len(posts), len(want), keys)
		}
	})
}
