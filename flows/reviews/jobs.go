package reviews

import (
	"context"
	"errors"
	"fmt"

	"github.com/riverqueue/river"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/jobs"
	"github.com/accessbot/accessbot/store"
)

// KindAssigned is the job kind of one reviewer's assignment DM of a launch.
const KindAssigned = "review_assigned"

// AssignedArgs is one reviewer's launch DM: a durable job inserted in the
// launch's transaction, so it exists exactly when the campaign does and
// survives a crash until it is sent. The notifier's delivery outbox, keyed
// by Slot, keeps a retried job from posting twice.
type AssignedArgs struct {
	TenantID   string         `json:"tenant_id"`
	CampaignID string         `json:"campaign_id"`
	ReviewerID string         `json:"reviewer_id"`
	Slot       string         `json:"slot"`
	Items      int            `json:"items"`
	ByApp      map[string]int `json:"by_app"`
}

func (AssignedArgs) Kind() string { return KindAssigned }

// InsertOpts: the lowest priority, so a big launch's DMs, which go at
// Slack's pace for minutes, do not hold up request notifications.
func (AssignedArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Priority: 4} }

// Queue inserts jobs in a store transaction; *jobs.Queue is one.
type Queue interface {
	InsertManyTx(ctx context.Context, tx store.Queries, params []river.InsertManyParams) error
}

// WithQueue has Launch insert each reviewer's DM as a job (AssignedArgs)
// in the campaign's transaction, worked by AddWorkers' worker: the launch
// returns once it commits, and the DMs follow at the pace Slack allows,
// retried until sent, across restarts. Without a queue Launch sends them
// itself before it returns.
func (s *Service) WithQueue(q Queue) *Service {
	s.queue = q
	return s
}

// AddWorkers registers the review job kinds on w. svc is called when a job
// runs (the service may be built after the queue, but before it starts).
// An error final says no retry fixes (handlers.FinalSlackError: the
// reviewer is not in Slack) cancels the job; others are retried with
// backoff, and a full Slack pace snoozes it.
func AddWorkers(w *river.Workers, svc func() *Service, final func(error) bool) {
	river.AddWorker(w, &assignedWorker{svc: svc, final: final})
}

type assignedWorker struct {
	river.WorkerDefaults[AssignedArgs]
	svc   func() *Service
	final func(error) bool
}

func (w *assignedWorker) Work(ctx context.Context, j *river.Job[AssignedArgs]) error {
	err := w.svc().sendAssigned(ctx, j.Args)
	if err == nil {
		return nil
	}
	if _, busy := jobs.BusyFor(err); busy {
		return err // the jobs middleware snoozes it
	}
	if w.final != nil && jobs.AllFinal(err, w.final) {
		return jobs.Final(err)
	}
	return err
}

// sendAssigned sends one launch DM, with the reviewer's pending count as
// it is now. A campaign gone or closed meanwhile, or a reviewer with
// nothing left, gets none.
func (s *Service) sendAssigned(ctx context.Context, a AssignedArgs) error {
	c, err := s.st.GetCampaign(ctx, a.TenantID, a.CampaignID)
	if errors.Is(err, accessbot.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("review DM to %s: %w", a.ReviewerID, err)
	}
	if c.Status != accessbot.CampaignActive {
		return nil
	}
	pending, err := s.st.ListReviewItems(ctx, a.TenantID, accessbot.ReviewItemFilter{CampaignID: c.ID, ReviewerID: a.ReviewerID, Status: accessbot.ReviewPending})
	if err != nil {
		return fmt.Errorf("review DM to %s: %w", a.ReviewerID, err)
	}
	if len(pending) == 0 {
		return nil
	}
	return s.notify.Assigned(ctx, Assignment{Campaign: *c, ReviewerID: a.ReviewerID, Reason: AssignLaunch, Items: a.Items,
		ByApp: a.ByApp, Pending: len(pending), Slot: a.Slot})
}

// assignments groups items by reviewer, in the order each first appears:
// one Assignment each, Pending unset.
func assignments(c *accessbot.Campaign, items []accessbot.ReviewItem, why AssignReason) []Assignment {
	idx := map[string]int{}
	var out []Assignment
	for _, it := range items {
		i, ok := idx[it.ReviewerID]
		if !ok {
			i = len(out)
			idx[it.ReviewerID] = i
			out = append(out, Assignment{Campaign: *c, ReviewerID: it.ReviewerID, Reason: why, ByApp: map[string]int{},
				Slot: string(why) + ":" + it.ID})
		}
		out[i].Items++
		out[i].ByApp[it.AppName]++
	}
	return out
}

// enqueueAssigned inserts one AssignedArgs job per reviewer of a launch in tx.
func (s *Service) enqueueAssigned(ctx context.Context, tx store.Queries, c *accessbot.Campaign, items []accessbot.ReviewItem) error {
	as := assignments(c, items, AssignLaunch)
	params := make([]river.InsertManyParams, 0, len(as))
	for _, a := range as {
		params = append(params, river.InsertManyParams{Args: AssignedArgs{TenantID: c.TenantID, CampaignID: c.ID, ReviewerID: a.ReviewerID,
			Slot: a.Slot, Items: a.Items, ByApp: a.ByApp}})
	}
	if err := s.queue.InsertManyTx(ctx, tx, params); err != nil {
		return fmt.Errorf("launch campaign %q: queue its DMs: %w", c.Name, err)
	}
	return nil
}
