package reviews

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/riverqueue/river"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/jobs"
	"github.com/accessbot/accessbot/store"
)

// Job kinds of the review DMs owed by a committed change.
const (
	// KindAssigned is one reviewer's assignment DM: of a launch, of the
	// next level after a Keep, or of a nomination.
	KindAssigned = "review_assigned"
	// KindRevocation asks an application owner to remove what one
	// decision batch revoked.
	KindRevocation = "review_revocation"
	// KindProgress brings the pending count in one reviewer's DMs about a
	// campaign up to date after their items changed.
	KindProgress = "review_progress"
)

// notice is a review DM a change owes: with WithQueue a job inserted in the
// change's transaction (owe), so it exists exactly when the change does and
// survives a crash until it is sent; without a queue it is sent once the
// change has committed (deliver). Each carries its delivery slot, so the
// notifier's outbox keeps a retried job from posting twice.
type notice interface {
	river.JobArgs
	send(ctx context.Context, s *Service) error
}

// AssignedArgs is one reviewer's assignment DM.
type AssignedArgs struct {
	TenantID   string         `json:"tenant_id"`
	CampaignID string         `json:"campaign_id"`
	ReviewerID string         `json:"reviewer_id"`
	Slot       string         `json:"slot"`
	Items      int            `json:"items"`
	ByApp      map[string]int `json:"by_app"`
	// Reason is why ("" in jobs queued before it was recorded: a launch);
	// From and Note are a nomination's nominator and reason.
	Reason AssignReason `json:"reason,omitempty"`
	From   string       `json:"from,omitempty"`
	Note   string       `json:"note,omitempty"`
}

func (AssignedArgs) Kind() string { return KindAssigned }

// InsertOpts: a launch's DMs, which go at Slack's pace for minutes, get the
// lowest priority so they hold up neither request notifications nor the DMs
// of the decisions reviewers make meanwhile.
func (a AssignedArgs) InsertOpts() river.InsertOpts {
	if a.Reason == "" || a.Reason == AssignLaunch {
		return river.InsertOpts{Priority: 4}
	}
	return river.InsertOpts{Priority: 2}
}

// RevocationArgs asks an owner to remove the items one batch of decisions
// revoked in a campaign (by hand: no deprovisioning chain matched them).
type RevocationArgs struct {
	TenantID   string   `json:"tenant_id"`
	CampaignID string   `json:"campaign_id"`
	OwnerID    string   `json:"owner_id"`
	ItemIDs    []string `json:"item_ids"`
}

func (RevocationArgs) Kind() string                 { return KindRevocation }
func (RevocationArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Priority: 2} }

// ProgressArgs brings a reviewer's DMs about a campaign up to date. Every
// change of their pending count owes one (and bumps its generation, see
// store.ReviewProgress) in its transaction; which of them runs first shows
// the count as it is then, and the others find nothing left to show.
type ProgressArgs struct {
	TenantID   string `json:"tenant_id"`
	CampaignID string `json:"campaign_id"`
	ReviewerID string `json:"reviewer_id"`
}

func (ProgressArgs) Kind() string { return KindProgress }

// InsertOpts: a count a moment late matters less than a DM, so it goes after
// the decisions' DMs but before a launch's.
func (ProgressArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Priority: 3} }

// Queue inserts jobs in a store transaction; *jobs.Queue is one.
type Queue interface {
	InsertManyTx(ctx context.Context, tx store.Queries, params []river.InsertManyParams) error
}

// WithQueue has every review DM a launch, decision or nomination owes
// inserted as a job in that change's transaction, worked by AddWorkers'
// workers: the change returns once it commits, and the DMs follow at the
// pace Slack allows, retried until sent, across restarts. Without a queue
// they are sent after commit, before the change returns, and a crash in
// between loses them.
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
	river.AddWorker(w, &noticeWorker[AssignedArgs]{svc: svc, final: final})
	river.AddWorker(w, &noticeWorker[RevocationArgs]{svc: svc, final: final})
	river.AddWorker(w, &noticeWorker[ProgressArgs]{svc: svc, final: final})
}

type noticeWorker[T notice] struct {
	river.WorkerDefaults[T]
	svc   func() *Service
	final func(error) bool
}

func (w *noticeWorker[T]) Work(ctx context.Context, j *river.Job[T]) error {
	err := j.Args.send(ctx, w.svc())
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

// owe inserts ns as jobs in tx, the transaction of the change that owes
// them; without a queue it does nothing (deliver sends them after commit).
func (s *Service) owe(ctx context.Context, tx store.Queries, ns []notice) error {
	if s.queue == nil || len(ns) == 0 {
		return nil
	}
	params := make([]river.InsertManyParams, 0, len(ns))
	for _, n := range ns {
		params = append(params, river.InsertManyParams{Args: n})
	}
	if err := s.queue.InsertManyTx(ctx, tx, params); err != nil {
		return fmt.Errorf("queue %d review DMs: %w", len(ns), err)
	}
	return nil
}

// deliver sends ns after their change committed, when there is no queue to
// have taken them: a few at once (as reminders go), each waiting its turn
// at Slack's pace; a failure is logged and changes nothing.
func (s *Service) deliver(ctx context.Context, tenantID string, ns []notice) {
	if s.queue != nil {
		return
	}
	eachAtOnce(len(ns), sendWorkers, func(i int) {
		s.logNotify(tenantID, ns[i].Kind(), paced(ctx, func() error { return ns[i].send(ctx, s) }))
	})
}

// send sends the DM with the reviewer's pending count as it is now. A
// campaign gone or closed meanwhile, or a reviewer with nothing left, gets
// none.
func (a AssignedArgs) send(ctx context.Context, s *Service) error {
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
	why := a.Reason
	if why == "" {
		why = AssignLaunch
	}
	return s.notify.Assigned(ctx, Assignment{Campaign: *c, ReviewerID: a.ReviewerID, Reason: why, Items: a.Items,
		ByApp: a.ByApp, Pending: len(pending), FromUserID: a.From, Note: a.Note, Slot: a.Slot})
}

// send asks the owner to remove the revoked items, as decided; a campaign
// completed meanwhile (the batch may have completed it) still asks.
func (a RevocationArgs) send(ctx context.Context, s *Service) error {
	c, err := s.st.GetCampaign(ctx, a.TenantID, a.CampaignID)
	if errors.Is(err, accessbot.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("revocation request to %s: %w", a.OwnerID, err)
	}
	items := make([]accessbot.ReviewItem, 0, len(a.ItemIDs))
	for _, id := range a.ItemIDs {
		it, err := s.st.GetReviewItem(ctx, a.TenantID, id)
		if errors.Is(err, accessbot.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("revocation request to %s: %w", a.OwnerID, err)
		}
		items = append(items, *it)
	}
	if len(items) == 0 {
		return nil
	}
	return s.notify.RevocationRequested(ctx, c, a.OwnerID, items)
}

// assigned is one AssignedArgs per reviewer of items, in the order each
// first appears; the slot names why and the reviewer's first item.
func assigned(c *accessbot.Campaign, items []accessbot.ReviewItem, why AssignReason) []notice {
	idx := map[string]int{}
	var out []AssignedArgs
	for _, it := range items {
		i, ok := idx[it.ReviewerID]
		if !ok {
			i = len(out)
			idx[it.ReviewerID] = i
			out = append(out, AssignedArgs{TenantID: c.TenantID, CampaignID: c.ID, ReviewerID: it.ReviewerID, Reason: why,
				ByApp: map[string]int{}, Slot: string(why) + ":" + it.ID})
		}
		out[i].Items++
		out[i].ByApp[it.AppName]++
	}
	ns := make([]notice, len(out))
	for i, a := range out {
		ns[i] = a
	}
	return ns
}

// nominated is the nominee's DM about item, handed on by from at now (the
// same item may come back to them later: another DM).
func nominated(c *accessbot.Campaign, item *accessbot.ReviewItem, from, note string, now time.Time) notice {
	return AssignedArgs{TenantID: c.TenantID, CampaignID: c.ID, ReviewerID: item.ReviewerID, Reason: AssignNominated,
		Items: 1, ByApp: map[string]int{item.AppName: 1}, From: from, Note: note,
		Slot: string(AssignNominated) + ":" + item.ID + ":" + strconv.FormatInt(now.UnixNano(), 10)}
}

// revocations is one RevocationArgs per owner and campaign of revoked (the
// items left to their owners by hand, owner → items).
func (s *Service) revocations(revoked map[string][]accessbot.ReviewItem) []notice {
	var ns []notice
	for owner, its := range revoked {
		if owner == "" {
			s.log.Warn().Str("tenant", its[0].TenantID).Str("app", its[0].AppID).Msg("revocation recorded for an application without an owner")
			continue
		}
		idx := map[string]int{}
		var out []RevocationArgs
		for _, it := range its {
			i, ok := idx[it.CampaignID]
			if !ok {
				i = len(out)
				idx[it.CampaignID] = i
				out = append(out, RevocationArgs{TenantID: it.TenantID, CampaignID: it.CampaignID, OwnerID: owner})
			}
			out[i].ItemIDs = append(out[i].ItemIDs, it.ID)
		}
		for _, a := range out {
			ns = append(ns, a)
		}
	}
	return ns
}

// progressLease bounds how long one update of a reviewer's DMs holds their
// progress claim; the update itself gets half of it, so it is over before
// another can take the claim over.
const progressLease = time.Minute

// progressHeld: another update of the same reviewer's DMs is under way.
// Busy, so the job is snoozed, not failed: when it runs again the other
// update is done and showed what it read, perhaps not this change.
type progressHeld struct{ wait time.Duration }

func (e progressHeld) Error() string          { return "another update of the same review DMs is under way" }
func (e progressHeld) BusyFor() time.Duration { return e.wait }

// owesProgress is the ProgressArgs of each reviewer whose pending count in
// campaigns changed in tx, their generations bumped there; none when the
// notifier cannot update DMs.
func (s *Service) owesProgress(ctx context.Context, tx store.Queries, tenantID string, campaignIDs []string, reviewerID string) ([]notice, error) {
	if _, ok := s.notify.(ProgressNotifier); !ok || reviewerID == "" {
		return nil, nil
	}
	ns := make([]notice, 0, len(campaignIDs))
	for _, cid := range campaignIDs {
		if err := tx.BumpReviewProgress(ctx, tenantID, cid, reviewerID); err != nil {
			return nil, err
		}
		ns = append(ns, ProgressArgs{TenantID: tenantID, CampaignID: cid, ReviewerID: reviewerID})
	}
	return ns, nil
}

// send shows the reviewer's pending count as it is now, unless an update
// since their last change already did. Updates of one reviewer's DMs take
// turns (the claim), each reading the count once its turn came: the count
// last shown is never older than one shown before it. A failed update is
// retried (the job's error); until it succeeds the generation stays owed.
func (a ProgressArgs) send(ctx context.Context, s *Service) error {
	pn, ok := s.notify.(ProgressNotifier)
	if !ok {
		return nil
	}
	p, won, err := s.st.ClaimReviewProgress(ctx, a.TenantID, a.CampaignID, a.ReviewerID, s.now(), progressLease)
	if errors.Is(err, accessbot.ErrNotFound) {
		return nil // the campaign is gone
	}
	if err != nil {
		return fmt.Errorf("update the review DMs of %s: %w", a.ReviewerID, err)
	}
	if !won {
		if p.SentGen >= p.Gen {
			return nil // shown by an update that ran after this change
		}
		return progressHeld{wait: 500 * time.Millisecond}
	}
	uctx, cancel := context.WithTimeout(ctx, progressLease/2)
	err = a.show(uctx, s, pn)
	cancel()
	if ferr := s.st.FinishReviewProgress(context.WithoutCancel(ctx), a.TenantID, a.CampaignID, a.ReviewerID, p.Claim, p.Gen, err == nil, s.now()); ferr != nil {
		// The update stays owed: a retry after the lease shows it again.
		return errors.Join(err, fmt.Errorf("record the review DMs of %s as updated: %w", a.ReviewerID, ferr))
	}
	return err
}

// show rewrites the reviewer's DMs with what is left for them now.
func (a ProgressArgs) show(ctx context.Context, s *Service, pn ProgressNotifier) error {
	c, err := s.st.GetCampaign(ctx, a.TenantID, a.CampaignID)
	if errors.Is(err, accessbot.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("update the review DMs of %s: %w", a.ReviewerID, err)
	}
	left, err := s.st.ListReviewItems(ctx, a.TenantID, accessbot.ReviewItemFilter{CampaignID: a.CampaignID, ReviewerID: a.ReviewerID, Status: accessbot.ReviewPending})
	if err != nil {
		return fmt.Errorf("update the review DMs of %s: %w", a.ReviewerID, err)
	}
	return pn.Progress(ctx, c, a.ReviewerID, len(left))
}
