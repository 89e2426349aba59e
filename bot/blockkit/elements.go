package blockkit

import (
	"fmt"

	"github.com/slack-go/slack"
)

// elementPtr turns value-typed elements into pointers so one switch handles both.
func elementPtr(e slack.BlockElement) slack.BlockElement {
	switch v := e.(type) {
	case slack.ButtonBlockElement:
		return &v
	case slack.SelectBlockElement:
		return &v
	case slack.MultiSelectBlockElement:
		return &v
	case slack.OverflowBlockElement:
		return &v
	case slack.DatePickerBlockElement:
		return &v
	case slack.TimePickerBlockElement:
		return &v
	case slack.DateTimePickerBlockElement:
		return &v
	case slack.PlainTextInputBlockElement:
		return &v
	case slack.EmailTextInputBlockElement:
		return &v
	case slack.URLTextInputBlockElement:
		return &v
	case slack.NumberInputBlockElement:
		return &v
	case slack.RichTextInputBlockElement:
		return &v
	case slack.CheckboxGroupsBlockElement:
		return &v
	case slack.RadioButtonsBlockElement:
		return &v
	case slack.ImageBlockElement:
		return &v
	case slack.WorkflowButtonBlockElement:
		return &v
	case slack.IconButtonBlockElement:
		return &v
	case slack.FileInputBlockElement:
		return &v
	}
	return e
}

// actionID checks an action_id's length and that it is unique in its block.
func (w *walker) actionID(p path, id string, ids map[string]bool) {
	if id == "" {
		return
	}
	w.id(p.f("action_id"), id)
	if ids[id] {
		w.add(p.f("action_id"), RuleDuplicateID, 0, 0, "repeats action_id %q; action_ids must be unique in a block", id)
	}
	ids[id] = true
}

// element checks one interactive or image element and returns it as a pointer
// (so fix mode can store the repaired copy of a value-typed element).
func (w *walker) element(p path, e slack.BlockElement, ids map[string]bool) slack.BlockElement {
	if isNil(e) {
		w.add(p, RuleRequired, 0, 0, "is a nil element")
		return e
	}
	e = elementPtr(e)
	switch e := e.(type) {
	case *slack.ButtonBlockElement:
		w.actionID(p, e.ActionID, ids)
		w.text(p.f("text"), e.Text, MaxButtonText, true, true)
		w.str(p.f("value"), &e.Value, 0, MaxButtonValue, false)
		w.str(p.f("url"), &e.URL, 0, MaxURL, false)
		w.str(p.f("accessibility_label"), &e.AccessibilityLabel, 0, MaxAccessibility, true)
		w.confirm(p.f("confirm"), e.Confirm)
	case *slack.SelectBlockElement:
		w.actionID(p, e.ActionID, ids)
		w.selectMenu(p, e.Type, &e.Placeholder, &e.Options, &e.OptionGroups)
		if e.InitialOption != nil {
			w.option(p.f("initial_option"), e.InitialOption, true)
		}
		w.confirm(p.f("confirm"), e.Confirm)
	case *slack.MultiSelectBlockElement:
		w.actionID(p, e.ActionID, ids)
		w.selectMenu(p, e.Type, &e.Placeholder, &e.Options, &e.OptionGroups)
		for i, o := range e.InitialOptions {
			w.option(p.at("initial_options", i), o, true)
		}
		if e.MaxSelectedItems != nil && *e.MaxSelectedItems < 1 {
			w.add(p.f("max_selected_items"), RuleRange, 1, *e.MaxSelectedItems, "must be at least 1")
		}
		w.confirm(p.f("confirm"), e.Confirm)
	case *slack.OverflowBlockElement:
		w.actionID(p, e.ActionID, ids)
		w.options(p, e.Options, 1, MaxOverflowOptions, true)
		w.confirm(p.f("confirm"), e.Confirm)
	case *slack.CheckboxGroupsBlockElement:
		w.actionID(p, e.ActionID, ids)
		w.options(p, e.Options, 1, MaxCheckboxes, false)
		for i, o := range e.InitialOptions {
			w.option(p.at("initial_options", i), o, false)
		}
		w.confirm(p.f("confirm"), e.Confirm)
	case *slack.RadioButtonsBlockElement:
		w.actionID(p, e.ActionID, ids)
		w.options(p, e.Options, 1, MaxRadioButtons, false)
		if e.InitialOption != nil {
			w.option(p.f("initial_option"), e.InitialOption, false)
		}
		w.confirm(p.f("confirm"), e.Confirm)
	case *slack.DatePickerBlockElement:
		w.actionID(p, e.ActionID, ids)
		w.text(p.f("placeholder"), e.Placeholder, MaxPlaceholder, true, false)
		w.confirm(p.f("confirm"), e.Confirm)
	case *slack.TimePickerBlockElement:
		w.actionID(p, e.ActionID, ids)
		w.text(p.f("placeholder"), e.Placeholder, MaxPlaceholder, true, false)
		w.confirm(p.f("confirm"), e.Confirm)
	case *slack.DateTimePickerBlockElement:
		w.actionID(p, e.ActionID, ids)
		w.confirm(p.f("confirm"), e.Confirm)
	case *slack.PlainTextInputBlockElement:
		w.actionID(p, e.ActionID, ids)
		w.text(p.f("placeholder"), e.Placeholder, MaxPlaceholder, true, false)
		w.textInputLengths(p, e.MinLength, e.MaxLength)
	case *slack.EmailTextInputBlockElement:
		w.actionID(p, e.ActionID, ids)
		w.text(p.f("placeholder"), e.Placeholder, MaxPlaceholder, true, false)
	case *slack.URLTextInputBlockElement:
		w.actionID(p, e.ActionID, ids)
		w.text(p.f("placeholder"), e.Placeholder, MaxPlaceholder, true, false)
	case *slack.NumberInputBlockElement:
		w.actionID(p, e.ActionID, ids)
		w.text(p.f("placeholder"), e.Placeholder, MaxPlaceholder, true, false)
	case *slack.RichTextInputBlockElement:
		w.actionID(p, e.ActionID, ids)
		w.text(p.f("placeholder"), e.Placeholder, MaxPlaceholder, true, false)
	case *slack.FileInputBlockElement:
		w.actionID(p, e.ActionID, ids)
	case *slack.ImageBlockElement:
		w.imageElement(p, e)
	case *slack.WorkflowButtonBlockElement:
		w.actionID(p, e.ActionID, ids)
		w.text(p.f("text"), e.Text, MaxButtonText, true, true)
		w.str(p.f("accessibility_label"), &e.AccessibilityLabel, 0, MaxAccessibility, true)
	case *slack.IconButtonBlockElement:
		w.actionID(p, e.ActionID, ids)
		w.text(p.f("text"), e.Text, MaxButtonText, true, true)
		w.str(p.f("value"), &e.Value, 0, MaxButtonValue, false)
		w.str(p.f("accessibility_label"), &e.AccessibilityLabel, 0, MaxAccessibility, true)
		w.confirm(p.f("confirm"), e.Confirm)
	case *slack.FeedbackButtonsBlockElement:
		w.actionID(p, e.ActionID, ids)
	default:
		// Unknown element types: nothing we know how to check.
	}
	return e
}

func (w *walker) imageElement(p path, e *slack.ImageBlockElement) {
	w.str(p.f("alt_text"), &e.AltText, 1, MaxAltText, true)
	if e.ImageURL != nil {
		w.str(p.f("image_url"), e.ImageURL, 0, MaxURL, false)
	}
	if (e.ImageURL == nil || *e.ImageURL == "") && e.SlackFile == nil {
		w.add(p, RuleRequired, 0, 0, "needs image_url or slack_file")
	}
}

func (w *walker) textInputLengths(p path, minLen, maxLen int) {
	// slack-go omits zero values, so 0 means "unset" for max_length.
	if minLen < 0 || minLen > MaxTextInputLength {
		w.add(p.f("min_length"), RuleRange, MaxTextInputLength, minLen, "is %d; Slack allows 0–%d", minLen, MaxTextInputLength)
	}
	if maxLen < 0 || maxLen > MaxTextInputLength {
		w.add(p.f("max_length"), RuleRange, MaxTextInputLength, maxLen, "is %d; Slack allows 1–%d", maxLen, MaxTextInputLength)
	}
	if maxLen > 0 && minLen > maxLen {
		w.add(p.f("min_length"), RuleRange, maxLen, minLen, "is %d, above max_length %d", minLen, maxLen)
	}
}

// selectMenu checks a single or multi select. Only static selects carry
// options; in fix mode a list over 100 is cut and the placeholder says so.
func (w *walker) selectMenu(p path, typ string, ph **slack.TextBlockObject, opts *[]*slack.OptionBlockObject, groups *[]*slack.OptionGroupBlockObject) {
	static := typ == slack.OptTypeStatic || typ == slack.MultiOptTypeStatic
	if static {
		switch {
		case len(*opts) == 0 && len(*groups) == 0:
			w.add(p, RuleMinItems, 1, 0, "a static select needs options or option_groups")
		case len(*opts) > 0 && len(*groups) > 0:
			w.add(p, RuleElement, 0, 0, "set options or option_groups, not both")
		}
	}
	if w.fix && len(*opts) > MaxSelectOptions {
		total := len(*opts)
		*opts = (*opts)[:MaxSelectOptions:MaxSelectOptions]
		*ph = notePlaceholder(*ph, fmt.Sprintf("(first %d of %d)", MaxSelectOptions, total))
	}
	if w.fix && len(*groups) > MaxOptionGroups {
		total := len(*groups)
		*groups = (*groups)[:MaxOptionGroups:MaxOptionGroups]
		*ph = notePlaceholder(*ph, fmt.Sprintf("(first %d of %d groups)", MaxOptionGroups, total))
	}
	w.text(p.f("placeholder"), *ph, MaxPlaceholder, true, false)
	w.options(p, *opts, 0, MaxSelectOptions, true)
	w.count(p.f("option_groups"), "option groups", len(*groups), 0, MaxOptionGroups)
	for i, g := range *groups {
		gp := p.at("option_groups", i)
		if g == nil {
			w.add(gp, RuleRequired, 0, 0, "is a nil option group")
			continue
		}
		w.text(gp.f("label"), g.Label, MaxOptionGroupText, true, true)
		if w.fix && len(g.Options) > MaxSelectOptions {
			total := len(g.Options)
			g.Options = g.Options[:MaxSelectOptions:MaxSelectOptions]
			*ph = notePlaceholder(*ph, fmt.Sprintf("(some groups cut; one had %d)", total))
		}
		w.options(gp, g.Options, 1, MaxSelectOptions, true)
	}
}

// notePlaceholder appends a visible note to a placeholder, keeping it in limits.
func notePlaceholder(ph *slack.TextBlockObject, note string) *slack.TextBlockObject {
	if ph == nil {
		return slack.NewTextBlockObject(slack.PlainTextType, Truncate("Choose "+note, MaxPlaceholder), false, false)
	}
	room := MaxPlaceholder - runes(note) - 1
	ph.Type = slack.PlainTextType
	ph.Text = Truncate(ph.Text, room) + " " + note
	return ph
}

func (w *walker) options(p path, opts []*slack.OptionBlockObject, minItems, maxItems int, plainOnly bool) {
	w.count(p.f("options"), "options", len(opts), minItems, maxItems)
	for i, o := range opts {
		w.option(p.at("options", i), o, plainOnly)
	}
}

func (w *walker) option(p path, o *slack.OptionBlockObject, plainOnly bool) {
	if o == nil {
		w.add(p, RuleRequired, 0, 0, "is a nil option")
		return
	}
	w.text(p.f("text"), o.Text, MaxOptionText, plainOnly, true)
	w.str(p.f("value"), &o.Value, 1, MaxOptionValue, false)
	w.text(p.f("description"), o.Description, MaxOptionDesc, plainOnly, false)
	w.str(p.f("url"), &o.URL, 0, MaxURL, false)
}

func (w *walker) confirm(p path, c *slack.ConfirmationBlockObject) {
	if c == nil {
		return
	}
	w.text(p.f("title"), c.Title, MaxConfirmTitle, true, true)
	w.text(p.f("text"), c.Text, MaxConfirmText, false, true)
	w.text(p.f("confirm"), c.Confirm, MaxConfirmButton, true, true)
	w.text(p.f("deny"), c.Deny, MaxConfirmButton, true, true)
}
