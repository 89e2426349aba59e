package handlers

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/rs/zerolog"

	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/slackapi"
	"github.com/accessbot/accessbot/flows/playbooks"
	"github.com/accessbot/accessbot/handlers/views"
	"github.com/accessbot/accessbot/store"
)

// PlaybookReporter tells a tenant's admins, by DM, that a playbook run
// failed: once per run and admin, however often the report job is retried
// (the delivery outbox), and never per retry of the delivery itself (the
// flow reports a run once, when it ends).
type PlaybookReporter struct {
	dm      *ReviewNotifier // its outbox-backed DM sending
	st      store.Store
	clients ChatClients
	log     zerolog.Logger
}

var _ playbooks.Reporter = (*PlaybookReporter)(nil)

// NewPlaybookReporter builds the reporter; cfg as for the review notifier.
func NewPlaybookReporter(st store.Store, cfg ReviewNotifierConfig) *PlaybookReporter {
	cfg.Store = st
	return &PlaybookReporter{dm: NewReviewNotifier(cfg), st: st, clients: cfg.Clients, log: cfg.Log}
}

// RunFinished DMs the admins about a failed run (a delivered one needs no
// news) and then shows the person who ran it by hand how it went.
func (r *PlaybookReporter) RunFinished(ctx context.Context, p *accessbot.Playbook, run *accessbot.PlaybookRun) error {
	if err := r.tellAdmins(ctx, p, run); err != nil {
		return err // retried; the DMs already sent are not sent again
	}
	r.tellRunner(ctx, p, run)
	return nil
}

func (r *PlaybookReporter) tellAdmins(ctx context.Context, p *accessbot.Playbook, run *accessbot.PlaybookRun) error {
	if run.Status != accessbot.RunFailed {
		return nil
	}
	users, err := r.st.ListUsers(ctx, p.TenantID)
	if err != nil {
		return fmt.Errorf("admins of tenant %s: %w", p.TenantID, err)
	}
	text, blocks := views.PlaybookFailedMessage(p.Name, *run)
	var errs []error
	for _, u := range users {
		if u.Role != accessbot.RoleAdmin || u.Status != accessbot.UserActive {
			continue
		}
		key := "playbook:" + run.ID + ":" + u.ID
		if err := r.dm.send(ctx, p.TenantID, u.ID, key, text, []slack.Block(blocks)); err != nil {
			errs = append(errs, err)
		}
	}
	return joinErrs(errs)
}

// tellRunner shows the outcome to whoever ran the playbook by hand where
// they clicked: in the modal (redrawn), or as an ephemeral message in the
// channel or thread; by DM when the modal is gone or changed since.
// It is the report's last step, so a retried report does not repeat it;
// it is best effort: a failure is logged, the run is recorded anyway.
func (r *PlaybookReporter) tellRunner(ctx context.Context, p *accessbot.Playbook, run *accessbot.PlaybookRun) {
	if run.ReplyTo == "" || r.clients == nil {
		return
	}
	log := r.log.With().Str("tenant", p.TenantID).Str("playbook", p.Name).Str("webhook_id", run.EventID).Logger()
	var to PlaybookReply
	if err := json.Unmarshal([]byte(run.ReplyTo), &to); err != nil || to.Team == "" || to.User == "" {
		log.Warn().Msg("manual playbook run without a readable reply address; outcome not shown")
		return
	}
	cl, err := r.clients.For(ctx, to.Team)
	if err != nil {
		log.Warn().Err(err).Msg("slack client to show a playbook outcome")
		return
	}
	if to.ViewID != "" && to.View != nil {
		if api, ok := cl.(viewUpdater); ok {
			_, _, err := noteInModal(ctx, api, *to.View, to.ViewID, to.ViewHash, to.Object, views.PlaybookOutcomeNote(p.Name, *run))
			if err == nil {
				return
			}
			// not_found (closed) or hash_conflict (changed since): a DM.
			log.Info().Err(err).Msg("playbook outcome not shown in its modal; sending it by DM")
		}
	}
	ep, ok := cl.(ephemeralPoster)
	if !ok {
		log.Warn().Msgf("slack client %T cannot post ephemeral messages", cl)
		return
	}
	ch := to.Channel
	if ch == "" {
		if ch, err = cl.OpenConversation(ctx, to.User); err != nil {
			log.Warn().Err(err).Msg("open a DM to show a playbook outcome")
			return
		}
	}
	text, blocks := views.PlaybookOutcome(p.Name, *run)
	if _, err := ep.PostEphemeral(ctx, ch, to.User, slackapi.Message{Text: text, Blocks: blocks, ThreadTS: to.ThreadTS}); err != nil {
		log.Warn().Err(err).Msg("show a playbook outcome")
	}
}
