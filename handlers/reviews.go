package handlers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot"
	"github.com/accessbot/accessbot/flows/reviews"
	"github.com/accessbot/accessbot/handlers/views"
)

// ReviewFlows is the part of *reviews.Service the Slack handlers call.
type ReviewFlows interface {
	Launch(ctx context.Context, in reviews.LaunchInput) (*reviews.LaunchResult, error)
	Decide(ctx context.Context, in reviews.DecideInput) (*reviews.DecideResult, error)
	Nominate(ctx context.Context, in reviews.NominateInput) (*accessbot.ReviewItem, error)
	PendingItems(ctx context.Context, tenantID, reviewerID, campaignID string) ([]accessbot.ReviewItem, error)
	PendingCount(ctx context.Context, tenantID, reviewerID string) (int, error)
	StopRepeat(ctx context.Context, tenantID, actorID, name string) (string, error)
}

var _ ReviewFlows = (*reviews.Service)(nil)

// ReviewStore is what the review handlers read directly, scoped by the actor's tenant.
type ReviewStore interface {
	GetCampaign(ctx context.Context, tenantID, id string) (*accessbot.Campaign, error)
	GetReviewItem(ctx context.Context, tenantID, id string) (*accessbot.ReviewItem, error)
	ListApplications(ctx context.Context, tenantID, query string, limit int) ([]accessbot.Application, error)
	ListUsers(ctx context.Context, tenantID string) ([]accessbot.User, error)
}

// Reviews handles access reviews in Slack: "/access reviews", "/access
// review new", "Review now" and the paginated review modal.
type Reviews struct {
	flows     ReviewFlows
	st        ReviewStore
	clock     func() time.Time
	log       zerolog.Logger
	playbooks *PlaybookMenus // offers review playbooks on each item; nil: none
}

// WithPlaybooks offers the review playbooks ("Run playbook" menu) on each
// item of the review modal; it returns h.
func (h *Reviews) WithPlaybooks(m *PlaybookMenus) *Reviews {
	h.playbooks = m
	return h
}

// NewReviews builds the review handlers; pass them in Deps.Reviews.
func NewReviews(flows ReviewFlows, st ReviewStore, clock func() time.Time, log zerolog.Logger) *Reviews {
	if clock == nil {
		clock = time.Now
	}
	return &Reviews{flows: flows, st: st, clock: clock, log: log.With().Str("component", "review_handlers").Logger()}
}

func (h *Reviews) register(r *bot.Router) {
	r.Command(views.Command, views.SubReviews, h.list)
	r.Command(views.Command, views.SubReview, h.review)
	r.View(views.CallbackReviewNew, h.submitNew)
	r.Action(views.ActionReviewOpen, h.open)
	r.Action(views.ActionReviewNext, h.turnPage)
	r.Action(views.ActionReviewPrev, h.turnPage)
	r.Action(views.ActionReviewKeepAll, h.keepAll)
	r.Action(views.ActionReviewNominate, h.openNominate)
	r.View(views.CallbackReviewItems, h.submitPage)
	r.View(views.CallbackReviewNominate, h.submitNominate)
}

func (h *Reviews) helpEntries() []views.HelpEntry {
	return []views.HelpEntry{
		{Usage: views.SubReviews, Description: "Show the access review items waiting for your decision."},
		{Usage: views.SubReview + " " + views.ReviewNewArg, Description: "Start an access review campaign (admins)."},
		{Usage: views.SubReview + " " + views.ReviewStopArg + " NAME", Description: "Stop a recurring access review started in Slack (admins)."},
		{Usage: views.SubReview + " " + views.ReviewStatusArg + " NAME", Description: "A campaign's progress: decided and pending by reviewer and level, late reviewers, revocations (admins, the campaign's owner)."},
	}
}

// HomeCount is the actor's pending review count for the App Home.
func (h *Reviews) HomeCount(ctx context.Context, actor *bot.Actor) (int, error) {
	return h.flows.PendingCount(ctx, actor.Tenant.ID, actor.User.ID)
}

func (h *Reviews) say(ctx context.Context, req *bot.Request, text string) error {
	return req.Respond(ctx, bot.Message{Text: text})
}

// list answers "/access reviews".
func (h *Reviews) list(ctx context.Context, req *bot.Request) error {
	items, err := h.flows.PendingItems(ctx, req.Actor.Tenant.ID, req.Actor.User.ID, "")
	if err != nil {
		return err
	}
	now := h.clock()
	var lines []views.ReviewSummary
	idx := map[string]int{}
	for _, it := range items {
		i, ok := idx[it.CampaignID]
		if !ok {
			c, err := h.st.GetCampaign(ctx, req.Actor.Tenant.ID, it.CampaignID)
			if err != nil {
				return err
			}
			i = len(lines)
			idx[it.CampaignID] = i
			lines = append(lines, views.ReviewSummary{CampaignID: c.ID, Campaign: c.Name, Due: c.DueAt, Overdue: !now.Before(c.DueAt)})
		}
		lines[i].Pending++
		if len(lines[i].Sample) < 3 {
			lines[i].Sample = append(lines[i].Sample, views.ItemLine(it))
		}
	}
	text, blocks := views.ReviewsList(lines)
	return req.Respond(ctx, bot.Message{Text: text, Blocks: blocks})
}

// review answers "/access review new" and "/access review stop NAME" (admins only).
func (h *Reviews) review(ctx context.Context, req *bot.Request) error {
	args := strings.TrimSpace(req.Args)
	if verb, name, _ := strings.Cut(args, " "); strings.EqualFold(verb, views.ReviewStopArg) {
		return h.stop(ctx, req, strings.TrimSpace(name))
	} else if strings.EqualFold(verb, views.ReviewStatusArg) {
		return h.status(ctx, req, strings.TrimSpace(name))
	}
	if !strings.EqualFold(args, views.ReviewNewArg) {
		return h.say(ctx, req, fmt.Sprintf("Try `%s %s %s` to start a review, or `%s %s` to see yours.",
			views.Command, views.SubReview, views.ReviewNewArg, views.Command, views.SubReviews))
	}
	if !req.Actor.IsAdmin() {
		return h.say(ctx, req, "Only accessbot admins can start an access review. Ask your accessbot admin.")
	}
	apps, err := h.st.ListApplications(ctx, req.Actor.Tenant.ID, "", 100)
	if err != nil {
		return err
	}
	opts := make([]views.Option, 0, len(apps))
	for _, a := range apps {
		opts = append(opts, views.Option{Value: a.ID, Text: a.Name})
	}
	return openModal(ctx, req, views.ReviewNewModal(opts, h.clock()))
}

// submitNew launches the campaign of the new-campaign form.
func (h *Reviews) submitNew(ctx context.Context, req *bot.Request) error {
	in := reviews.LaunchInput{TenantID: req.Actor.Tenant.ID, ActorID: req.Actor.User.ID,
		Name: textValue(req, views.BlockReviewNewName, views.ActionReviewNewName)}
	for _, o := range stateValue(req, views.BlockReviewNewApps, views.ActionReviewNewApps).SelectedOptions {
		in.Scope.AppIDs = append(in.Scope.AppIDs, o.Value)
	}
	in.Scope.PrivilegedOnly = len(stateValue(req, views.BlockReviewNewPrivileged, views.ActionReviewNewPriv).SelectedOptions) > 0
	if l1 := selectedValue(req, views.BlockReviewNewLevel1, views.ActionReviewNewLevel1); l1 != "" {
		in.Levels = append(in.Levels, accessbot.ReviewerRule(l1))
	}
	if l2 := selectedValue(req, views.BlockReviewNewLevel2, views.ActionReviewNewLevel2); l2 != "" && l2 != views.ReviewLevelNone {
		in.Levels = append(in.Levels, accessbot.ReviewerRule(l2))
	}
	date := stateValue(req, views.BlockReviewNewDue, views.ActionReviewNewDue).SelectedDate
	if d, err := time.Parse(time.DateOnly, date); err != nil {
		return viewErrors(req, map[string]string{views.BlockReviewNewDue: "Pick a due date."})
	} else {
		// The due date is the end of that day, UTC: the picker has no time.
		in.DueAt = d.Add(24*time.Hour - time.Second)
	}
	repeatBlock := views.BlockReviewNewRepeat
	switch rep, cron := selectedValue(req, views.BlockReviewNewRepeat, views.ActionReviewNewRepeat),
		textValue(req, views.BlockReviewNewCron, views.ActionReviewNewCron); {
	case rep == views.RepeatCustom && cron == "":
		return viewErrors(req, map[string]string{views.BlockReviewNewCron: "Give the schedule, e.g. 0 9 1 */2 * (09:00 on the 1st of every other month)."})
	case rep == views.RepeatCustom:
		repeatBlock = views.BlockReviewNewCron
		in.Repeat = &reviews.Repeat{Cron: cron}
	case cron != "":
		return viewErrors(req, map[string]string{views.BlockReviewNewCron: "Set Repeat to Custom schedule to use this, or clear it."})
	case views.RepeatCron[rep] != "":
		in.Repeat = &reviews.Repeat{Cron: views.RepeatCron[rep]}
	case rep != "" && rep != views.RepeatNone:
		return viewErrors(req, map[string]string{views.BlockReviewNewRepeat: "Choose how the review repeats."})
	}
	if in.Repeat != nil {
		// Each later launch runs as many whole days as this one.
		in.Repeat.TimeZone = views.RepeatZone
		days := in.DueAt.Sub(h.clock().UTC()).Truncate(24*time.Hour) / (24 * time.Hour)
		in.Repeat.DueAfter = max(1, days) * 24 * time.Hour
	}
	res, err := h.flows.Launch(ctx, in)
	if fe, ok := errors.AsType[reviews.FieldErrors](err); ok {
		blocks := map[string]string{reviews.FieldName: views.BlockReviewNewName, reviews.FieldApps: views.BlockReviewNewApps,
			reviews.FieldLevels: views.BlockReviewNewLevel1, reviews.FieldDue: views.BlockReviewNewDue, reviews.FieldRepeat: repeatBlock}
		out := map[string]string{}
		for f, msg := range fe {
			if b, ok := blocks[f]; ok {
				out[b] = msg
			}
		}
		return viewErrors(req, out)
	}
	switch {
	case errors.Is(err, reviews.ErrForbidden):
		return viewErrors(req, map[string]string{views.BlockReviewNewName: "Only accessbot admins can start an access review."})
	case errors.Is(err, reviews.ErrNoReviewer):
		return viewErrors(req, map[string]string{views.BlockReviewNewApps: "Some items have no one to review them: give the applications owners, or add an admin."})
	case err != nil:
		return err
	}
	summary := fmt.Sprintf("Launched: %d items for %d reviewers, due %s. Each reviewer gets one message.",
		res.Items, res.Reviewers, res.Campaign.DueAt.UTC().Format(time.DateOnly))
	if res.Items == 0 {
		summary = "Nothing to review: no one holds an entitlement in the chosen scope. The campaign is closed."
	}
	if r := in.Repeat; r != nil {
		summary += fmt.Sprintf(" It repeats on %q (%s), each launch due %d days later.", r.Cron, r.TimeZone, int(r.DueAfter/(24*time.Hour)))
	}
	return viewUpdate(req, views.ReviewDoneModal(res.Campaign.Name, summary))
}

// page builds page p of the actor's pending items in a campaign, or the
// done view when nothing is left.
func (h *Reviews) page(ctx context.Context, actor *bot.Actor, campaignID string, p int, notice string) (slack.ModalViewRequest, error) {
	c, err := h.st.GetCampaign(ctx, actor.Tenant.ID, campaignID)
	if err != nil {
		return slack.ModalViewRequest{}, err
	}
	items, err := h.flows.PendingItems(ctx, actor.Tenant.ID, actor.User.ID, campaignID)
	if err != nil {
		return slack.ModalViewRequest{}, err
	}
	if len(items) == 0 {
		msg := "Nothing is waiting for you in this review."
		if notice != "" {
			msg = notice + " " + msg
		}
		return views.ReviewDoneModal(c.Name, msg), nil
	}
	pages := views.Pages(len(items))
	p = max(0, min(p, pages-1))
	end := min((p+1)*views.ReviewPageSize, len(items))
	shown := items[p*views.ReviewPageSize : end]
	var offers map[string][]views.PlaybookChoice
	if h.playbooks != nil {
		offers = map[string][]views.PlaybookChoice{}
		byApp := map[string][]views.PlaybookChoice{}
		for _, it := range shown {
			cs, ok := byApp[it.AppID]
			if !ok {
				cs = h.playbooks.choices(ctx, actor.Tenant.ID, accessbot.PlaybookReview, it.AppID)
				byApp[it.AppID] = cs
			}
			offers[it.ID] = cs
		}
	}
	return views.ReviewModal(views.ReviewPage{CampaignID: c.ID, Campaign: c.Name, Due: c.DueAt, Items: shown,
		Page: p, Total: len(items), Levels: len(c.Levels), Notice: notice, Playbooks: offers}), nil
}

// open answers "Review now".
func (h *Reviews) open(ctx context.Context, req *bot.Request) error {
	v, err := h.page(ctx, req.Actor, req.Action.Value, 0, "")
	if errors.Is(err, accessbot.ErrNotFound) {
		return h.say(ctx, req, "That access review no longer exists.")
	}
	if err != nil {
		return err
	}
	return openModal(ctx, req, v)
}

func (h *Reviews) modalMeta(req *bot.Request) (string, int, bool) {
	if req.Interaction == nil {
		return "", 0, false
	}
	return views.ParseReviewMeta(req.Interaction.View.PrivateMetadata)
}

// turnPage answers Next / Previous with views.update.
func (h *Reviews) turnPage(ctx context.Context, req *bot.Request) error {
	cid, _, ok := h.modalMeta(req)
	p, err := strconv.Atoi(req.Action.Value)
	if !ok || err != nil {
		return h.say(ctx, req, "I could not read that page button. Close the review and press Review now again.")
	}
	v, err := h.page(ctx, req.Actor, cid, p, "")
	if err != nil {
		return err
	}
	return updateOpenView(ctx, req, v)
}

// submitPage records the decisions chosen on the submitted page.
func (h *Reviews) submitPage(ctx context.Context, req *bot.Request) error {
	cid, p, ok := h.modalMeta(req)
	if !ok {
		return viewUpdate(req, views.ReviewDoneModal("Access review", "I could not read this review form. Press Review now again."))
	}
	// The submitted state names the items; the flow re-checks each one
	// (still pending, still this reviewer's), so a replayed or forged
	// submission decides nothing it should not.
	var ds []reviews.ItemDecision
	var blockIDs []string
	if req.Interaction.View.State != nil {
		for b := range req.Interaction.View.State.Values {
			if strings.HasPrefix(b, views.BlockReviewDecision+".") {
				blockIDs = append(blockIDs, b)
			}
		}
	}
	slices.Sort(blockIDs)
	for _, b := range blockIDs {
		id := strings.TrimPrefix(b, views.BlockReviewDecision+".")
		choice := selectedValue(req, b, views.ActionReviewDecision)
		if choice == "" {
			continue
		}
		ds = append(ds, reviews.ItemDecision{ItemID: id, Decision: accessbot.ReviewDecision(choice),
			Comment: textValue(req, views.BlockReviewComment+"."+id, views.ActionReviewComment)})
	}
	notice := "Nothing chosen on that page."
	if len(ds) > 0 {
		res, err := h.flows.Decide(ctx, reviews.DecideInput{TenantID: req.Actor.Tenant.ID, ActorID: req.Actor.User.ID, Decisions: ds})
		if errors.Is(err, accessbot.ErrInvalid) {
			return viewUpdate(req, views.ReviewDoneModal("Access review", "That form had a choice I do not understand. Press Review now again."))
		}
		if err != nil {
			return err
		}
		notice = decideNotice(res)
	}
	v, err := h.page(ctx, req.Actor, cid, p, notice)
	if err != nil {
		return err
	}
	return viewUpdate(req, v)
}

// decideNotice says in plain words what a batch did.
func decideNotice(res *reviews.DecideResult) string {
	kept, revoked := 0, 0
	for _, it := range res.Decided {
		if it.Status == accessbot.ReviewRevoked {
			revoked++
		} else {
			kept++
		}
	}
	msg := fmt.Sprintf("Saved: %d kept, %d revoked.", kept, revoked)
	notYours, done := 0, 0
	for _, r := range res.Refused {
		if errors.Is(r.Err, reviews.ErrNotReviewer) {
			notYours++
		} else {
			done++
		}
	}
	if done > 0 {
		msg += fmt.Sprintf(" %d were already decided.", done)
	}
	if notYours > 0 {
		msg += fmt.Sprintf(" %d are no longer yours to review.", notYours)
	}
	return msg
}

// keepAll keeps every item still pending for the actor in the campaign
// (the button carries a confirm dialog).
func (h *Reviews) keepAll(ctx context.Context, req *bot.Request) error {
	cid := req.Action.Value
	items, err := h.flows.PendingItems(ctx, req.Actor.Tenant.ID, req.Actor.User.ID, cid)
	if err != nil {
		return err
	}
	ds := make([]reviews.ItemDecision, 0, len(items))
	for _, it := range items {
		ds = append(ds, reviews.ItemDecision{ItemID: it.ID, Decision: accessbot.DecisionKeep})
	}
	notice := "Nothing was pending."
	if len(ds) > 0 {
		res, err := h.flows.Decide(ctx, reviews.DecideInput{TenantID: req.Actor.Tenant.ID, ActorID: req.Actor.User.ID, Decisions: ds})
		if err != nil {
			return err
		}
		notice = decideNotice(res)
	}
	v, err := h.page(ctx, req.Actor, cid, 0, notice)
	if err != nil {
		return err
	}
	return updateOpenView(ctx, req, v)
}

// openNominate pushes the hand-on modal for one item.
func (h *Reviews) openNominate(ctx context.Context, req *bot.Request) error {
	it, err := h.st.GetReviewItem(ctx, req.Actor.Tenant.ID, req.Action.Value)
	if errors.Is(err, accessbot.ErrNotFound) {
		return h.say(ctx, req, "That review item no longer exists.")
	}
	if err != nil {
		return err
	}
	if it.ReviewerID != req.Actor.User.ID || it.Status != accessbot.ReviewPending {
		return h.say(ctx, req, "That item is no longer yours to review.")
	}
	users, err := h.st.ListUsers(ctx, req.Actor.Tenant.ID)
	if err != nil {
		return err
	}
	slices.SortFunc(users, func(a, b accessbot.User) int {
		return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
	})
	var people []views.Option
	for _, u := range users {
		if u.ID == req.Actor.User.ID || u.ID == it.UserID || u.Status == accessbot.UserTerminated {
			continue
		}
		name := u.Name
		if name == "" {
			name = u.Email
		}
		people = append(people, views.Option{Value: u.ID, Text: name})
	}
	return openModal(ctx, req, views.NominateModal(*it, people))
}

// submitNominate hands the item on.
func (h *Reviews) submitNominate(ctx context.Context, req *bot.Request) error {
	itemID := req.Interaction.View.PrivateMetadata
	to := selectedValue(req, views.BlockReviewNominee, views.ActionReviewNominee)
	it, err := h.flows.Nominate(ctx, reviews.NominateInput{TenantID: req.Actor.Tenant.ID, ActorID: req.Actor.User.ID, ItemID: itemID,
		ToUserID: to, Reason: textValue(req, views.BlockReviewNominateWhy, views.ActionReviewNominateWhy)})
	if fe, ok := errors.AsType[reviews.FieldErrors](err); ok {
		out := map[string]string{}
		if m := fe[reviews.FieldNominee]; m != "" {
			out[views.BlockReviewNominee] = m
		}
		if m := fe[reviews.FieldReason]; m != "" {
			out[views.BlockReviewNominateWhy] = m
		}
		return viewErrors(req, out)
	}
	switch {
	case errors.Is(err, reviews.ErrNotReviewer), errors.Is(err, accessbot.ErrStale), errors.Is(err, accessbot.ErrNotFound):
		return viewUpdate(req, views.ReviewDoneModal("Access review", "That item is no longer yours to reassign: it was decided or reassigned already."))
	case err != nil:
		return err
	}
	return viewUpdate(req, views.ReviewDoneModal("Access review", fmt.Sprintf("Reassigned: %s. They have been told.", views.ItemLine(*it))))
}

// stop answers "/access review stop NAME": the recurring review started in
// Slack launches no more; campaigns it launched run on.
func (h *Reviews) stop(ctx context.Context, req *bot.Request, name string) error {
	if !req.Actor.IsAdmin() {
		return h.say(ctx, req, "Only accessbot admins can stop a recurring access review. Ask your accessbot admin.")
	}
	if name == "" {
		return h.say(ctx, req, fmt.Sprintf("Name the recurring review to stop: `%s %s %s NAME`.", views.Command, views.SubReview, views.ReviewStopArg))
	}
	stopped, err := h.flows.StopRepeat(ctx, req.Actor.Tenant.ID, req.Actor.User.ID, name)
	switch {
	case errors.Is(err, reviews.ErrForbidden):
		return h.say(ctx, req, "Only accessbot admins can stop a recurring access review. Ask your accessbot admin.")
	case errors.Is(err, accessbot.ErrNotFound):
		return h.say(ctx, req, fmt.Sprintf("There is no recurring review named %q. Check the name and try again.", name))
	case errors.Is(err, reviews.ErrFileManaged):
		return h.say(ctx, req, fmt.Sprintf("%q comes from the tenant file: remove it from `campaigns:` and run `accessbot apply` to stop it.", name))
	case err != nil:
		return err
	}
	return h.say(ctx, req, fmt.Sprintf("Stopped the recurring review %q: it will not launch again. Reviews it already launched carry on.", stopped))
}
