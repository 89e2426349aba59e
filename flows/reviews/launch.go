package reviews

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/schedule"
	"github.com/accessbot/accessbot/store"
)

// MaxLevels caps review levels: manager then owner is the common case.
const MaxLevels = 3

// LaunchInput describes a campaign to launch now.
type LaunchInput struct {
	TenantID string
	// ActorID is the admin launching it, or "" for a definition's launch (the system).
	ActorID string
	Name    string
	Scope   accessbot.ReviewScope
	Levels  []accessbot.ReviewerRule
	DueAt   time.Time
	// Definition and Slot are set for a definition's launch.
	Definition string
	Slot       *time.Time
	// Repeat, when set, also saves a recurring definition named Name (as
	// the tenant file's campaigns: does) that launches the same scope
	// again on every slot of its schedule. An admin's launch only.
	Repeat *Repeat
}

// Repeat is how an ad hoc campaign recurs.
type Repeat struct {
	Cron     string // five-field cron expression
	TimeZone string // IANA name
	// DueAfter is how long each later launch runs.
	DueAfter time.Duration
}

// LaunchResult is a launched campaign and its first-level items.
type LaunchResult struct {
	Campaign  accessbot.Campaign
	Items     int
	Reviewers int
}

// Launch validates in, creates the campaign and its level-1 items in one
// transaction, and then sends each reviewer one message: with WithQueue,
// as jobs inserted in that transaction, else before it returns. An ActorID must
// be an active admin (ErrForbidden). A definition slot launched before
// fails with accessbot.ErrConflict.
func (s *Service) Launch(ctx context.Context, in LaunchInput) (*LaunchResult, error) {
	now := s.now()
	in.Name = strings.TrimSpace(in.Name)
	var (
		res  LaunchResult
		owed []notice
	)
	err := s.st.InTx(ctx, func(q store.Queries) error {
		actor := actorSystem
		if in.ActorID != "" {
			u, err := activeUser(ctx, q, in.TenantID, in.ActorID)
			if err != nil {
				return err
			}
			if u == nil || u.Role != accessbot.RoleAdmin {
				return fmt.Errorf("launch campaign: %w: only an accessbot admin can start a review", ErrForbidden)
			}
			actor = u.ID
		}
		if err := validateLaunch(ctx, q, &in, now); err != nil {
			return err
		}
		if in.Repeat != nil {
			if err := define(ctx, q, &in, actor, now); err != nil {
				return err
			}
		}
		c := accessbot.Campaign{ID: newID(), TenantID: in.TenantID, Name: in.Name, Scope: in.Scope, Levels: in.Levels,
			DueAt: in.DueAt, Status: accessbot.CampaignActive, CreatedBy: actor, Definition: in.Definition, Slot: in.Slot, LaunchedAt: now}
		dir := newDirectory(q, in.TenantID, now)
		items, dels, err := buildItems(ctx, q, dir, &c, now)
		if err != nil {
			return err
		}
		if err := q.CreateCampaign(ctx, &c); err != nil {
			return fmt.Errorf("launch campaign %q: %w", c.Name, err)
		}
		if err := q.CreateReviewItems(ctx, items); err != nil {
			return fmt.Errorf("launch campaign %q: %w", c.Name, err)
		}
		reviewers := map[string]bool{}
		for _, it := range items {
			reviewers[it.ReviewerID] = true
		}
		if err := audit(ctx, q, c.TenantID, now, actor, ActionLaunched, AuditCampaign, c.ID, nil, map[string]any{
			"name": c.Name, "scope": c.Scope, "levels": c.Levels, "due_at": c.DueAt.Format(auditTimeFormat),
			"items": len(items), "reviewers": len(reviewers), "definition": c.Definition,
		}); err != nil {
			return err
		}
		for i, dl := range dels {
			if dl.From == "" {
				continue
			}
			it := &items[i]
			if err := audit(ctx, q, c.TenantID, now, actorSystem, ActionDelegated, AuditItem, it.ID,
				map[string]string{"reviewer_id": dl.From}, map[string]string{"reviewer_id": dl.To, "reason": "delegate of the reviewer"}); err != nil {
				return err
			}
		}
		owed = assigned(&c, items, AssignLaunch)
		if err := s.owe(ctx, q, owed); err != nil {
			return fmt.Errorf("launch campaign %q: %w", c.Name, err)
		}
		if len(items) == 0 {
			c.Status, c.CompletedAt = accessbot.CampaignCompleted, &now
			if err := q.CompleteCampaign(ctx, c.TenantID, c.ID, now); err != nil {
				return fmt.Errorf("complete empty campaign: %w", err)
			}
		}
		res = LaunchResult{Campaign: c, Items: len(items), Reviewers: len(reviewers)}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.log.Info().Str("tenant", in.TenantID).Str("campaign", res.Campaign.ID).Str("name", res.Campaign.Name).
		Int("items", res.Items).Int("reviewers", res.Reviewers).Msg("review campaign launched")
	s.deliver(ctx, in.TenantID, owed)
	return &res, nil
}

// busy is an error that asks to be retried after a wait rather than
// counted as a failure: slackapi.ErrPaceExceeded, when the workspace's
// message pacing is booked further ahead than one call may wait.
type busy interface {
	error
	BusyFor() time.Duration
}

// paced runs send until it succeeds or fails for another reason than
// Slack's pacing, waiting between tries as the pacing asks, so a fan-out
// of thousands of DMs goes out at the pace Slack allows and none is
// dropped for waiting its turn.
func paced(ctx context.Context, send func() error) error {
	for {
		err := send()
		b, ok := errors.AsType[busy](err)
		if !ok {
			return err
		}
		t := time.NewTimer(b.BusyFor())
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

func validateLaunch(ctx context.Context, q store.Queries, in *LaunchInput, now time.Time) error {
	fe := FieldErrors{}
	switch n := len([]rune(in.Name)); {
	case n == 0:
		fe[FieldName] = "Give the campaign a name."
	case n > 100:
		fe[FieldName] = "Keep the name under 100 characters."
	}
	if len(in.Scope.AppIDs) == 0 {
		fe[FieldApps] = "Choose at least one application."
	}
	seen := map[string]bool{}
	for _, id := range in.Scope.AppIDs {
		if seen[id] {
			continue
		}
		seen[id] = true
		if _, err := q.GetApplication(ctx, in.TenantID, id); errors.Is(err, accessbot.ErrNotFound) {
			fe[FieldApps] = "One of the chosen applications no longer exists."
		} else if err != nil {
			return fmt.Errorf("validate campaign: %w", err)
		}
	}
	in.Scope.AppIDs = slices.Compact(slices.Sorted(slices.Values(in.Scope.AppIDs)))
	if len(in.Levels) == 0 || len(in.Levels) > MaxLevels {
		fe[FieldLevels] = fmt.Sprintf("Choose 1 to %d review levels.", MaxLevels)
	}
	for _, r := range in.Levels {
		if !r.Valid() {
			fe[FieldLevels] = fmt.Sprintf("Unknown reviewer %q: use manager or app_owner.", r)
		}
	}
	if !in.DueAt.After(now) {
		fe[FieldDue] = "The due date must be in the future."
	}
	if r := in.Repeat; r != nil {
		if _, err := schedule.Parse(r.Cron, r.TimeZone); err != nil {
			fe[FieldRepeat] = fmt.Sprintf("That schedule does not work: %v.", err)
		}
		if r.DueAfter < time.Hour {
			fe[FieldDue] = "Give each repeat at least an hour: pick a later due date."
		}
		if in.ActorID == "" {
			return fmt.Errorf("launch campaign: %w: a repeat needs an admin", ErrForbidden)
		}
	}
	if len(fe) > 0 {
		return fe
	}
	return nil
}

// buildItems makes one level-1 item per current relation in scope. dels[i]
// is the delegation applied to items[i] (zero when none).
func buildItems(ctx context.Context, q store.Queries, dir *directory, c *accessbot.Campaign, now time.Time) ([]accessbot.ReviewItem, []delegation, error) {
	users, err := q.ListUsers(ctx, c.TenantID)
	if err != nil {
		return nil, nil, fmt.Errorf("list users: %w", err)
	}
	byEmail, byID := map[string]*accessbot.User{}, map[string]*accessbot.User{}
	for i := range users {
		u := &users[i]
		byEmail[accessbot.NormalizeEmail(u.Email)] = u
		byID[u.ID] = u
	}
	maps, err := q.ListIdentityMappings(ctx, c.TenantID)
	if err != nil {
		return nil, nil, fmt.Errorf("list identity mappings: %w", err)
	}
	mapped := map[string]string{}
	for _, m := range maps {
		mapped[m.IdentityID] = m.UserID
	}
	var items []accessbot.ReviewItem
	var dels []delegation
	for _, appID := range c.Scope.AppIDs {
		app, err := dir.app(ctx, appID)
		if err != nil {
			return nil, nil, err
		}
		idents, err := q.ListIdentities(ctx, c.TenantID, appID, false)
		if err != nil {
			return nil, nil, fmt.Errorf("list identities of %s: %w", app.Name, err)
		}
		ents, err := q.ListAppEntitlements(ctx, c.TenantID, appID, false)
		if err != nil {
			return nil, nil, fmt.Errorf("list entitlements of %s: %w", app.Name, err)
		}
		conns, err := q.ListConnections(ctx, c.TenantID, appID)
		if err != nil {
			return nil, nil, fmt.Errorf("list connections of %s: %w", app.Name, err)
		}
		// Privilege declared in the tenant file counts as the upload's does.
		accessbot.DeclareLabels(ents, []accessbot.Application{*app}, conns)
		rels, err := q.ListRelations(ctx, c.TenantID, appID, false)
		if err != nil {
			return nil, nil, fmt.Errorf("list relations of %s: %w", app.Name, err)
		}
		identByID := map[string]*accessbot.Identity{}
		for i := range idents {
			identByID[idents[i].ID] = &idents[i]
		}
		entByID := map[string]*accessbot.AppEntitlement{}
		for i := range ents {
			entByID[ents[i].ID] = &ents[i]
		}
		for _, r := range rels {
			ident, ent := identByID[r.IdentityID], entByID[r.EntitlementID]
			if ident == nil || ent == nil {
				continue // removed meanwhile
			}
			privileged := ent.HasLabel(accessbot.LabelPrivileged)
			if c.Scope.PrivilegedOnly && !privileged {
				continue
			}
			var emp *accessbot.User
			if uid, ok := mapped[ident.ID]; ok {
				emp = byID[uid]
			} else if ident.Email != "" {
				emp = byEmail[accessbot.NormalizeEmail(ident.Email)]
			}
			rid, del, err := dir.reviewer(ctx, c.Levels[0], appID, emp)
			if err != nil {
				return nil, nil, fmt.Errorf("reviewer of %s in %s: %w", ident.ExternalID, app.Name, err)
			}
			it := accessbot.ReviewItem{ID: newID(), TenantID: c.TenantID, CampaignID: c.ID, AppID: appID, IdentityID: ident.ID,
				EntitlementID: ent.ID, ReviewerID: rid, Subject: subjectOf(ident, emp), AppName: app.Name,
				EntitlementName: entName(ent), Privileged: privileged, Status: accessbot.ReviewPending, CreatedAt: now, UpdatedAt: now}
			if emp != nil {
				it.UserID = emp.ID
			}
			items = append(items, it)
			if del != nil {
				dels = append(dels, *del)
			} else {
				dels = append(dels, delegation{})
			}
		}
	}
	return items, dels, nil
}

func subjectOf(id *accessbot.Identity, emp *accessbot.User) string {
	switch {
	case emp != nil && emp.Name != "":
		return emp.Name
	case emp != nil:
		return emp.Email
	case id.DisplayName != "":
		return id.DisplayName
	case id.Email != "":
		return id.Email
	}
	return id.ExternalID
}

func entName(e *accessbot.AppEntitlement) string {
	if e.Name != "" {
		return e.Name
	}
	return e.ExternalID
}

// define saves the recurring definition of a launch with Repeat, in the
// launch's transaction: the campaign launched now belongs to it, and the
// definition's first own launch is its first slot after now.
func define(ctx context.Context, q store.Queries, in *LaunchInput, actor string, now time.Time) error {
	defs, err := q.ListCampaignDefinitions(ctx, in.TenantID)
	if err != nil {
		return fmt.Errorf("define campaign %q: %w", in.Name, err)
	}
	for _, d := range defs {
		if strings.EqualFold(d.Name, in.Name) {
			return FieldErrors{FieldName: "A recurring review with this name exists already: choose another name."}
		}
	}
	def := accessbot.CampaignDefinition{TenantID: in.TenantID, Name: in.Name, Scope: in.Scope, Levels: in.Levels,
		Cron: in.Repeat.Cron, TimeZone: in.Repeat.TimeZone, DueAfter: in.Repeat.DueAfter, CreatedAt: now,
		Source: accessbot.CampaignSourceSlack}
	if err := q.ReplaceCampaignDefinitions(ctx, in.TenantID, append(defs, def)); err != nil {
		return fmt.Errorf("define campaign %q: %w", in.Name, err)
	}
	in.Definition = in.Name
	return audit(ctx, q, in.TenantID, now, actor, ActionDefined, AuditDefinition, in.Name, nil, map[string]any{
		"scope": in.Scope, "levels": in.Levels, "cron": def.Cron, "time_zone": def.TimeZone, "due_after": def.DueAfter.String(),
	})
}
