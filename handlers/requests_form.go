package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot"
	"github.com/accessbot/accessbot/bot/blockkit"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/handlers/views"
)

// maxCustomHours bounds a custom duration (a year).
const maxCustomHours = 24 * 366

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// requestForm builds the form state for the actor, with app chosen or not,
// opened in channel (a channel route preselects its first application).
func (h *Requests) requestForm(ctx context.Context, actor *bot.Actor, app *accessbot.Application, channel string) (views.RequestForm, error) {
	var f views.RequestForm
	policy, err := h.requestPolicy(ctx, actor.Tenant.ID)
	if err != nil {
		return f, err
	}
	route := policy.Route(channel)
	if route != nil {
		f.Channel = route.ChannelID
		for i, id := range route.AppIDs {
			a, err := h.loadApp(ctx, actor.Tenant.ID, id)
			if err != nil {
				return f, err
			}
			if a == nil {
				continue // deleted since the tenant file was applied
			}
			f.ChannelApps = append(f.ChannelApps, a.Name)
			if app == nil && i == 0 {
				app = a
			}
		}
	}
	if err := h.targetChoices(ctx, actor, policy.OnBehalf, &f); err != nil {
		return f, err
	}
	if app == nil {
		return f, nil
	}
	f.App = &views.Option{Value: app.ID, Text: app.Name}
	f.MaxDuration = app.MaxDuration
	conns, err := h.st.ListConnections(ctx, actor.Tenant.ID, app.ID)
	if err != nil {
		return f, fmt.Errorf("list connections of %s: %w", app.ID, err)
	}
	for _, c := range conns {
		f.Entitlements = append(f.Entitlements, views.Option{Value: c.ID, Text: c.Name + " (" + c.Type + ")"})
	}
	return f, nil
}

// openRequestForm answers "/access request" with the request modal.
func (h *Requests) openRequestForm(ctx context.Context, req *bot.Request) error {
	f, err := h.requestForm(ctx, req.Actor, nil, req.ChannelID)
	if err != nil {
		return err
	}
	return openModal(ctx, req, views.RequestModal(f))
}

// requestAppChosen refreshes the form with the chosen application's
// entitlements and durations.
func (h *Requests) requestAppChosen(ctx context.Context, req *bot.Request) error {
	app, err := h.loadApp(ctx, req.Actor.Tenant.ID, req.Action.SelectedOption.Value)
	if err != nil {
		return err
	}
	f, err := h.requestForm(ctx, req.Actor, app, formChannel(req))
	if err != nil {
		return err
	}
	return quietHashConflict(req, updateOpenView(ctx, req, views.RequestModal(f)))
}

// userDraft is the preview's private_metadata: only ids and values, all
// validated again when the request is created.
type userDraft struct {
	App           string `json:"a"`
	Connection    string `json:"c"`
	Target        string `json:"t,omitempty"`
	DurationS     int64  `json:"d,omitempty"`
	Justification string `json:"j"`
	Channel       string `json:"ch,omitempty"`
}

// formChannel is the routed channel a request form was opened in: its
// private_metadata (set by RequestModal, "" when not routed).
func formChannel(req *bot.Request) string {
	if req.Interaction == nil {
		return ""
	}
	return blockkit.Truncate(req.Interaction.View.PrivateMetadata, 40)
}

// channelRoute is the tenant's route for channel, nil for none.
func (h *Requests) channelRoute(ctx context.Context, tenantID, channel string) (*accessbot.ChannelRoute, error) {
	if channel == "" {
		return nil, nil
	}
	p, err := h.requestPolicy(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	return p.Route(channel), nil
}

// requestPolicy is the tenant's request policy; none is the default.
func (h *Requests) requestPolicy(ctx context.Context, tenantID string) (*accessbot.RequestPolicy, error) {
	p, err := h.st.GetRequestPolicy(ctx, tenantID)
	if errors.Is(err, accessbot.ErrNotFound) {
		return &accessbot.RequestPolicy{TenantID: tenantID}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read request policies: %w", err)
	}
	return p, nil
}

func (d userDraft) input(actor *bot.Actor) requests.UserAccess {
	return requests.UserAccess{
		TenantID: actor.Tenant.ID, RequesterID: actor.User.ID, TargetUserID: d.Target,
		AppID: d.App, ConnectionID: d.Connection, Duration: time.Duration(d.DurationS) * time.Second,
		Justification: d.Justification, Channel: d.Channel,
	}
}

func requestBlockFor(field string) string {
	switch field {
	case requests.FieldApp:
		return views.BlockReqApp
	case requests.FieldConnection:
		return views.BlockReqEntitlement
	case requests.FieldTarget:
		return views.BlockReqTarget
	case requests.FieldDuration:
		return views.BlockReqDuration
	case requests.FieldJustification:
		return views.BlockReqJustification
	}
	return ""
}

// submitRequestForm checks the form and shows the preview, or the errors inline.
func (h *Requests) submitRequestForm(ctx context.Context, req *bot.Request) error {
	d := userDraft{
		App:           selectedValue(req, views.BlockReqApp, views.ActionReqApp),
		Connection:    selectedValue(req, views.BlockReqEntitlement, views.ActionReqEntitlement),
		Justification: textValue(req, views.BlockReqJustification, views.ActionReqJustification),
		Channel:       formChannel(req),
	}
	if t := selectedValue(req, views.BlockReqTarget, views.ActionReqTarget); t != "" && t != "me" {
		d.Target = t
	}
	errs := map[string]string{}
	choice := selectedValue(req, views.BlockReqDuration, views.ActionReqDuration)
	switch choice {
	case "":
		errs[views.BlockReqDuration] = "Choose how long you need access."
	case views.DurationPermanent:
	case views.DurationCustom:
		hours, err := strconv.ParseFloat(textValue(req, views.BlockReqCustomHours, views.ActionReqCustomHours), 64)
		// Written so NaN fails too.
		if err != nil || !(hours >= 1 && hours <= maxCustomHours) {
			errs[views.BlockReqCustomHours] = fmt.Sprintf("Type a number of hours between 1 and %d, e.g. 36.", maxCustomHours)
		} else {
			d.DurationS = int64(hours * 3600)
		}
	default:
		secs, err := strconv.ParseInt(choice, 10, 64)
		if err != nil || secs <= 0 {
			errs[views.BlockReqDuration] = "Choose one of the durations offered."
		}
		d.DurationS = secs
	}
	if len(errs) > 0 {
		return viewErrors(req, errs)
	}
	draft, err := h.flows.Prepare(ctx, d.input(req.Actor))
	if err != nil {
		if errs, ok := prepareErrors(err, requestBlockFor, views.BlockReqJustification, views.BlockReqEntitlement); ok {
			if msg, ok := errs[views.BlockReqDuration]; ok && choice == views.DurationCustom {
				// The custom hours are what is wrong: say so next to them.
				delete(errs, views.BlockReqDuration)
				errs[views.BlockReqCustomHours] = msg
			}
			if !viewHasBlock(req, views.BlockReqEntitlement) {
				// No entitlement block (no app chosen yet): show it on the app.
				if msg, ok := errs[views.BlockReqEntitlement]; ok {
					delete(errs, views.BlockReqEntitlement)
					errs[views.BlockReqApp] = msg
				}
			}
			return viewErrors(req, errs)
		}
		return fmt.Errorf("prepare access request: %w", err)
	}
	return h.showPreview(ctx, req, views.CallbackRequestPreview, draft, d, views.BlockReqJustification, "Please shorten the justification.")
}

// showPreview turns the form into the preview of r. The form's answers (d)
// ride along in private_metadata, which holds 3,000 characters: longer
// answers are refused on block tooLong with msg.
func (h *Requests) showPreview(ctx context.Context, req *bot.Request, callback string, draft *requests.Draft, d any, tooLong, msg string) error {
	r := &draft.Request
	meta, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("encode draft: %w", err)
	}
	if len([]rune(string(meta))) > 3000 {
		return viewErrors(req, map[string]string{tooLong: msg})
	}
	card, err := h.cards.card(ctx, r, false)
	if err != nil {
		return err
	}
	return viewUpdate(req, views.RequestPreview(callback, card, views.PreviewInfo{Chain: h.cards.chain(ctx, r), ChainName: chainName(draft), ChainWhy: draft.ChainWhy}, string(meta)))
}

// submitRequestPreview creates the request the preview shows.
func (h *Requests) submitRequestPreview(ctx context.Context, req *bot.Request) error {
	var d userDraft
	if err := json.Unmarshal([]byte(req.Interaction.View.PrivateMetadata), &d); err != nil {
		return badDraft(req, views.CallbackRequestPreview, kindOf(requests.UserAccess{}), err)
	}
	in := d.input(req.Actor)
	return h.create(ctx, req, in, views.CallbackRequestPreview, req.Interaction.View.PrivateMetadata)
}

// create creates a previewed request; on failure the preview comes back
// with the problem in plain words.
func (h *Requests) create(ctx context.Context, req *bot.Request, in requests.Input, callback, meta string) error {
	// The draft rides back on the preview if creation fails: one no
	// preview could have carried (a forged submission) is unreadable.
	if n := utf8.RuneCountInString(meta); n > blockkit.MaxPrivateMetadata {
		return badDraft(req, callback, kindOf(in), fmt.Errorf("draft of %d characters, over Slack's %d", n, blockkit.MaxPrivateMetadata))
	}
	r, err := h.flows.Create(ctx, in)
	if err != nil {
		errs, ok := prepareErrors(err, func(string) string { return "" }, "problem", "problem")
		if !ok {
			return fmt.Errorf("create request: %w", err)
		}
		draft, perr := h.flows.Prepare(ctx, in)
		var card views.RequestCard
		if perr == nil {
			card, _ = h.cards.card(ctx, &draft.Request, false)
		} else {
			card = views.RequestCard{Kind: kindOf(in), Status: accessbot.StatusPending, Requester: userName(&req.Actor.User), App: "—", Levels: 1}
		}
		return viewUpdate(req, views.RequestPreview(callback, card, views.PreviewInfo{Problem: strings.TrimSpace(errs["problem"])}, meta))
	}
	card, err := h.cards.card(ctx, r, false)
	if err != nil {
		return err
	}
	req.Log.Info().Str("request", r.ID).Str("kind", string(r.Kind)).Msg("request created from Slack")
	return viewUpdate(req, views.RequestDone(card))
}

// msgBadDraft answers a preview whose draft cannot be read (a tampered or
// garbled submission).
const msgBadDraft = "I could not read this preview. Close it and start again with `" + views.Command + "`."

// badDraft shows the preview back with msgBadDraft; nothing is created.
func badDraft(req *bot.Request, callback string, kind accessbot.RequestKind, err error) error {
	req.Log.Warn().AnErr("draft", err).Str("callback_id", callback).Msg("preview draft unreadable")
	card := views.RequestCard{Kind: kind, Status: accessbot.StatusPending, Requester: userName(&req.Actor.User), App: "—", Levels: 1}
	return viewUpdate(req, views.RequestPreview(callback, card, views.PreviewInfo{Problem: msgBadDraft}, ""))
}

func kindOf(in requests.Input) accessbot.RequestKind {
	switch in.(type) {
	case requests.ConnectionCreate:
		return accessbot.RequestConnectionCreate
	case requests.ConnectionAssign:
		return accessbot.RequestConnectionAssign
	case requests.ConnectionDelete:
		return accessbot.RequestConnectionDelete
	}
	return accessbot.RequestUserAccess
}

func chainName(d *requests.Draft) string {
	if d.Chain == nil {
		return ""
	}
	return d.Chain.Name
}
