package handlers

import (
	"context"
	"errors"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot"
	"github.com/accessbot/accessbot/flows/provision"
	"github.com/accessbot/accessbot/handlers/views"
)

const (
	msgStepForbidden = "You may not answer this step: only the application's owners and the tenant admins carry out a manual step, and only the named approver (or an admin) answers an approval."
	msgStepOwn       = "You can't answer an approval of your own access: its named approver does."
	msgStepAnswered  = "This step was already answered."
	msgStepStarting  = "This step is still starting; try again in a moment."
	msgStepGone      = "I can't find that step any more."
	msgStepNoReason  = "Say why, so the requester and the admins know."
)

func (s *Steps) register(r *bot.Router) {
	r.Action(views.ActionStepDone, s.done)
	r.Action(views.ActionStepApprove, s.done)
	r.Action(views.ActionStepCant, s.askReason)
	r.Action(views.ActionStepDeny, s.askReason)
	r.View(views.CallbackStepReason, s.submitReason)
}

// done answers Done / Approve.
func (s *Steps) done(ctx context.Context, req *bot.Request) error {
	flowID, idx, ok := views.ParseStepRef(req.Action.Value)
	if !ok {
		return req.Respond(ctx, bot.Message{Text: msgStepGone})
	}
	if words, ok := s.answer(ctx, req, flowID, idx, provision.OutcomeDone, ""); !ok {
		return req.Respond(ctx, bot.Message{Text: words})
	}
	return nil
}

// askReason opens the reason modal for Can't do it / Deny. Who may answer
// is checked when it is submitted (by the Resolver).
func (s *Steps) askReason(ctx context.Context, req *bot.Request) error {
	flowID, idx, ok := views.ParseStepRef(req.Action.Value)
	if !ok {
		return req.Respond(ctx, bot.Message{Text: msgStepGone})
	}
	return openModal(ctx, req, views.StepReasonModal(req.Action.ActionID == views.ActionStepDeny, views.StepRef(flowID, idx)))
}

func (s *Steps) submitReason(ctx context.Context, req *bot.Request) error {
	flowID, idx, ok := views.ParseStepRef(req.Interaction.View.PrivateMetadata)
	if !ok {
		return viewErrors(req, map[string]string{views.BlockStepReason: msgStepGone})
	}
	reason := textValue(req, views.BlockStepReason, views.ActionStepReason)
	if reason == "" {
		return viewErrors(req, map[string]string{views.BlockStepReason: msgStepNoReason})
	}
	if words, ok := s.answer(ctx, req, flowID, idx, provision.OutcomeFailed, reason); !ok {
		return viewErrors(req, map[string]string{views.BlockStepReason: words})
	}
	return nil // an empty ack closes the modal
}

// answer records the clicker's answer through the Resolver (which checks
// again who may answer, and takes one answer), then brings every copy of
// the step's message in line with the stored flow. On refusal it returns
// the words to show and false.
func (s *Steps) answer(ctx context.Context, req *bot.Request, flowID string, idx int, o provision.Outcome, reason string) (string, bool) {
	tid := req.Actor.Tenant.ID
	err := s.resolver.Resolve(ctx, tid, flowID, idx, req.Actor.User.ID, o, reason)
	// A click can beat the engine's record that the step waits (its message
	// goes out first): ask again for a few seconds before giving up.
	for wait := 100 * time.Millisecond; errors.Is(err, provision.ErrNotYetWaiting) && wait <= 3200*time.Millisecond; wait *= 2 {
		select {
		case <-ctx.Done():
			return msgStepStarting, false
		case <-time.After(wait):
		}
		err = s.resolver.Resolve(ctx, tid, flowID, idx, req.Actor.User.ID, o, reason)
	}
	log := req.Log.Info().Str("flow", flowID).Int("step", idx).Str("outcome", string(o))
	switch {
	case errors.Is(err, provision.ErrOwnApproval):
		log.Msg("step answer refused: an approval of the actor's own access")
		return msgStepOwn, false
	case errors.Is(err, provision.ErrForbidden):
		log.Msg("step answer refused: not an answerer")
		return msgStepForbidden, false
	case errors.Is(err, provision.ErrAlreadyAnswered), errors.Is(err, provision.ErrNotWaiting):
		log.Msg("step answer refused: already answered")
		s.convergeLogged(ctx, tid, flowID, idx) // a lost update of an earlier answer is made now
		return msgStepAnswered, false
	case errors.Is(err, provision.ErrNotYetWaiting):
		log.Msg("step answer refused: step still starting")
		return msgStepStarting, false
	case errors.Is(err, accessbot.ErrNotFound):
		return msgStepGone, false
	case errors.Is(err, accessbot.ErrInvalid):
		return msgStepNoReason, false
	case err != nil:
		s.log.Error().Err(err).Str("tenant", tid).Str("flow", flowID).Int("step", idx).Msg("answer step")
		return "Something went wrong; your answer was not recorded. Try again in a minute.", false
	}
	log.Msg("step answered")
	s.convergeLogged(ctx, tid, flowID, idx)
	return "", true
}

func (s *Steps) convergeLogged(ctx context.Context, tid, flowID string, idx int) {
	if err := s.converge(ctx, tid, flowID, idx); err != nil {
		s.log.Warn().Err(err).Str("tenant", tid).Str("flow", flowID).Int("step", idx).Msg("update step messages")
	}
}
