package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot/bot/blockkit"
	"github.com/accessbot/accessbot/bot/slackapi"
)

// maxAckBytes is the largest ack payload a Socket Mode frame carries:
// slack-go refuses an ack that marshals to 20480 bytes or more, and Slack
// closes the socket on such a frame.
const maxAckBytes = 20480

// Answers in views the guard substitutes.
const (
	MsgViewSorry   = "Sorry, I could not show that form (ref %s). Please close it and try again, and tell your admin if it keeps happening."
	MsgViewLoading = "One moment…"
	// maxViewErrorText bounds one inline error (Slack shows it under the input).
	maxViewErrorText = 2000
)

// viewUpdater replaces a modal after the ack; *slackapi.Client has it.
type viewUpdater interface {
	UpdateView(ctx context.Context, v slack.ModalViewRequest, externalID, hash, viewID string) (*slack.ViewResponse, error)
}

// guardAck passes what a handler set for the ack through the Block Kit
// guard: views are fitted, suggestion options cut to Slack's limits, and
// command answers fitted like any message. What cannot be made valid is
// replaced by a polite answer, so Slack never gets a payload it rejects.
func guardAck(r *Request, payload any) any {
	if payload == nil {
		return nil
	}
	switch r.Kind {
	case KindView:
		return guardViewAck(r, payload)
	case KindSuggestion:
		return guardOptionsAck(r, payload)
	}
	return payload
}

// decodeAs turns any payload into v through JSON (handlers may set maps).
func decodeAs(payload, v any) error {
	js, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("encode ack payload: %w", err)
	}
	if err := json.Unmarshal(js, v); err != nil {
		return fmt.Errorf("decode ack payload: %w", err)
	}
	return nil
}

func ackSize(payload any) int {
	js, err := json.Marshal(payload)
	if err != nil {
		return maxAckBytes // cannot be sent as it is
	}
	return len(js)
}

// sorryView is the modal shown instead of one Slack would reject.
func sorryView(envelopeID string) *slack.ModalViewRequest {
	return textView(fmt.Sprintf(MsgViewSorry, envelopeID))
}

// textView is a modal that only says text (and can only be closed).
func textView(text string) *slack.ModalViewRequest {
	return &slack.ModalViewRequest{
		Type:  slack.VTModal,
		Title: slack.NewTextBlockObject(slack.PlainTextType, "Sorry", false, false),
		Close: slack.NewTextBlockObject(slack.PlainTextType, "Close", false, false),
		Blocks: slack.Blocks{BlockSet: []slack.Block{slack.NewSectionBlock(
			slack.NewTextBlockObject(slack.MarkdownType, blockkit.Truncate(text, blockkit.MaxSectionText), false, false), nil, nil)}},
	}
}

func (r *Request) sorryAck(action slack.ViewResponseAction) *slack.ViewSubmissionResponse {
	if action != slack.RAPush {
		action = slack.RAUpdate
	}
	return &slack.ViewSubmissionResponse{ResponseAction: action, View: sorryView(r.EnvelopeID)}
}

// guardViewAck checks a view_submission answer: update and push views are
// fitted (or replaced by an apology), errors are keyed to input blocks of
// the submitted view and cut to size.
func guardViewAck(r *Request, payload any) any {
	var resp slack.ViewSubmissionResponse
	switch p := payload.(type) {
	case *slack.ViewSubmissionResponse:
		resp = *p
	case slack.ViewSubmissionResponse:
		resp = p
	default:
		if err := decodeAs(payload, &resp); err != nil {
			r.Log.Error().Err(err).Msg("view_submission answer unreadable; answering with an apology")
			return r.sorryAck(slack.RAUpdate)
		}
	}
	switch resp.ResponseAction {
	case slack.RAUpdate, slack.RAPush:
		if resp.View == nil {
			r.Log.Error().Str("response_action", string(resp.ResponseAction)).Msg("view_submission answer without a view; answering with an apology")
			return r.sorryAck(resp.ResponseAction)
		}
		v := *resp.View
		if v.Type == "" {
			v.Type = slack.VTModal
		}
		if err := blockkit.FitModal(&v); err != nil {
			r.Log.Error().Err(err).Str("view", v.CallbackID).Msg("view fails the Block Kit guard; answering with an apology")
			return r.sorryAck(resp.ResponseAction)
		}
		resp.View = &v
		return &resp
	case slack.RAErrors:
		return guardViewErrors(r, resp)
	case slack.RAClear:
		return &slack.ViewSubmissionResponse{ResponseAction: slack.RAClear}
	case "":
		return nil // an empty ack closes the submitted view
	}
	r.Log.Error().Str("response_action", string(resp.ResponseAction)).Msg("unknown response_action; answering with an apology")
	return r.sorryAck(slack.RAUpdate)
}

// inputBlockIDs lists the input blocks of the submitted view, in order.
func inputBlockIDs(r *Request) []string {
	if r.Interaction == nil {
		return nil
	}
	var out []string
	for _, b := range r.Interaction.View.Blocks.BlockSet {
		if in, ok := b.(*slack.InputBlock); ok && in.BlockID != "" {
			out = append(out, in.BlockID)
		}
	}
	return out
}

// guardViewErrors keeps inline errors where Slack shows them: a message for
// a block that is not an input of the submitted view moves to the first
// input (Slack would otherwise show only "trouble connecting"); with no
// input at all, or no message, the user gets the apology view instead.
func guardViewErrors(r *Request, resp slack.ViewSubmissionResponse) any {
	inputs := inputBlockIDs(r)
	// A payload whose view lists no blocks tells nothing: keep the keys.
	known := r.Interaction != nil && len(r.Interaction.View.Blocks.BlockSet) > 0
	isInput := map[string]bool{}
	for _, id := range inputs {
		isInput[id] = true
	}
	out := map[string]string{}
	keys := make([]string, 0, len(resp.Errors))
	for k := range resp.Errors {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var stray []string
	for _, k := range keys {
		msg := resp.Errors[k]
		if msg == "" {
			continue
		}
		if isInput[k] || !known {
			out[k] = msg
		} else {
			stray = append(stray, msg)
		}
	}
	if len(stray) > 0 {
		r.Log.Warn().Int("errors", len(stray)).Msg("inline errors for blocks that are not inputs of the view; shown on the first input")
		if len(inputs) == 0 {
			return r.sorryAck(slack.RAUpdate)
		}
		if prev := out[inputs[0]]; prev != "" {
			stray = append(stray, prev)
		}
		out[inputs[0]] = strings.Join(stray, " ")
	}
	if len(out) == 0 {
		r.Log.Error().Msg("errors answer with no message for the user; answering with an apology")
		return r.sorryAck(slack.RAUpdate)
	}
	limit := maxViewErrorText
	for {
		for k, v := range out {
			out[k] = blockkit.Truncate(v, limit)
		}
		resp := &slack.ViewSubmissionResponse{ResponseAction: slack.RAErrors, Errors: out}
		if ackSize(resp) < maxAckBytes || limit <= 100 {
			return resp
		}
		limit /= 2
	}
}

// optionsAck is a block_suggestion answer.
type optionsAck struct {
	Options      []*slack.OptionBlockObject      `json:"options,omitempty"`
	OptionGroups []*slack.OptionGroupBlockObject `json:"option_groups,omitempty"`
}

// MarshalJSON keeps "options":[] for an empty menu (Slack wants the key).
func (o optionsAck) MarshalJSON() ([]byte, error) {
	if len(o.OptionGroups) > 0 {
		return json.Marshal(map[string]any{"option_groups": o.OptionGroups})
	}
	opts := o.Options
	if opts == nil {
		opts = []*slack.OptionBlockObject{}
	}
	return json.Marshal(map[string]any{"options": opts})
}

// fitOptions drops options Slack would reject (no text, a value over 150
// characters) and cuts display text; at most max are kept.
func fitOptions(opts []*slack.OptionBlockObject, max int) (kept []*slack.OptionBlockObject, dropped int) {
	for _, o := range opts {
		if o == nil || o.Text == nil || o.Text.Text == "" || o.Value == "" || len([]rune(o.Value)) > blockkit.MaxOptionValue {
			dropped++
			continue
		}
		if len(kept) == max {
			dropped++
			continue
		}
		c := *o
		t := *o.Text
		t.Type = slack.PlainTextType // external select options are plain_text
		t.Text = blockkit.Truncate(t.Text, blockkit.MaxOptionText)
		c.Text = &t
		if c.Description != nil {
			d := *c.Description
			d.Type = slack.PlainTextType
			d.Text = blockkit.Truncate(d.Text, blockkit.MaxOptionDesc)
			c.Description = &d
		}
		kept = append(kept, &c)
	}
	return kept, dropped
}

// guardOptionsAck fits a block_suggestion answer: at most 100 options (or
// groups of at most 100), valid texts and values, and the whole within one
// Socket Mode frame. An unreadable answer becomes an empty menu.
func guardOptionsAck(r *Request, payload any) any {
	var in optionsAck
	if err := decodeAs(payload, &in); err != nil {
		r.Log.Error().Err(err).Msg("suggestion answer unreadable; answering with no options")
		return optionsAck{}
	}
	out := optionsAck{}
	dropped := 0
	if len(in.OptionGroups) > 0 {
		for _, g := range in.OptionGroups {
			if g == nil || g.Label == nil || g.Label.Text == "" || len(out.OptionGroups) == blockkit.MaxOptionGroups {
				dropped++
				continue
			}
			opts, n := fitOptions(g.Options, blockkit.MaxSelectOptions)
			dropped += n
			if len(opts) == 0 {
				continue
			}
			label := *g.Label
			label.Type = slack.PlainTextType
			label.Text = blockkit.Truncate(label.Text, blockkit.MaxOptionGroupText)
			out.OptionGroups = append(out.OptionGroups, &slack.OptionGroupBlockObject{Label: &label, Options: opts})
		}
		for len(out.OptionGroups) > 0 && ackSize(out) >= maxAckBytes {
			dropped += len(out.OptionGroups[len(out.OptionGroups)-1].Options)
			out.OptionGroups = out.OptionGroups[:len(out.OptionGroups)-1]
		}
	} else {
		var n int
		out.Options, n = fitOptions(in.Options, blockkit.MaxSelectOptions)
		dropped += n
		for len(out.Options) > 0 && ackSize(out) >= maxAckBytes {
			out.Options = out.Options[:len(out.Options)-1]
			dropped++
		}
	}
	if dropped > 0 {
		r.Log.Warn().Int("dropped", dropped).Msg("suggestion options cut to Slack's limits")
	}
	return out
}

// fitAckSize makes a guarded view answer fit one Socket Mode frame. A view
// too large for it rides as a small "One moment…" view named by an
// external_id, and later replaces it through views.update (whose limit is
// far larger). Without a Web API client the user gets the apology view.
func fitAckSize(req *Request, payload any) (any, func(context.Context)) {
	resp, ok := payload.(*slack.ViewSubmissionResponse)
	if !ok || req == nil || req.Kind != KindView || resp.View == nil || ackSize(payload) < maxAckBytes {
		return payload, nil
	}
	api, ok := req.API.(viewUpdater)
	if !ok {
		req.Log.Error().Int("bytes", ackSize(payload)).Msg("view too large for the ack and no Web API client; answering with an apology")
		return req.sorryAck(resp.ResponseAction), nil
	}
	full := *resp.View
	if full.ExternalID == "" {
		full.ExternalID = "accessbot-ack-" + req.EnvelopeID
	}
	placeholder := &slack.ModalViewRequest{
		Type:            slack.VTModal,
		Title:           full.Title,
		Close:           full.Close,
		CallbackID:      full.CallbackID,
		PrivateMetadata: full.PrivateMetadata,
		ExternalID:      full.ExternalID,
		Blocks: slack.Blocks{BlockSet: []slack.Block{slack.NewSectionBlock(
			slack.NewTextBlockObject(slack.PlainTextType, MsgViewLoading, false, false), nil, nil)}},
	}
	if ackSize(&slack.ViewSubmissionResponse{ResponseAction: resp.ResponseAction, View: placeholder}) >= maxAckBytes {
		placeholder.PrivateMetadata = "" // at most 3000 characters; the view below carries it
	}
	req.Log.Info().Int("bytes", ackSize(payload)).Str("external_id", full.ExternalID).Msg("view too large for the ack; sending it by views.update")
	later := func(ctx context.Context) {
		// Slack applies the ack on its side; until it has, the external_id
		// is unknown to views.update, so not_found is retried briefly.
		var err error
		for attempt := range 10 {
			if _, err = api.UpdateView(ctx, full, full.ExternalID, "", ""); err == nil || !isSlackError(err, "not_found") {
				break
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Duration(attempt+1) * 100 * time.Millisecond):
			}
		}
		if err != nil {
			req.Log.Error().Err(err).Str("external_id", full.ExternalID).Msg("views.update of a large view answer failed")
		}
	}
	return &slack.ViewSubmissionResponse{ResponseAction: resp.ResponseAction, View: placeholder}, later
}

func isSlackError(err error, code string) bool { return slackapi.SlackErrorCode(err) == code }
