package blockkit

import (
	"strconv"

	"github.com/slack-go/slack"
)

// txt returns n runes cycling through 1-, 3- and 4-byte characters, so a
// byte-counting check would fail every boundary test that uses it.
func txt(n int) string {
	cycle := []rune("a漢😀")
	rs := make([]rune, n)
	for i := range rs {
		rs[i] = cycle[i%len(cycle)]
	}
	return string(rs)
}

func pt(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, s, false, false)
}

func md(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, false)
}

func itoa(i int) string { return strconv.Itoa(i) }

func opt(i int) *slack.OptionBlockObject {
	return slack.NewOptionBlockObject("v"+itoa(i), pt("option "+itoa(i)), nil)
}

func opts(n int) []*slack.OptionBlockObject {
	out := make([]*slack.OptionBlockObject, n)
	for i := range out {
		out[i] = opt(i)
	}
	return out
}

func btn(actionID string) *slack.ButtonBlockElement {
	return slack.NewButtonBlockElement(actionID, "value", pt("Approve"))
}

func section(s string) *slack.SectionBlock {
	return slack.NewSectionBlock(md(s), nil, nil)
}

func one(b slack.Block) []slack.Block { return []slack.Block{b} }

func actions(els ...slack.BlockElement) []slack.Block {
	return one(slack.NewActionBlock("", els...))
}

func sel(options []*slack.OptionBlockObject) *slack.SelectBlockElement {
	return slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, pt("Pick one"), "pick", options...)
}

func input(el slack.BlockElement) *slack.InputBlock {
	return slack.NewInputBlock("in", pt("Reason"), nil, el)
}

func confirm() *slack.ConfirmationBlockObject {
	return slack.NewConfirmationBlockObject(pt("Sure?"), md("This revokes access."), pt("Yes"), pt("No"))
}

func dividers(n int) []slack.Block {
	out := make([]slack.Block, n)
	for i := range out {
		out[i] = slack.NewDividerBlock()
	}
	return out
}

func sections(n int) []slack.Block {
	out := make([]slack.Block, n)
	for i := range out {
		out[i] = slack.NewSectionBlock(md("row "+itoa(i)), nil, nil, slack.SectionBlockOptionBlockID("row-"+itoa(i)))
	}
	return out
}

func modal(blocks ...slack.Block) slack.ModalViewRequest {
	return slack.ModalViewRequest{
		Type:   slack.VTModal,
		Title:  pt("Request access"),
		Submit: pt("Submit"),
		Close:  pt("Cancel"),
		Blocks: slack.Blocks{BlockSet: blocks},
	}
}
