package blockkit

import "github.com/slack-go/slack"

func (w *walker) messageText(text *string, nblocks int) {
	if *text == "" && nblocks == 0 {
		w.add(field("text"), RuleRequired, 0, 0, "a message needs text or blocks")
	}
	w.markup(field("text"), text)
	w.str(field("text"), text, 0, MaxMessageText, true)
}

func (w *walker) modal(v *slack.ModalViewRequest) {
	if v.Type != slack.VTModal {
		if w.fix && v.Type == "" {
			v.Type = slack.VTModal
		} else {
			w.add(field("type"), RuleViewType, 0, 0, "is %q; want %q", v.Type, slack.VTModal)
		}
	}
	w.text(field("title"), v.Title, MaxViewTitle, true, true)
	w.text(field("close"), v.Close, MaxViewTitle, true, false)
	w.text(field("submit"), v.Submit, MaxViewTitle, true, false)
	if v.Submit == nil && hasInput(v.Blocks.BlockSet) {
		w.add(field("submit"), RuleRequired, 0, 0, "is required when a modal has input blocks")
	}
	w.viewFields(v.PrivateMetadata, v.CallbackID, v.ExternalID)
	w.blocks(Modal, v.Blocks.BlockSet)
}

func (w *walker) home(v *slack.HomeTabViewRequest) {
	if v.Type != slack.VTHomeTab {
		if w.fix && v.Type == "" {
			v.Type = slack.VTHomeTab
		} else {
			w.add(field("type"), RuleViewType, 0, 0, "is %q; want %q", v.Type, slack.VTHomeTab)
		}
	}
	w.viewFields(v.PrivateMetadata, v.CallbackID, v.ExternalID)
	w.blocks(Home, v.Blocks.BlockSet)
}

// viewFields checks fields that carry data or ids: never truncated, since a
// cut private_metadata or callback_id would break the submission handler.
func (w *walker) viewFields(privateMetadata, callbackID, externalID string) {
	w.str(field("private_metadata"), &privateMetadata, 0, MaxPrivateMetadata, false)
	w.str(field("callback_id"), &callbackID, 0, MaxID, false)
	w.str(field("external_id"), &externalID, 0, MaxID, false)
}

func hasInput(blocks []slack.Block) bool {
	for _, b := range blocks {
		switch b.(type) {
		case *slack.InputBlock, slack.InputBlock:
			return true
		}
	}
	return false
}
