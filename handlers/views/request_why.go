package views

import (
	"strconv"
	"strings"

	"github.com/slack-go/slack"
)

// whyMaxSections caps the explanation's sections (well under the 50 blocks
// of a message).
const whyMaxSections = 10

// WhyApproversBlock is the "Why these approvers?" button of request id. It
// is the same for everyone who sees the card: the server checks who clicks.
func WhyApproversBlock(id string) *slack.ActionBlock {
	return slack.NewActionBlock(BlockCardWhy, slack.NewButtonBlockElement(ActionWhyApprovers, id, plain("Why these approvers?")))
}

// whyBlocks lay out an explanation, as `accessbot explain request` prints
// it, in preformatted sections of whole lines.
func whyBlocks(id, explanation string) []slack.Block {
	blocks := []slack.Block{slack.NewSectionBlock(mrkdwn("*Why these approvers?* Request `"+escape(id, 64)+"`, as `accessbot explain request` explains it:"),
		nil, nil, slack.SectionBlockOptionBlockID(BlockCardWhy))}
	var chunks []string
	var cur strings.Builder
	for _, line := range strings.Split(strings.TrimRight(explanation, "\n"), "\n") {
		line = escape(strings.ReplaceAll(line, "`", "'"), 500)
		if cur.Len() > 0 && cur.Len()+len(line)+1 > 2800 {
			chunks = append(chunks, cur.String())
			cur.Reset()
		}
		if cur.Len() > 0 {
			cur.WriteString("\n")
		}
		cur.WriteString(line)
	}
	chunks = append(chunks, cur.String())
	if len(chunks) > whyMaxSections {
		chunks = append(chunks[:whyMaxSections-1], "… cut short: accessbot explain request prints the whole of it")
	}
	for i, c := range chunks {
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn("```"+c+"```"), nil, nil, slack.SectionBlockOptionBlockID(BlockCardWhy+"."+strconv.Itoa(i+1))))
	}
	return blocks
}

// WhyMessage answers a "Why these approvers?" click on a message.
func WhyMessage(id, explanation string) (string, []slack.Block) {
	return "Why these approvers? Request " + escape(id, 64) + ": " + escape(explanation, 2800), whyBlocks(id, explanation)
}

// WhyModal answers the click inside a modal (Details), pushed on top of it.
func WhyModal(id, explanation string) slack.ModalViewRequest {
	return slack.ModalViewRequest{
		Type:       slack.VTModal,
		CallbackID: CallbackRequestWhy,
		Title:      plain("Why these approvers?"),
		Close:      plain("Back"),
		Blocks:     slack.Blocks{BlockSet: whyBlocks(id, explanation)},
	}
}
