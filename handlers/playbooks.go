package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot"
	"github.com/accessbot/accessbot/flows/playbooks"
	"github.com/accessbot/accessbot/handlers/views"
	"github.com/accessbot/accessbot/internal/secrets"
	"github.com/accessbot/accessbot/store"
)

// Audit actions of playbook configuration from Slack (runs are audited by flows/playbooks).
const (
	ActionPlaybookCreated  = "playbook.created"
	ActionPlaybookUpdated  = "playbook.updated"
	ActionPlaybookEnabled  = "playbook.enabled"
	ActionPlaybookDisabled = "playbook.disabled"
	playbookRunsShown      = 3
)

// Playbooks is "/access playbooks": tenant admins list, enable, disable,
// create and edit playbooks. Every action re-checks that the actor is an
// admin of the playbook's tenant.
type Playbooks struct {
	st    store.Store
	keys  playbooks.Keys // nil: tokens cannot be stored
	dns   playbooks.Lookuper
	clock func() time.Time
	log   zerolog.Logger
}

// NewPlaybooks builds the handlers; keys seal tokens and signing secrets.
func NewPlaybooks(st store.Store, keys playbooks.Keys, clock func() time.Time, log zerolog.Logger) *Playbooks {
	if clock == nil {
		clock = time.Now
	}
	return &Playbooks{st: st, keys: keys, dns: net.DefaultResolver, clock: clock, log: log}
}

// WithResolver sets how a saved URL's host name is looked up (tests); it returns h.
func (h *Playbooks) WithResolver(r playbooks.Lookuper) *Playbooks {
	h.dns = r
	return h
}

func (h *Playbooks) register(r *bot.Router) {
	r.Command(views.Command, views.SubPlaybooks, h.open)
	r.Action(views.ActionPlaybookNew, h.newForm)
	r.Action(views.ActionPlaybookEdit, h.edit)
	r.Action(views.ActionPlaybookToggle, h.toggle)
	r.View(views.CallbackPlaybookForm, h.submit)
}

func (h *Playbooks) helpEntries() []views.HelpEntry {
	return []views.HelpEntry{{Usage: views.SubPlaybooks, Description: "Configure playbooks: servers that receive signed events (admins)."}}
}

const msgPlaybooksAdmins = "Only accessbot admins can configure playbooks. Ask your accessbot admin."

func (h *Playbooks) list(ctx context.Context, tenantID string) ([]views.PlaybookRow, error) {
	all, err := h.st.ListPlaybooks(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	rows := make([]views.PlaybookRow, 0, len(all))
	for _, p := range all {
		r := views.PlaybookRow{Playbook: p}
		if p.AppID != "" {
			if a, err := h.st.GetApplication(ctx, tenantID, p.AppID); err == nil {
				r.AppName = a.Name
			}
		}
		if r.Runs, err = h.st.ListPlaybookRuns(ctx, tenantID, p.ID, playbookRunsShown); err != nil {
			return nil, err
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// open answers "/access playbooks".
func (h *Playbooks) open(ctx context.Context, req *bot.Request) error {
	if !req.Actor.IsAdmin() {
		return req.Respond(ctx, bot.Message{Text: msgPlaybooksAdmins})
	}
	rows, err := h.list(ctx, req.Actor.Tenant.ID)
	if err != nil {
		return err
	}
	return openModal(ctx, req, views.PlaybooksModal(rows, h.clock()))
}

func (h *Playbooks) appOptions(ctx context.Context, tenantID string) ([]views.Option, error) {
	apps, err := h.st.ListApplications(ctx, tenantID, "", 99)
	if err != nil {
		return nil, err
	}
	out := make([]views.Option, 0, len(apps))
	for _, a := range apps {
		out = append(out, views.Option{Value: a.ID, Text: a.Name})
	}
	return out, nil
}

func (h *Playbooks) newForm(ctx context.Context, req *bot.Request) error {
	if !req.Actor.IsAdmin() {
		return req.Respond(ctx, bot.Message{Text: msgPlaybooksAdmins})
	}
	apps, err := h.appOptions(ctx, req.Actor.Tenant.ID)
	if err != nil {
		return err
	}
	return openModal(ctx, req, views.PlaybookForm(nil, apps))
}

// slackPlaybook loads a playbook of the actor's tenant that Slack may change.
func (h *Playbooks) slackPlaybook(ctx context.Context, req *bot.Request, id string) (*accessbot.Playbook, string, error) {
	if !req.Actor.IsAdmin() {
		return nil, msgPlaybooksAdmins, nil
	}
	p, err := h.st.GetPlaybook(ctx, req.Actor.Tenant.ID, id)
	if errors.Is(err, accessbot.ErrNotFound) {
		return nil, "That playbook no longer exists.", nil
	}
	if err != nil {
		return nil, "", err
	}
	if p.Source == accessbot.SourceFile {
		return nil, fmt.Sprintf("Playbook %s is declared in the tenant file: change it there and run `accessbot apply`.", p.Name), nil
	}
	return p, "", nil
}

func (h *Playbooks) edit(ctx context.Context, req *bot.Request) error {
	p, refusal, err := h.slackPlaybook(ctx, req, req.Action.Value)
	if err != nil || refusal != "" {
		return errors.Join(err, h.refuse(ctx, req, refusal))
	}
	apps, err := h.appOptions(ctx, req.Actor.Tenant.ID)
	if err != nil {
		return err
	}
	return openModal(ctx, req, views.PlaybookForm(p, apps))
}

func (h *Playbooks) refuse(ctx context.Context, req *bot.Request, msg string) error {
	if msg == "" {
		return nil
	}
	return req.Respond(ctx, bot.Message{Text: msg})
}

// toggle enables or disables a playbook and redraws the list in place.
func (h *Playbooks) toggle(ctx context.Context, req *bot.Request) error {
	p, refusal, err := h.slackPlaybook(ctx, req, req.Action.Value)
	if err != nil || refusal != "" {
		return errors.Join(err, h.refuse(ctx, req, refusal))
	}
	before := *p
	p.Active = !p.Active
	action := ActionPlaybookDisabled
	if p.Active {
		action = ActionPlaybookEnabled
	}
	if err := h.st.InTx(ctx, func(q store.Queries) error {
		if err := q.UpdatePlaybook(ctx, p); err != nil {
			return err
		}
		return h.audit(ctx, q, req, action, p, &before)
	}); err != nil {
		return fmt.Errorf("toggle playbook %s: %w", p.ID, err)
	}
	rows, err := h.list(ctx, req.Actor.Tenant.ID)
	if err != nil {
		return err
	}
	return updateOpenView(ctx, req, views.PlaybooksModal(rows, h.clock()))
}

// playbookState is a playbook as its audit entries show it (no secrets).
type playbookState struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Type        string `json:"type"`
	URL         string `json:"url"`
	AppID       string `json:"app_id,omitempty"`
	Recurrence  bool   `json:"recurrence"`
	Active      bool   `json:"active"`
	Token       bool   `json:"token"`
}

func stateOfPlaybook(p *accessbot.Playbook) playbookState {
	return playbookState{Name: p.Name, Description: p.Description, Type: string(p.Type), URL: p.URL, AppID: p.AppID,
		Recurrence: p.OnSync, Active: p.Active, Token: p.TokenSecret != ""}
}

func (h *Playbooks) audit(ctx context.Context, q store.Queries, req *bot.Request, action string, p, before *accessbot.Playbook) error {
	e := &accessbot.AuditEntry{TenantID: p.TenantID, At: h.clock(), ActorID: req.Actor.User.ID, Action: action,
		ObjectType: playbooks.AuditObject, ObjectID: p.ID}
	var err error
	if before != nil {
		if e.Before, err = json.Marshal(stateOfPlaybook(before)); err != nil {
			return err
		}
	}
	if e.After, err = json.Marshal(stateOfPlaybook(p)); err != nil {
		return err
	}
	return q.AppendAudit(ctx, e)
}

// submit saves the form: every field is checked, errors are shown inline.
func (h *Playbooks) submit(ctx context.Context, req *bot.Request) error {
	tid := req.Actor.Tenant.ID
	var cur *accessbot.Playbook
	if id := req.Interaction.View.PrivateMetadata; id != "" {
		p, refusal, err := h.slackPlaybook(ctx, req, id)
		if err != nil {
			return err
		}
		if refusal != "" {
			return viewErrors(req, map[string]string{views.BlockPBName: refusal})
		}
		cur = p
	} else if !req.Actor.IsAdmin() {
		return viewErrors(req, map[string]string{views.BlockPBName: msgPlaybooksAdmins})
	}
	p := accessbot.Playbook{TenantID: tid, Source: accessbot.SourceSlack,
		Name:        textValue(req, views.BlockPBName, views.ActionPBName),
		Description: textValue(req, views.BlockPBDesc, views.ActionPBDesc),
		Type:        accessbot.PlaybookType(selectedValue(req, views.BlockPBType, views.ActionPBType)),
		URL:         textValue(req, views.BlockPBURL, views.ActionPBURL)}
	var opts []string
	for _, o := range stateValue(req, views.BlockPBOptions, views.ActionPBOpts).SelectedOptions {
		opts = append(opts, o.Value)
	}
	p.OnSync, p.Active = slices.Contains(opts, views.PBOptRecurrence), slices.Contains(opts, views.PBOptActive)
	if app := selectedValue(req, views.BlockPBApp, views.ActionPBApp); app != "" && app != views.PBGlobal {
		p.AppID = app
	}
	token := secrets.Secret(textValue(req, views.BlockPBToken, views.ActionPBToken))
	errs := map[string]string{}
	switch {
	case p.Name == "":
		errs[views.BlockPBName] = "Give the playbook a name."
	case len([]rune(p.Name)) > 80:
		errs[views.BlockPBName] = "At most 80 characters."
	}
	if !p.Type.Valid() {
		errs[views.BlockPBType] = "Choose finding, request or review."
	}
	if p.AppID != "" {
		if _, err := h.st.GetApplication(ctx, tid, p.AppID); errors.Is(err, accessbot.ErrNotFound) {
			errs[views.BlockPBApp] = "That application no longer exists."
		} else if err != nil {
			return err
		}
	}
	allow, err := h.st.GetOutboundAllow(ctx, tid)
	if err != nil {
		return err
	}
	if err := playbooks.CheckURL(p.URL, allow); err != nil {
		errs[views.BlockPBURL] = upperFirst(err.Error()) + "."
	} else {
		// Slack waits 3 s for the answer: the lookup gets at most one.
		lctx, cancel := context.WithTimeout(ctx, time.Second)
		err := playbooks.CheckResolved(lctx, p.URL, allow, h.dns)
		cancel()
		if err != nil {
			errs[views.BlockPBURL] = upperFirst(err.Error()) + "."
		}
	}
	if strings.ContainsAny(token.Reveal(), " \t\r\n") {
		errs[views.BlockPBToken] = "A token has no spaces or line breaks."
	}
	if h.keys == nil {
		errs[views.BlockPBName] = "Playbooks cannot be saved: encryption.key is not set on the accessbot server (ask its operator)."
	}
	if len(errs) > 0 {
		return viewErrors(req, errs)
	}
	var signing secrets.Secret
	err = h.st.InTx(ctx, func(q store.Queries) error {
		if cur == nil {
			signing = playbooks.NewSigningSecret()
			if err := q.CreatePlaybook(ctx, &p); err != nil {
				return err
			}
			p.SigningSecret = playbooks.SigningSecretName(p.ID)
			if err := playbooks.PutSecret(ctx, q, h.keys, tid, p.SigningSecret, signing); err != nil {
				return err
			}
		} else {
			p.ID, p.CreatedAt, p.SigningSecret, p.TokenSecret = cur.ID, cur.CreatedAt, cur.SigningSecret, cur.TokenSecret
			if slices.Contains(opts, views.PBOptNewSigning) {
				signing = playbooks.NewSigningSecret()
				p.SigningSecret = playbooks.SigningSecretName(p.ID)
				if err := playbooks.PutSecret(ctx, q, h.keys, tid, p.SigningSecret, signing); err != nil {
					return err
				}
			}
			if slices.Contains(opts, views.PBOptClearToken) && !token.IsSet() {
				if err := playbooks.DeleteSecret(ctx, q, tid, p.TokenSecret); err != nil {
					return err
				}
				p.TokenSecret = ""
			}
		}
		if token.IsSet() {
			p.TokenSecret = playbooks.TokenSecretName(p.ID)
			if err := playbooks.PutSecret(ctx, q, h.keys, tid, p.TokenSecret, token); err != nil {
				return err
			}
		}
		if err := q.UpdatePlaybook(ctx, &p); err != nil {
			return err
		}
		if cur == nil {
			return h.audit(ctx, q, req, ActionPlaybookCreated, &p, nil)
		}
		return h.audit(ctx, q, req, ActionPlaybookUpdated, &p, cur)
	})
	switch {
	case errors.Is(err, accessbot.ErrConflict):
		return viewErrors(req, map[string]string{views.BlockPBName: "Another playbook has this name."})
	case errors.Is(err, secrets.ErrNoKey):
		return viewErrors(req, map[string]string{views.BlockPBName: "Playbooks cannot be saved: encryption.key is not set on the accessbot server (ask its operator)."})
	case err != nil:
		return fmt.Errorf("save playbook: %w", err)
	}
	h.log.Info().Str("tenant", tid).Str("playbook", p.Name).Str("actor", req.Actor.User.ID).Bool("new", cur == nil).Msg("playbook saved")
	return viewUpdate(req, views.PlaybookSaved(p.Name, signing.Reveal()))
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
