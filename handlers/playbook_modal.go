package handlers

import (
	"context"
	"fmt"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot/bot"
	"github.com/accessbot/accessbot/bot/blockkit"
	"github.com/accessbot/accessbot/handlers/views"
)

// A run started from a modal (the review modal's items) shows its outcome
// in that modal: a context line under the item's menu, "running…" at once,
// then how it went. The view as drawn, its id and the hash views.update
// answered ride with the run (PlaybookReply), so whichever replica reports
// the run can draw it again; the hash makes sure it never draws over a
// modal the person changed since (another page, a submission): Slack
// answers hash_conflict, or not_found once the modal is closed, and the
// outcome goes by DM instead.

// viewUpdater is the part of a workspace client that redraws a modal;
// *slackapi.Client is one.
type viewUpdater interface {
	UpdateView(ctx context.Context, v slack.ModalViewRequest, externalID, hash, viewID string) (*slack.ViewResponse, error)
}

// inModal reports whether the click came from a modal.
func inModal(req *bot.Request) bool {
	return req.Interaction != nil && req.Interaction.View.ID != "" && req.Interaction.View.Type == slack.VTModal
}

// noteInModal draws note under objectID's menu in the modal (view id,
// drawn as v, last seen with hash) and returns what it drew and the new
// hash. ok is false when the modal has no such menu or Slack refused the
// update (closed, changed since, or an error).
func noteInModal(ctx context.Context, api viewUpdater, v slack.ModalViewRequest, viewID, hash, objectID, note string) (slack.ModalViewRequest, string, error) {
	nv, ok := views.WithPlaybookNote(v, objectID, note)
	if !ok {
		return v, "", fmt.Errorf("modal %s has no playbook menu for %s, or no room", viewID, objectID)
	}
	if err := blockkit.ValidateView(nv); err != nil {
		return v, "", fmt.Errorf("view %s: %w", nv.CallbackID, err)
	}
	resp, err := api.UpdateView(ctx, nv, "", hash, viewID)
	if err != nil {
		return v, "", fmt.Errorf("update view %s: %w", viewID, err)
	}
	newHash := ""
	if resp != nil {
		newHash = resp.View.Hash
	}
	return nv, newHash, nil
}

// showRunning shows "running…" in the modal clicked; on success to says
// where the outcome goes (the modal as now drawn). ok false: the caller
// answers as for a click outside a modal.
func showRunning(ctx context.Context, req *bot.Request, log zerolog.Logger, to *PlaybookReply, objectID, name string) bool {
	api, ok := req.API.(viewUpdater)
	if !ok || !inModal(req) {
		return false
	}
	v := req.Interaction.View
	drawn, hash, err := noteInModal(ctx, api, views.ModalOf(v), v.ID, v.Hash, objectID, views.PlaybookRunningNote(name))
	if err != nil {
		log.Info().Err(err).Msg("playbook run not shown in its modal; answering by DM")
		return false
	}
	to.ViewID, to.ViewHash, to.Object, to.View = v.ID, hash, objectID, &drawn
	return true
}

// refuseInModal shows a refusal where "running…" was shown; false if it
// could not (the caller answers by message).
func refuseInModal(ctx context.Context, req *bot.Request, to PlaybookReply, name, why string) bool {
	api, ok := req.API.(viewUpdater)
	if !ok || to.View == nil {
		return false
	}
	_, _, err := noteInModal(ctx, api, *to.View, to.ViewID, to.ViewHash, to.Object, views.PlaybookRefusedNote(name, why))
	return err == nil
}
