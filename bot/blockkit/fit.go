package blockkit

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/slack-go/slack"
)

// Ellipsis marks text that was cut.
const Ellipsis = "…"

// Truncate shortens s to at most maxRunes runes, ending in "…" when it cut
// anything. It cuts on rune boundaries, so valid UTF-8 stays valid.
func Truncate(s string, maxRunes int) string {
	if maxRunes <= 0 {
		return ""
	}
	if len(s) <= maxRunes || runes(s) <= maxRunes {
		return s
	}
	n := 0
	for i := range s {
		if n == maxRunes-1 {
			return strings.TrimRightFunc(s[:i], unicode.IsSpace) + Ellipsis
		}
		n++
	}
	return s // unreachable: s has more than maxRunes runes
}

func moreText(n int) string { return fmt.Sprintf("…and %d more", n) }

// MoreBlock is the visible context block that stands in for n cut blocks.
func MoreBlock(n int) *slack.ContextBlock {
	return slack.NewContextBlock("", slack.NewTextBlockObject(slack.MarkdownType, moreText(n), false, false))
}

// TruncateBlocks keeps at most maxBlocks blocks. When it must cut, the last
// kept block is a context block "…and N more" naming how many were dropped.
// The input slice is not modified.
func TruncateBlocks(blocks []slack.Block, maxBlocks int) []slack.Block {
	if len(blocks) <= maxBlocks {
		return blocks
	}
	if maxBlocks <= 0 {
		return nil
	}
	keep := maxBlocks - 1
	out := make([]slack.Block, 0, maxBlocks)
	out = append(out, blocks[:keep]...)
	return append(out, MoreBlock(len(blocks)-keep))
}

// SplitMessage cuts blocks into chunks of at most maxBlocks (capped at the
// 50-block message limit), in order. The caller posts the first chunk and the
// rest as thread replies. It returns nil for no blocks.
func SplitMessage(blocks []slack.Block, maxBlocks int) [][]slack.Block {
	if maxBlocks <= 0 || maxBlocks > MaxMessageBlocks {
		maxBlocks = MaxMessageBlocks
	}
	var out [][]slack.Block
	for len(blocks) > 0 {
		n := min(maxBlocks, len(blocks))
		out = append(out, blocks[:n:n])
		blocks = blocks[n:]
	}
	return out
}

// fit repairs what it can in place, then reports what is still wrong.
func fit(s Surface, blocks []slack.Block) []slack.Block {
	blocks = TruncateBlocks(slices.Clone(blocks), s.MaxBlocks())
	w := walker{fix: true}
	w.blocks(s, blocks)
	return blocks
}

// FitBlocks returns blocks that fit surface s: too many blocks are cut with a
// visible "…and N more", display text is truncated with "…", too many section
// fields or context elements end in "…and N more", and static selects over
// 100 options are cut with a note in the placeholder.
//
// It edits the blocks it is given (build them fresh for each send). What it
// cannot repair without changing meaning (ids, values, URLs, metadata, counts
// of buttons or choices, missing required parts) comes back as an *Error;
// never send the blocks when err != nil.
func FitBlocks(s Surface, blocks []slack.Block) ([]slack.Block, error) {
	blocks = fit(s, blocks)
	return blocks, Validate(s, blocks)
}

// FitMessage fits one message: the text fallback is cut to 4000 characters
// and the blocks as FitBlocks does for a message (at most 50, the last being
// "…and N more" when some were cut).
func FitMessage(text string, blocks []slack.Block) (string, []slack.Block, error) {
	w := walker{fix: true}
	w.messageText(&text, len(blocks))
	blocks = fit(Message, blocks)
	return text, blocks, ValidateMessageText(text, blocks)
}

// Chunk is one message of a split post.
type Chunk struct {
	Text   string
	Blocks []slack.Block
}

// FitMessages splits blocks over as many messages as needed instead of
// cutting them. The first carries text; the others (for the caller to post
// in the thread of the first) carry "(continued i/n)" as their fallback.
func FitMessages(text string, blocks []slack.Block) ([]Chunk, error) {
	parts := SplitMessage(blocks, MaxMessageBlocks)
	if len(parts) == 0 {
		parts = [][]slack.Block{nil}
	}
	out := make([]Chunk, 0, len(parts))
	var errs []Violation
	for i, p := range parts {
		t := text
		if i > 0 {
			t = fmt.Sprintf("(continued %d/%d)", i+1, len(parts))
		}
		t, b, err := FitMessage(t, p)
		var e *Error
		if errors.As(err, &e) {
			for _, v := range e.Violations {
				v.Path = fmt.Sprintf("message[%d].%s", i, v.Path)
				errs = append(errs, v)
			}
		}
		out = append(out, Chunk{Text: t, Blocks: b})
	}
	return out, asError(Message, errs)
}

// FitModal repairs a modal view in place (title/submit/close and display text
// truncated, blocks cut to 100 with "…and N more") and returns what remains
// wrong. Never open the view when err != nil.
func FitModal(v *slack.ModalViewRequest) error {
	v.Blocks.BlockSet = TruncateBlocks(slices.Clone(v.Blocks.BlockSet), MaxViewBlocks)
	w := walker{fix: true}
	w.modal(v)
	return ValidateView(*v)
}

// FitHome repairs an App Home view in place and returns what remains wrong.
func FitHome(v *slack.HomeTabViewRequest) error {
	v.Blocks.BlockSet = TruncateBlocks(slices.Clone(v.Blocks.BlockSet), MaxViewBlocks)
	w := walker{fix: true}
	w.home(v)
	return ValidateHome(*v)
}
