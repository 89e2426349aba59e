package reviews_test

import (
	"context"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river/rivertype"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/reviews"
	"github.com/accessbot/accessbot/handlers"
)

// deadProgress is the notifier of a dead process that could have updated
// reviewers' DMs.
type deadProgress struct{ dead }

func (deadProgress) Progress(context.Context, *accessbot.Campaign, string, int) error {
	return errCrashed
}

// trackedDM sends mia her assignment DM through rn, as the launch's job
// would, and returns where it is.
func trackedDM(f *fixture, rn *handlers.ReviewNotifier, campaignID string) accessbot.MessageRef {
	f.t.Helper()
	c, err := f.st.GetCampaign(f.ctx, f.ten.ID, campaignID)
	f.must(err)
	mine := f.pending("mia")
	f.must(rn.Assigned(f.ctx, reviews.Assignment{Campaign: *c, ReviewerID: f.u["mia"].ID, Reason: reviews.AssignLaunch,
		Items: len(mine), ByApp: map[string]int{"GitLab": len(mine)}, Pending: len(mine), Slot: "launch:test"}))
	refs, err := f.st.ListMessageRefs(f.ctx, f.ten.ID, campaignID)
	f.must(err)
	if len(refs) != 1 || refs[0].UserID != f.u["mia"].ID {
		f.t.Fatalf("tracked review DMs %+v, want mia's one", refs)
	}
	return refs[0]
}

// leftIn reads the pending count a review DM's text shows: "N items (left)
// for you", 0 for "you are done", -1 for anything else.
var leftRE = regexp.MustCompile(`(\d+) items? (?:left )?for you`)

func leftIn(text string) int {
	if m := leftRE.FindStringSubmatch(text); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n
	}
	if strings.Contains(text, "you are done") {
		return 0
	}
	return -1
}

// shownCounts are the counts of the chat.update calls Slack accepted, in order.
func (w *slackWorld) shownCounts() []int {
	var out []int
	for _, c := range w.fake.Calls("chat.update") {
		if c.Status == http.StatusOK && c.Error == "" {
			out = append(out, leftIn(c.Param("text")))
		}
	}
	return out
}

// waitShown waits until ref's message says what is left is want.
func (w *slackWorld) waitShown(ref accessbot.MessageRef, want int) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(w.f.ctx, 30*time.Second)
	defer cancel()
	if err := w.fake.WaitFor(ctx, func() bool {
		m, ok := w.fake.Message(ref.ChannelID, ref.TS)
		return ok && leftIn(m.Text) == want
	}); err != nil {
		m, _ := w.fake.Message(ref.ChannelID, ref.TS)
		w.t.Fatalf("mia's DM never showed %d left; it says %q (updates shown: %v)", want, m.Text, w.shownCounts())
	}
}

func kinds(js []*rivertype.JobRow) []string {
	var out []string
	for _, j := range js {
		out = append(out, j.Kind)
	}
	return out
}

// TestProgressSurvivesACrash: the update of the decider's DM to what they
// have left is a job committed with the decision. Two decisions by mia are
// made by processes that die the moment they commit, so her DM still says
// 3; a new process brings it to 1, with one chat.update: the job of the
// first decision, running after both, shows the newest count and the
// second's finds nothing left to show.
func TestProgressSurvivesACrash(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		w := newSlackWorld(f)
		res := f.launch(accessbot.ReviewerManager) // its DMs go to the recorder
		_, rn, _ := w.process(driver, f.st, nil)
		dm := trackedDM(f, rn, res.Campaign.ID)
		mine := f.pending("mia")
		if len(mine) != 3 {
			t.Fatalf("mia reviews %d items, want 3", len(mine))
		}
		for _, it := range mine[:2] {
			decider, _, _ := w.process(driver, &crashAfterCommit{Store: f.st}, deadProgress{})
			_, err := decider.Decide(f.ctx, reviews.DecideInput{TenantID: f.ten.ID, ActorID: f.u["mia"].ID,
				Decisions: []reviews.ItemDecision{{ItemID: it.ID, Decision: accessbot.DecisionKeep}}})
			f.must(err)
		}
		_, _, q := w.process(driver, f.st, nil) // the restart
		owed := queued(f, q)
		if len(owed) != 2 || owed[0].Kind != reviews.KindProgress || owed[1].Kind != reviews.KindProgress {
			t.Fatalf("%d jobs committed with the decisions (%v), want 2 %s", len(owed), kinds(owed), reviews.KindProgress)
		}
		if m, _ := w.fake.Message(dm.ChannelID, dm.TS); leftIn(m.Text) != 3 || w.fake.CallCount("chat.update") != 0 {
			t.Fatalf("before the restart mia's DM says %q after %d updates; want 3 left, none", m.Text, w.fake.CallCount("chat.update"))
		}
		workAll(f, q, len(owed))
		w.waitShown(dm, 1)
		shown := w.shownCounts()
		t.Logf("[counts] %s: progress jobs %d, updates shown %v", driver, len(owed), shown)
		if len(shown) != 1 {
			t.Errorf("updates shown %v, want one (the newest count, once)", shown)
		}
	})
}

// TestProgressThroughSlackErrors: Slack answers 503 to updates, and slowly,
// while mia decides her three items one after another, with the queue
// running. Her
// DM ends up saying she is done; the failed updates were retried, and no
// count Slack accepted was older than one it accepted before (the counts
// shown only go down).
func TestProgressThroughSlackErrors(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		w := newSlackWorld(f)
		w.backoff = 50 * time.Millisecond
		res := f.launch(accessbot.ReviewerManager)
		svc, rn, q := w.process(driver, f.st, nil)
		dm := trackedDM(f, rn, res.Campaign.ID)
		f.must(q.Start(f.ctx))
		w.fake.FailNext("chat.update", 3, http.StatusServiceUnavailable, 0)
		// Slow answers, and decisions while updates are on their way: a
		// change lands between an update's read and its chat.update.
		w.fake.Delay("chat.update", 150*time.Millisecond)
		for _, it := range f.pending("mia") {
			_, err := svc.Decide(f.ctx, reviews.DecideInput{TenantID: f.ten.ID, ActorID: f.u["mia"].ID,
				Decisions: []reviews.ItemDecision{{ItemID: it.ID, Decision: accessbot.DecisionRevoke}}})
			f.must(err)
			time.Sleep(250 * time.Millisecond)
		}
		w.waitShown(dm, 0)
		calls := w.fake.Calls("chat.update")
		failed := 0
		for _, c := range calls {
			if c.Status == http.StatusServiceUnavailable {
				failed++
			}
		}
		shown := w.shownCounts()
		t.Logf("[counts] %s: chat.update %d (%d answered 503), counts shown %v", driver, len(calls), failed, shown)
		if failed != 3 {
			t.Errorf("%d updates answered 503, want the 3 injected", failed)
		}
		for i := 1; i < len(shown); i++ {
			if shown[i] > shown[i-1] {
				t.Errorf("Slack showed %d left after %d: an older count after a newer (%v)", shown[i], shown[i-1], shown)
			}
		}
		if len(shown) == 0 || shown[len(shown)-1] != 0 || len(shown) > 3 {
			t.Errorf("counts shown %v, want at most one per decision, ending at 0", shown)
		}
	})
}
