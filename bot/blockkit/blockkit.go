// Package blockkit is the Block Kit guard: the one place that checks every
// message and view against Slack's documented limits before it is sent, and
// that fits oversized content (truncating text, splitting or shortening block
// lists) so nothing Slack would reject leaves the bot.
//
// Limits are Slack's documented ones for the modal view object and for Block
// Kit blocks and elements. Lengths are counted in runes, as Slack counts characters.
package blockkit

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot"
)

// Surface is where blocks are shown; it decides the block-count limit.
type Surface int

const (
	Message Surface = iota // chat.postMessage / chat.update / response_url
	Modal                  // views.open / views.push / views.update
	Home                   // views.publish (App Home tab)
)

func (s Surface) String() string {
	switch s {
	case Message:
		return "message"
	case Modal:
		return "modal"
	case Home:
		return "home"
	}
	return "surface(" + strconv.Itoa(int(s)) + ")"
}

// MaxBlocks is the number of blocks Slack accepts on the surface.
func (s Surface) MaxBlocks() int {
	if s == Message {
		return MaxMessageBlocks
	}
	return MaxViewBlocks
}

// Slack's documented limits, in runes. Exported so view builders can size
// their content without guessing.
const (
	MaxMessageBlocks = 50
	MaxViewBlocks    = 100

	MaxMessageText     = 4000  // chat.postMessage text: keep at or below
	MessageTextCutOff  = 40000 // Slack silently truncates beyond this
	MaxSectionText     = 3000
	MaxSectionFields   = 10
	MaxSectionField    = 2000
	MaxHeaderText      = 150
	MaxID              = 255 // block_id, action_id, callback_id, external_id
	MaxButtonText      = 75
	MaxButtonValue     = 2000
	MaxURL             = 3000
	MaxAccessibility   = 75
	MaxOptionText      = 75
	MaxOptionValue     = 150
	MaxOptionDesc      = 75
	MaxSelectOptions   = 100
	MaxOptionGroups    = 100
	MaxOptionGroupText = 75
	MaxPlaceholder     = 150
	MaxOverflowOptions = 5
	MaxCheckboxes      = 10
	MaxRadioButtons    = 10
	MaxInputLabel      = 2000
	MaxInputHint       = 2000
	MaxTextInputLength = 3000 // plain_text_input min_length / max_length
	MaxContextElements = 10
	MaxActionsElements = 25
	MaxConfirmTitle    = 100
	MaxConfirmText     = 300
	MaxConfirmButton   = 30
	MaxMarkdownBlock   = 12000
	MaxAltText         = 2000
	MaxImageTitle      = 2000
	MaxTextObject      = 3000 // any other text object (context text, mrkdwn option text)
	MaxViewTitle       = 24   // modal title, submit, close
	MaxPrivateMetadata = 3000
)

// Rules name the kind of limit a Violation breaks, so tests can assert on them.
const (
	RuleMaxLen      = "max_len"      // a string is too long
	RuleMinLen      = "min_len"      // a string is empty where Slack needs text
	RuleMaxItems    = "max_items"    // too many blocks, fields, options, elements
	RuleMinItems    = "min_items"    // a list Slack needs is empty
	RuleRequired    = "required"     // a required object is missing
	RulePlainText   = "plain_text"   // a text object must be plain_text
	RuleTextType    = "text_type"    // a text object has an unknown type, or emoji on mrkdwn
	RuleDuplicateID = "duplicate_id" // block_id repeated on a surface, action_id within a block
	RuleRange       = "range"        // a number outside its documented range
	RuleElement     = "element"      // an element that is not allowed where it is
	RuleViewType    = "view_type"    // a view with the wrong type
	RuleMarkup      = "markup"       // mrkdwn with a control sequence (<!channel>, a link) from data
)

// Violation is one broken limit.
type Violation struct {
	Path    string // e.g. "blocks[3].accessory.options[2].text"
	BlockID string // block_id of the enclosing block, when it has one
	Rule    string // one of the Rule constants
	Limit   int    // the limit broken (0 when not numeric)
	Got     int    // what was found (runes or items)
	Msg     string
}

func (v Violation) String() string {
	var b strings.Builder
	b.WriteString(v.Path)
	if v.BlockID != "" {
		b.WriteString(" (block_id ")
		b.WriteString(strconv.Quote(v.BlockID))
		b.WriteString(")")
	}
	b.WriteString(": ")
	b.WriteString(v.Msg)
	return b.String()
}

// Error carries every violation found on one surface. It wraps
// accessbot.ErrInvalid so callers can branch with errors.Is.
type Error struct {
	Surface    Surface
	Violations []Violation
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "blockkit: %s breaks %d Slack limit(s):", e.Surface, len(e.Violations))
	for _, v := range e.Violations {
		b.WriteString("\n  ")
		b.WriteString(v.String())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return accessbot.ErrInvalid }

func asError(s Surface, vs []Violation) error {
	if len(vs) == 0 {
		return nil
	}
	return &Error{Surface: s, Violations: vs}
}

// Check returns every violation in a list of blocks shown on surface s:
// the block count, unique block_ids, and each block's and element's limits.
func Check(s Surface, blocks []slack.Block) []Violation {
	w := walker{}
	w.blocks(s, blocks)
	return w.vs
}

// CheckMessage checks a message: its blocks and its text fallback.
func CheckMessage(text string, blocks []slack.Block) []Violation {
	w := walker{}
	w.messageText(&text, len(blocks))
	w.blocks(Message, blocks)
	return w.vs
}

// CheckModal checks a modal view: title, submit, close, metadata, ids, blocks.
func CheckModal(v slack.ModalViewRequest) []Violation {
	w := walker{}
	w.modal(&v)
	return w.vs
}

// CheckHome checks an App Home tab view.
func CheckHome(v slack.HomeTabViewRequest) []Violation {
	w := walker{}
	w.home(&v)
	return w.vs
}

// Validate returns an *Error listing every violation, or nil.
func Validate(s Surface, blocks []slack.Block) error { return asError(s, Check(s, blocks)) }

// ValidateMessage validates message blocks. Golden tests call it:
//
//	if err := blockkit.ValidateMessage(blocks); err != nil { t.Fatal(err) }
func ValidateMessage(blocks []slack.Block) error { return Validate(Message, blocks) }

// ValidateMessageText validates message blocks together with the text fallback.
func ValidateMessageText(text string, blocks []slack.Block) error {
	return asError(Message, CheckMessage(text, blocks))
}

// ValidateView validates a modal view.
func ValidateView(v slack.ModalViewRequest) error { return asError(Modal, CheckModal(v)) }

// ValidateHome validates an App Home tab view.
func ValidateHome(v slack.HomeTabViewRequest) error { return asError(Home, CheckHome(v)) }
