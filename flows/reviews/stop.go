package reviews

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

// ActionStopped: an admin stopped a recurring review started in Slack.
const ActionStopped = "review.stopped"

// ErrFileManaged: the recurring review belongs to the tenant file, which
// stops it by leaving it out of campaigns:.
var ErrFileManaged = errors.New("recurring review is managed by the tenant file")

// StopRepeat deletes the Slack-started recurring review named name (any
// case) so it launches no more; campaigns it launched run on. Only an
// accessbot admin may (ErrForbidden); ErrNotFound when there is no such
// recurring review. It returns the stored name.
func (s *Service) StopRepeat(ctx context.Context, tenantID, actorID, name string) (string, error) {
	name = strings.TrimSpace(name)
	var stopped string
	err := s.st.InTx(ctx, func(q store.Queries) error {
		u, err := activeUser(ctx, q, tenantID, actorID)
		if err != nil {
			return err
		}
		if u == nil || u.Role != accessbot.RoleAdmin {
			return fmt.Errorf("stop recurring review: %w: only an accessbot admin can stop a review", ErrForbidden)
		}
		defs, err := q.ListCampaignDefinitions(ctx, tenantID)
		if err != nil {
			return fmt.Errorf("stop recurring review %q: %w", name, err)
		}
		i := slices.IndexFunc(defs, func(d accessbot.CampaignDefinition) bool { return strings.EqualFold(d.Name, name) })
		if i < 0 || name == "" {
			return fmt.Errorf("stop recurring review %q: %w", name, accessbot.ErrNotFound)
		}
		d := defs[i]
		if !d.FromSlack() {
			return fmt.Errorf("stop recurring review %q: %w", d.Name, ErrFileManaged)
		}
		if err := q.ReplaceCampaignDefinitions(ctx, tenantID, slices.Delete(defs, i, i+1)); err != nil {
			return fmt.Errorf("stop recurring review %q: %w", d.Name, err)
		}
		stopped = d.Name
		return audit(ctx, q, tenantID, s.now(), u.ID, ActionStopped, AuditDefinition, d.Name, map[string]any{
			"scope": d.Scope, "levels": d.Levels, "cron": d.Cron, "time_zone": d.TimeZone, "due_after": d.DueAfter.String(), "source": d.Source,
		}, nil)
	})
	if err != nil {
		return "", err
	}
	s.log.Info().Str("tenant", tenantID).Str("definition", stopped).Str("actor", actorID).Msg("recurring review stopped")
	return stopped, nil
}
