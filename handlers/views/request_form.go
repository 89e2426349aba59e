package views

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot"
)

// Duration choices of the access request form (option values).
const (
	DurationCustom    = "custom"
	DurationPermanent = "permanent"
)

// durationChoices are the fixed durations offered, in order.
var durationChoices = []time.Duration{time.Hour, 8 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour}

// DurationValue is a duration's option value: its length in seconds.
func DurationValue(d time.Duration) string { return strconv.FormatInt(int64(d/time.Second), 10) }

// RequestForm is the state the "/access request" modal renders.
type RequestForm struct {
	// App is the chosen application, nil until one is chosen.
	App *Option
	// MaxDuration of the chosen application; 0 allows permanent access.
	MaxDuration time.Duration
	// Entitlements are the chosen application's connections.
	Entitlements []Option
	// Reports are the people the requester may ask for (direct reports, or
	// the reporting line, as the tenant's on-behalf policy says).
	Reports []Option
	// TargetSearch makes "For" a type-ahead over the people the requester
	// may ask for (anyone, for admins and helpdesk groups; or too many to list).
	TargetSearch bool
	// TargetHint says whom the requester may ask for.
	TargetHint string
	// Channel is the routed channel the form was opened in ("" for none);
	// it rides in the form's private_metadata to the request.
	Channel string
	// ChannelApps are the names of the routed channel's applications.
	ChannelApps []string
}

func option(o Option) *slack.OptionBlockObject {
	var desc *slack.TextBlockObject
	if o.Desc != "" {
		desc = plain(truncate(o.Desc, 75))
	}
	return slack.NewOptionBlockObject(truncate(o.Value, 150), plain(truncate(o.Text, 75)), desc)
}

func options(os []Option) []*slack.OptionBlockObject {
	if len(os) > 100 {
		os = os[:100]
	}
	out := make([]*slack.OptionBlockObject, len(os))
	for i, o := range os {
		out[i] = option(o)
	}
	return out
}

func appSelect(actionID string, app *Option) *slack.SelectBlockElement {
	sel := slack.NewOptionsSelectBlockElement(slack.OptTypeExternal, plain("Type to search applications"), actionID)
	zero := 0
	sel.MinQueryLength = &zero
	if app != nil {
		sel.InitialOption = option(*app)
	}
	return sel
}

func input(blockID, label string, el slack.BlockElement, optional bool, hint string) *slack.InputBlock {
	var h *slack.TextBlockObject
	if hint != "" {
		h = plain(hint)
	}
	b := slack.NewInputBlock(blockID, plain(label), h, el)
	b.Optional = optional
	return b
}

// RequestModal is the "/access request" form. Choosing an application
// dispatches a block action, and the handler updates the view with its
// entitlements and allowed durations.
func RequestModal(f RequestForm) slack.ModalViewRequest {
	blocks := []slack.Block{
		input(BlockReqApp, "Application", appSelect(ActionReqApp, f.App), false, "").WithDispatchAction(true),
	}
	if f.Channel != "" {
		text := "Asked in this channel: an application without an approval chain of its own goes to this channel's approvers."
		if len(f.ChannelApps) > 0 {
			names := make([]string, len(f.ChannelApps))
			for i, n := range f.ChannelApps {
				names[i] = "*" + escape(n, 100) + "*"
			}
			text = "Asked in this channel, whose applications are " + strings.Join(names, ", ") + " (offered first). An application without an approval chain of its own goes to this channel's approvers."
		}
		blocks = append(blocks, slack.NewContextBlock(BlockReqChannel, mrkdwn(truncate(text, 2900))))
	}
	if f.App == nil {
		blocks = append(blocks, slack.NewContextBlock(BlockReqHint, mrkdwn("Choose an application to see what you can ask for.")))
	} else if len(f.Entitlements) == 0 {
		blocks = append(blocks, slack.NewContextBlock(BlockReqHint, mrkdwn(escape(f.App.Text, maxValue)+" has no entitlements to request yet. Ask its owners to add some.")))
	} else {
		sel := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Group, role or account"), ActionReqEntitlement, options(f.Entitlements)...)
		blocks = append(blocks, input(BlockReqEntitlement, "Entitlement", sel, false, ""))
	}
	hint := f.TargetHint
	if hint == "" {
		hint = "You can ask for yourself or one of your direct reports."
	}
	me := Option{Value: "me", Text: "Me"}
	switch {
	case f.TargetSearch:
		sel := slack.NewOptionsSelectBlockElement(slack.OptTypeExternal, plain("Type a name or email"), ActionReqTarget)
		zero := 0
		sel.MinQueryLength = &zero
		sel.InitialOption = option(me)
		blocks = append(blocks, input(BlockReqTarget, "For", sel, false, truncate(hint, 150)))
	case len(f.Reports) > 0:
		sel := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Who needs access?"), ActionReqTarget,
			options(append([]Option{me}, f.Reports...))...)
		sel.InitialOption = option(me)
		blocks = append(blocks, input(BlockReqTarget, "For", sel, false, truncate(hint, 150)))
	}
	var durs []Option
	if f.MaxDuration > 0 && f.MaxDuration < durationChoices[0] {
		// An application that allows less than the shortest choice (a
		// demo's few minutes) offers its maximum.
		durs = append(durs, Option{Value: DurationValue(f.MaxDuration), Text: DurationWords(f.MaxDuration)})
	}
	for _, d := range durationChoices {
		if f.MaxDuration <= 0 || d <= f.MaxDuration {
			durs = append(durs, Option{Value: DurationValue(d), Text: DurationWords(d)})
		}
	}
	durs = append(durs, Option{Value: DurationCustom, Text: "Custom (hours below)"})
	hint = "How long you need it."
	if f.MaxDuration <= 0 {
		durs = append(durs, Option{Value: DurationPermanent, Text: "Permanent"})
	} else {
		name := "This application"
		if f.App != nil {
			name = f.App.Text
		}
		hint = fmt.Sprintf("%s allows at most %s.", truncate(name, 100), DurationWords(f.MaxDuration))
	}
	blocks = append(blocks,
		input(BlockReqDuration, "Duration", slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("How long?"), ActionReqDuration, options(durs)...), false, hint),
		input(BlockReqCustomHours, "Custom duration (hours)", slack.NewPlainTextInputBlockElement(plain("e.g. 36"), ActionReqCustomHours), true, "Only used when Duration is Custom."),
	)
	just := slack.NewPlainTextInputBlockElement(plain("Why do you need this access?"), ActionReqJustification)
	just.Multiline = true
	just.MinLength = accessbot.MinJustification
	just.MaxLength = accessbot.MaxJustification
	blocks = append(blocks, input(BlockReqJustification, "Justification", just, false, ""))
	return slack.ModalViewRequest{
		Type:            slack.VTModal,
		CallbackID:      CallbackRequestForm,
		PrivateMetadata: f.Channel,
		Title:           plain("Request access"),
		Submit:          plain("Preview"),
		Close:           plain("Cancel"),
		Blocks:          slack.Blocks{BlockSet: blocks},
	}
}

// ConnectionForm is the state the "/access connection" modal renders.
type ConnectionForm struct {
	// Kind is "create", "assign" or "delete"; "" until chosen.
	Kind string
	App  *Option
	// Connections of the chosen application (assignment, deletion).
	Connections []Option
	// Types a new connection may have (creation).
	Types []string
	// Schema is the application's connection form (creation).
	Schema []SchemaInput
	// Assignable are the application's connections and resources (assignment).
	Assignable []Option
}

// SchemaInput is one field of an application's connection form.
type SchemaInput struct {
	Name     string
	Label    string
	Type     string // text, multiline, select
	Required bool
	Options  []string
}

// Connection request kinds (radio values).
const (
	ConnKindCreate = "create"
	ConnKindAssign = "assign"
	ConnKindDelete = "delete"
)

// A connection is a group, role or policy in an application (the product's
// word); each choice says so, since the word alone means little.
var connKinds = []Option{
	{Value: ConnKindCreate, Text: "Create a connection", Desc: "Add a new group, role or policy to an application."},
	{Value: ConnKindAssign, Text: "Change what a connection grants", Desc: "Grant or revoke access for an existing group, role or policy."},
	{Value: ConnKindDelete, Text: "Delete a connection", Desc: "Remove a group, role or policy from an application."},
}

// ConnectionModal is the "/access connection" form: the kind first, then the
// application, then the kind's fields.
func ConnectionModal(f ConnectionForm) slack.ModalViewRequest {
	radio := slack.NewRadioButtonsBlockElement(ActionConnKind, options(connKinds)...)
	for _, k := range connKinds {
		if k.Value == f.Kind {
			radio.InitialOption = option(k)
		}
	}
	blocks := []slack.Block{input(BlockConnKind, "What do you want to do with a group, role or policy?", radio, false, "").WithDispatchAction(true)}
	if f.Kind != "" {
		blocks = append(blocks, input(BlockConnApp, "Application", appSelect(ActionConnApp, f.App), false, "").WithDispatchAction(true))
	}
	switch {
	case f.Kind == "":
		blocks = append(blocks, slack.NewContextBlock(BlockConnHint, mrkdwn("Create a connection (group, role, policy), change what one grants, or delete one.")))
	case f.App == nil:
		blocks = append(blocks, slack.NewContextBlock(BlockConnHint, mrkdwn("Choose an application.")))
	case f.Kind == ConnKindCreate:
		name := slack.NewPlainTextInputBlockElement(plain("e.g. data-readers"), ActionConnName)
		name.MaxLength = 200
		types := make([]Option, len(f.Types))
		for i, t := range f.Types {
			types[i] = Option{Value: t, Text: t}
		}
		desc := slack.NewPlainTextInputBlockElement(nil, ActionConnDescription)
		desc.Multiline = true
		desc.MaxLength = 500
		blocks = append(blocks,
			input(BlockConnName, "Name", name, false, ""),
			input(BlockConnType, "Type", slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Choose a type"), ActionConnType, options(types)...), false, ""),
			input(BlockConnDescription, "Description", desc, true, ""))
		for _, s := range f.Schema {
			blocks = append(blocks, schemaInput(s))
		}
	case len(f.Connections) == 0:
		blocks = append(blocks, slack.NewContextBlock(BlockConnHint, mrkdwn(escape(f.App.Text, maxValue)+" has no connections yet.")))
	default:
		blocks = append(blocks, input(BlockConnConnection, "Connection",
			slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Choose a connection"), ActionConnConnection, options(f.Connections)...), false, ""))
		if f.Kind == ConnKindAssign && len(f.Assignable) > 0 {
			grants := slack.NewOptionsMultiSelectBlockElement(slack.MultiOptTypeStatic, plain("Access to grant"), ActionConnGrants, options(f.Assignable)...)
			revokes := slack.NewOptionsMultiSelectBlockElement(slack.MultiOptTypeStatic, plain("Access to revoke"), ActionConnRevokes, options(f.Assignable)...)
			blocks = append(blocks,
				input(BlockConnGrants, "Grants", grants, true, "Connections and resources this connection should get."),
				input(BlockConnRevokes, "Revokes", revokes, true, "Connections and resources this connection should lose."))
		}
	}
	if f.Kind != "" && f.App != nil {
		just := slack.NewPlainTextInputBlockElement(plain("Why is this change needed?"), ActionConnJustification)
		just.Multiline = true
		just.MaxLength = accessbot.MaxConnectionJustification
		blocks = append(blocks, input(BlockConnJustification, "Justification", just, true, ""))
	}
	return slack.ModalViewRequest{
		Type:       slack.VTModal,
		CallbackID: CallbackConnectionForm,
		Title:      plain("Groups, roles, policies"),
		Submit:     plain("Preview"),
		Close:      plain("Cancel"),
		Blocks:     slack.Blocks{BlockSet: blocks},
	}
}

func schemaInput(s SchemaInput) slack.Block {
	label := s.Label
	if label == "" {
		label = s.Name
	}
	var el slack.BlockElement
	switch s.Type {
	case "select":
		os := make([]Option, len(s.Options))
		for i, o := range s.Options {
			os[i] = Option{Value: o, Text: o}
		}
		if len(os) == 0 {
			os = []Option{{Value: "", Text: "(no options)"}}
		}
		el = slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Choose"), ActionConnField, options(os)...)
	default:
		t := slack.NewPlainTextInputBlockElement(nil, ActionConnField)
		t.Multiline = s.Type == "multiline"
		t.MaxLength = 2000
		el = t
	}
	return input(BlockConnFieldPrefix+s.Name, truncate(label, 200), el, !s.Required, "")
}

// PreviewInfo is what the preview shows besides the request itself.
type PreviewInfo struct {
	// Chain names the approvers of each level ("Bob, Carol (all must approve)").
	Chain []string
	// ChainName and ChainWhy say which approval chain applies and why
	// (the application's own, a channel's, the tenant default).
	ChainName, ChainWhy string
	// Problem, when set, says why creating failed after the preview.
	Problem string
}

// RequestPreview shows the request before it is created; submitting it
// creates the request. metadata carries only ids and values, and the
// handler validates it again.
func RequestPreview(callbackID string, c RequestCard, p PreviewInfo, metadata string) slack.ModalViewRequest {
	blocks := []slack.Block{
		slack.NewSectionBlock(mrkdwn("Check your request. Nothing is sent until you press *Create request*."), nil, nil, slack.SectionBlockOptionBlockID(BlockPreviewIntro)),
	}
	if p.Problem != "" {
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(":warning: "+escape(p.Problem, 2000)), nil, nil, slack.SectionBlockOptionBlockID(BlockPreviewProblem)))
	}
	blocks = append(blocks, CardBlocks(c, "")...)
	if len(p.Chain) > 0 {
		lines := make([]string, len(p.Chain))
		for i, l := range p.Chain {
			lines[i] = fmt.Sprintf("%d. %s", i+1, escape(l, 500))
		}
		head := "*Approval chain*"
		if p.ChainName != "" {
			head += " " + escape(p.ChainName, 200)
			if p.ChainWhy != "" {
				head += ": " + escape(p.ChainWhy, 500)
			}
		}
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(truncate(head+"\n"+strings.Join(lines, "\n"), 2900)), nil, nil, slack.SectionBlockOptionBlockID(BlockCardChain)))
	}
	return slack.ModalViewRequest{
		Type:            slack.VTModal,
		CallbackID:      callbackID,
		Title:           plain("Preview request"),
		Submit:          plain("Create request"),
		Close:           plain("Cancel"),
		PrivateMetadata: metadata,
		Blocks:          slack.Blocks{BlockSet: blocks},
	}
}

// RequestDone replaces the preview once the request exists.
func RequestDone(c RequestCard) slack.ModalViewRequest {
	return slack.ModalViewRequest{
		Type:       slack.VTModal,
		CallbackID: CallbackRequestDone,
		Title:      plain("Request created"),
		Close:      plain("Done"),
		Blocks: slack.Blocks{BlockSet: append([]slack.Block{
			slack.NewSectionBlock(mrkdwn(":white_check_mark: Your request is on its way to its approvers. I'll tell you in a DM as it moves."), nil, nil, slack.SectionBlockOptionBlockID(BlockPreviewIntro)),
		}, CardBlocks(c, "")...)},
	}
}
