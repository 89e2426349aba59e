package blockkit

import (
	"testing"

	"github.com/slack-go/slack"
)

// benchMessage is a realistic 50-block message: approval cards with a
// section, an accessory overflow, buttons with a confirm dialog, and context.
func benchMessage() []slack.Block {
	blocks := make([]slack.Block, 0, MaxMessageBlocks)
	blocks = append(blocks, slack.NewHeaderBlock(pt("Pending approvals")))
	for i := 0; len(blocks) < MaxMessageBlocks; i++ {
		id := itoa(i)
		switch i % 3 {
		case 0:
			blocks = append(blocks, slack.NewSectionBlock(md("*Alice Example* requests *GitLab maintainer* on `infra/"+id+"` for 8h — "+txt(200)),
				[]*slack.TextBlockObject{md("*Risk*\nhigh"), md("*Expires*\nin 8h")},
				slack.NewAccessory(slack.NewOverflowBlockElement("more", opts(4)...)),
				slack.SectionBlockOptionBlockID("req-"+id)))
		case 1:
			blocks = append(blocks, slack.NewActionBlock("act-"+id,
				btn("approve"), btn("deny").WithConfirm(confirm()), sel(opts(20))))
		default:
			blocks = append(blocks, slack.NewContextBlock("ctx-"+id, md("Requested 2h ago · reminder 1 of 3")))
		}
	}
	return blocks
}

func BenchmarkValidate(b *testing.B) {
	blocks := benchMessage()
	if err := ValidateMessage(blocks); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := ValidateMessage(blocks); err != nil {
			b.Fatal(err)
		}
	}
}
