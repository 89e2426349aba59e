package views

import (
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/blockkit"
)

// Playbooks (issue 13): "/access playbooks" and its modals.
const (
	SubPlaybooks = "playbooks"

	CallbackPlaybooks     = "playbooks"
	CallbackPlaybookForm  = "playbook_form"
	CallbackPlaybookSaved = "playbook_saved"

	BlockPlaybooksHeader = "playbooks_header"
	BlockPlaybooksNew    = "playbooks_new"
	BlockPlaybook        = "playbook"         // + "." + id
	BlockPlaybookActions = "playbook_actions" // + "." + id
	BlockPlaybookRuns    = "playbook_runs"    // + "." + id

	ActionPlaybookNew    = "playbook_new"
	ActionPlaybookToggle = "playbook_toggle"
	ActionPlaybookEdit   = "playbook_edit"

	BlockPBName    = "pb_name"
	BlockPBDesc    = "pb_desc"
	BlockPBType    = "pb_type"
	BlockPBApp     = "pb_app"
	BlockPBURL     = "pb_url"
	BlockPBToken   = "pb_token"
	BlockPBOptions = "pb_options"
	ActionPBName   = "pb_name_input"
	ActionPBDesc   = "pb_desc_input"
	ActionPBType   = "pb_type_select"
	ActionPBApp    = "pb_app_select"
	ActionPBURL    = "pb_url_input"
	ActionPBToken  = "pb_token_input"
	ActionPBOpts   = "pb_options_check"

	// PBGlobal is the application option of a global playbook.
	PBGlobal = "global"
	// Option values of BlockPBOptions.
	PBOptRecurrence  = "recurrence"
	PBOptActive      = "active"
	PBOptClearToken  = "clear_token"
	PBOptNewSigning  = "new_signing_secret"
	maxPlaybooksShow = 20
)

// PlaybookRow is one playbook as the list shows it.
type PlaybookRow struct {
	Playbook accessbot.Playbook
	AppName  string // "" for a global playbook
	Runs     []accessbot.PlaybookRun
}

func typeWords(t accessbot.PlaybookType) string {
	switch t {
	case accessbot.PlaybookFinding:
		return "Finding"
	case accessbot.PlaybookRequest:
		return "Request"
	case accessbot.PlaybookReview:
		return "Review"
	}
	return string(t)
}

// RunWords is one run for people: "✅ delivered · HTTP 200 · 120 ms · 4 min ago".
func RunWords(r accessbot.PlaybookRun, now time.Time) string {
	var b strings.Builder
	switch r.Status {
	case accessbot.RunDelivered:
		b.WriteString(":white_check_mark: delivered")
	case accessbot.RunFailed:
		b.WriteString(":x: failed")
	default:
		b.WriteString(":hourglass_flowing_sand: sending")
	}
	if r.ResponseStatus != 0 {
		fmt.Fprintf(&b, " · HTTP %d", r.ResponseStatus)
	}
	if r.Attempts > 0 {
		fmt.Fprintf(&b, " · %s", r.Duration.Round(time.Millisecond))
	}
	if r.Attempts > 1 {
		fmt.Fprintf(&b, " · %d attempts", r.Attempts)
	}
	fmt.Fprintf(&b, " · %s · %s ago", escape(r.EventType, 60), ago(now.Sub(r.CreatedAt)))
	if r.Status == accessbot.RunFailed && r.Error != "" {
		fmt.Fprintf(&b, "\n%s", escape(r.Error, 200))
	}
	return b.String()
}

func ago(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h", int(d/time.Hour))
	}
	return fmt.Sprintf("%d days", int(d/(24*time.Hour)))
}

// PlaybooksModal lists the tenant's playbooks with Enable/Disable and Edit
// (playbooks from the tenant file are changed there), each with its last runs.
func PlaybooksModal(rows []PlaybookRow, now time.Time) slack.ModalViewRequest {
	blocks := []slack.Block{
		slack.NewSectionBlock(mrkdwn("Playbooks receive signed events from accessbot: findings, requests or reviews, and optionally every sync."),
			nil, slack.NewAccessory(slack.NewButtonBlockElement(ActionPlaybookNew, "new", plain("New playbook")).WithStyle(slack.StylePrimary)),
			slack.SectionBlockOptionBlockID(BlockPlaybooksNew)),
	}
	if len(rows) == 0 {
		blocks = append(blocks, slack.NewContextBlock(BlockPlaybooksHeader, mrkdwn("No playbooks yet.")))
	}
	hidden := 0
	if len(rows) > maxPlaybooksShow { // a modal holds 100 blocks
		hidden, rows = len(rows)-maxPlaybooksShow, rows[:maxPlaybooksShow]
	}
	for _, r := range rows {
		p := r.Playbook
		scope := "Global"
		if p.AppID != "" {
			scope = escape(r.AppName, 60)
		}
		state := ":large_green_circle: Active"
		if !p.Active {
			state = ":white_circle: Inactive"
		}
		line := fmt.Sprintf("*%s* · %s · %s · %s", escape(p.Name, 80), typeWords(p.Type), scope, state)
		if p.OnSync {
			line += " · runs after every sync"
		}
		if p.Description != "" {
			line += "\n" + escape(p.Description, 200)
		}
		line += "\n" + escape(p.URL, 150)
		blocks = append(blocks, slack.NewDividerBlock(), slack.NewSectionBlock(mrkdwn(line), nil, nil, slack.SectionBlockOptionBlockID(BlockPlaybook+"."+p.ID)))
		if p.Source == accessbot.SourceFile {
			blocks = append(blocks, slack.NewContextBlock(BlockPlaybookActions+"."+p.ID, mrkdwn("Declared in the tenant file: change it there (`accessbot apply`).")))
		} else {
			toggle := slack.NewButtonBlockElement(ActionPlaybookToggle, p.ID, plain("Disable"))
			if !p.Active {
				toggle = slack.NewButtonBlockElement(ActionPlaybookToggle, p.ID, plain("Enable")).WithStyle(slack.StylePrimary)
			}
			blocks = append(blocks, slack.NewActionBlock(BlockPlaybookActions+"."+p.ID, toggle,
				slack.NewButtonBlockElement(ActionPlaybookEdit, p.ID, plain("Edit"))))
		}
		if len(r.Runs) > 0 {
			var lines []string
			for _, run := range r.Runs {
				lines = append(lines, RunWords(run, now))
			}
			blocks = append(blocks, slack.NewContextBlock(BlockPlaybookRuns+"."+p.ID, mrkdwn("Last runs:\n"+strings.Join(lines, "\n"))))
		}
	}
	if hidden > 0 {
		blocks = append(blocks, slack.NewDividerBlock(), slack.NewContextBlock(BlockPlaybooksHeader+".more",
			mrkdwn(fmt.Sprintf("…and %d more, not shown: only the first %d by name fit here. Manage the others in the tenant file (`accessbot apply`).", hidden, maxPlaybooksShow))))
	}
	return slack.ModalViewRequest{Type: slack.VTModal, CallbackID: CallbackPlaybooks, Title: plain("Playbooks"), Close: plain("Close"),
		Blocks: slack.Blocks{BlockSet: blocks}}
}

// PlaybookForm is "New playbook" (p nil) or "Edit" (p set; its id rides
// in private_metadata). The token is never shown: left empty, it is kept.
func PlaybookForm(p *accessbot.Playbook, apps []Option) slack.ModalViewRequest {
	name := slack.NewPlainTextInputBlockElement(plain("e.g. open-ticket"), ActionPBName).WithMaxLength(80)
	desc := slack.NewPlainTextInputBlockElement(plain("What it does"), ActionPBDesc).WithMaxLength(300)
	typeOpts := []*slack.OptionBlockObject{}
	for _, t := range accessbot.PlaybookTypes {
		typeOpts = append(typeOpts, slack.NewOptionBlockObject(string(t), plain(typeWords(t)), nil))
	}
	typ := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Choose a type"), ActionPBType, typeOpts...)
	appOpts := append([]Option{{Value: PBGlobal, Text: "Global (every application)"}}, apps...)
	app := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Scope"), ActionPBApp, options(appOpts)...)
	app.InitialOption = option(appOpts[0])
	url := slack.NewPlainTextInputBlockElement(plain("https://hooks.example.com/accessbot"), ActionPBURL).WithMaxLength(2000)
	tok := slack.NewPlainTextInputBlockElement(plain("Optional; sent as Authorization: Bearer"), ActionPBToken).WithMaxLength(500)
	optsList := []*slack.OptionBlockObject{
		slack.NewOptionBlockObject(PBOptRecurrence, plain("Run every time an application's data syncs"), nil),
		slack.NewOptionBlockObject(PBOptActive, plain("Active"), nil),
	}
	initial := []*slack.OptionBlockObject{optsList[1]}
	title, submit, meta, tokenHint := "New playbook", "Save", "", "Optional. Stored encrypted, never shown again."
	if p != nil {
		title, meta, tokenHint = "Edit playbook", p.ID, "Leave empty to keep the current token."
		name.InitialValue, desc.InitialValue, url.InitialValue = p.Name, p.Description, p.URL
		for _, o := range typeOpts {
			if o.Value == string(p.Type) {
				typ.InitialOption = o
			}
		}
		for _, a := range appOpts {
			if a.Value == p.AppID {
				app.InitialOption = option(a)
			}
		}
		initial = nil
		if p.OnSync {
			initial = append(initial, optsList[0])
		}
		if p.Active {
			initial = append(initial, optsList[1])
		}
		if p.TokenSecret != "" {
			optsList = append(optsList, slack.NewOptionBlockObject(PBOptClearToken, plain("Remove the auth token"), nil))
		}
		// A lost signing secret is not shown again: a new one is.
		optsList = append(optsList, slack.NewOptionBlockObject(PBOptNewSigning, plain("Make a new signing secret (shown once; the old one stops working)"), nil))
	}
	checks := slack.NewCheckboxGroupsBlockElement(ActionPBOpts, optsList...)
	if len(initial) > 0 {
		checks.InitialOptions = initial
	}
	blocks := []slack.Block{
		input(BlockPBName, "Name", name, false, ""),
		input(BlockPBDesc, "Description", desc, true, ""),
		input(BlockPBType, "Playbook type", typ, false, "Which events it receives, and where \"Run playbook\" offers it."),
		input(BlockPBApp, "Scope", app, false, "Integration-specific playbooks run before global ones for their application's events."),
		input(BlockPBURL, "Server URL", url, false, "https, and a public address unless the tenant's outbound allow-list names it."),
		input(BlockPBToken, "Auth token", tok, true, tokenHint),
		input(BlockPBOptions, "Options", checks, true, ""),
	}
	return slack.ModalViewRequest{Type: slack.VTModal, CallbackID: CallbackPlaybookForm, Title: plain(title), Submit: plain(submit),
		Close: plain("Cancel"), PrivateMetadata: meta, Blocks: slack.Blocks{BlockSet: blocks}}
}

// PlaybookSaved confirms a save. A new playbook's signing secret is shown
// here once, to the admin who made it: the receiver needs it to verify.
func PlaybookSaved(name string, signingSecret string) slack.ModalViewRequest {
	text := fmt.Sprintf(":white_check_mark: Saved playbook *%s*.", escape(name, 80))
	blocks := []slack.Block{slack.NewSectionBlock(mrkdwn(text), nil, nil, slack.SectionBlockOptionBlockID(BlockPlaybooksHeader))}
	if signingSecret != "" {
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn("Its *signing secret* (Standard Webhooks), shown only this once: give it to the server so it can verify every delivery.\n```"+signingSecret+"```"),
			nil, nil, slack.SectionBlockOptionBlockID(BlockPlaybook+".secret")))
	}
	return slack.ModalViewRequest{Type: slack.VTModal, CallbackID: CallbackPlaybookSaved, Title: plain("Playbooks"), Close: plain("Done"),
		Blocks: slack.Blocks{BlockSet: blocks}}
}

// PlaybookFailedMessage is the admins' DM about a failed run.
func PlaybookFailedMessage(name string, run accessbot.PlaybookRun) (string, []slack.Block) {
	text := fmt.Sprintf("Playbook %s failed: %s", name, run.Error)
	body := fmt.Sprintf(":x: *Playbook %s failed* on `%s` after %d attempt(s).\n%s", escape(name, 80), escape(run.EventType, 60),
		run.Attempts, escape(run.Error, 300))
	if run.ResponseStatus != 0 {
		body += fmt.Sprintf("\nLast answer: HTTP %d", run.ResponseStatus)
	}
	blocks := []slack.Block{
		slack.NewSectionBlock(mrkdwn(body), nil, nil, slack.SectionBlockOptionBlockID(BlockPlaybook+".failed")),
		slack.NewContextBlock(BlockPlaybookRuns+".failed", mrkdwn(fmt.Sprintf("Event id `%s` · `%s %s` shows its last runs.", escape(run.EventID, 80), Command, SubPlaybooks))),
	}
	return blockkit.Truncate(text, 300), blocks
}
