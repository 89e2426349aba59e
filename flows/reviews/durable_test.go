package reviews_test

import (
	"context"
	"database/sql"
	"encoding/json"
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
)

// TestLaunchDMsSurviveACrash: a launch's DMs are jobs committed with the
// campaign, not sends in the launching process's memory. The process that
// launched dies before its queue works them, one DM having reached Slack
// before its job was marked done; a new process's queue sends every
// reviewer their DM, and that one not a second time.
func TestLaunchDMsSurviveACrash(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		fake := slackfake.New()
		t.Cleanup(fake.Close)
		team := fake.AddTeam(slackfake.Team{ID: "T1", Name: "Acme"})
		f.must(f.st.BindWorkspace(f.ctx, &accessbot.Workspace{TenantID: f.ten.ID, TeamID: "T1", TeamName: "Acme", InstalledAt: t0}))
		for name, u := range f.u {
			_, err := fake.AddUser(slackfake.User{ID: "U" + strings.ToUpper(name), TeamID: "T1", Name: name, Email: u.Email})
			f.must(err)
		}
		log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
		// process is one accessbot run: a review service whose launch DMs
		// are jobs on its own queue (not started).
		process := func() (*reviews.Service, *handlers.ReviewNotifier, *jobs.Queue) {
			cl, err := slackapi.NewClient("T1", team.BotToken, slackapi.Options{APIURL: fake.URL(), Guard: slackapi.Strict{}, Pacing: &slackapi.Pacing{}})
			f.must(err)
			rn := handlers.NewReviewNotifier(handlers.ReviewNotifierConfig{Store: f.st, Now: f.clock.Now, Log: log,
				Clients: handlers.ChatClientsFunc(func(context.Context, string) (handlers.ChatAPI, error) { return cl, nil })})
			var svc *reviews.Service
			w := river.NewWorkers()
			reviews.AddWorkers(w, func() *reviews.Service { return svc }, handlers.FinalSlackError)
			q, err := jobs.New(jobs.Config{Driver: driver, DB: f.st.(interface{ DB() *sql.DB }).DB(), Workers: w,
				PollInterval: 20 * time.Millisecond, Log: log})
			f.must(err)
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = q.Stop(ctx)
			})
			svc = reviews.New(f.st, rn, f.clock.Now, reviews.DefaultPolicy(), zerolog.Nop()).WithQueue(q)
			return svc, rn, q
		}
		first, firstDMs, q1 := process()
		res, err := first.Launch(f.ctx, reviews.LaunchInput{TenantID: f.ten.ID, ActorID: f.u["ada"].ID, Name: "Q1 review",
			Scope: accessbot.ReviewScope{AppIDs: []string{f.app.ID}}, Levels: []accessbot.ReviewerRule{accessbot.ReviewerManager},
			DueAt: f.clock.Now().Add(10 * 24 * time.Hour)})
		f.must(err)
		if n := fake.CallCount("chat.postMessage"); n != 0 {
			t.Fatalf("the launch posted %d DMs itself; want them left to its jobs", n)
		}
		queued, err := q1.Client().JobList(f.ctx, river.NewJobListParams().Kinds(reviews.KindAssigned).First(100))
		f.must(err)
		if len(queued.Jobs) != res.Reviewers || res.Reviewers < 2 {
			t.Fatalf("%d DM jobs committed with the launch, want one per reviewer (%d)", len(queued.Jobs), res.Reviewers)
		}
		// The dying process had posted one DM before its job was marked done.
		var a reviews.AssignedArgs
		f.must(json.Unmarshal(queued.Jobs[0].EncodedArgs, &a))
		c, err := f.st.GetCampaign(f.ctx, f.ten.ID, res.Campaign.ID)
		f.must(err)
		f.must(firstDMs.Assigned(f.ctx, reviews.Assignment{Campaign: *c, ReviewerID: a.ReviewerID, Reason: reviews.AssignLaunch,
			Items: a.Items, ByApp: a.ByApp, Pending: a.Items, Slot: a.Slot}))

		_, _, q2 := process() // the restart; q1 never ran
		f.must(q2.Start(f.ctx))
		deadline := time.Now().Add(30 * time.Second)
		for {
			done, err := q2.Client().JobList(f.ctx, river.NewJobListParams().Kinds(reviews.KindAssigned).
				States(rivertype.JobStateCompleted).First(100))
			f.must(err)
			if len(done.Jobs) == res.Reviewers {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d DM jobs completed after the restart", len(done.Jobs), res.Reviewers)
			}
			time.Sleep(20 * time.Millisecond)
		}
		posts := fake.DeliveryPosts(slackapi.DeliveryEventType)
		t.Logf("[counts] %s: reviewers %d, DM jobs %d, DMs posted %d (chat.postMessage %d)", driver, res.Reviewers, len(queued.Jobs),
			len(posts), fake.CallCount("chat.postMessage"))
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
