package blockkit

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/slack-go/slack"
)

// walker visits every block, element and composition object once. In check
// mode it records violations. In fix mode it repairs what can be repaired
// without changing meaning (display text is truncated, lists of display items
// are cut with a visible note) and leaves ids, values, URLs and interactive
// choices alone: those stay violations, because cutting them would break
// routing or silently drop a choice.
type walker struct {
	fix     bool
	vs      []Violation
	blockID string // block_id of the block being visited, for Violation.BlockID
}

func (w *walker) add(p path, rule string, limit, got int, format string, args ...any) {
	w.vs = append(w.vs, Violation{
		Path: p.String(), BlockID: w.blockID, Rule: rule, Limit: limit, Got: got,
		Msg: fmt.Sprintf(format, args...),
	})
}

// path locates a value in the payload. It is built on the stack as the walk
// descends and only turned into a string when a violation is recorded.
type path struct {
	parent *path
	name   string
	idx    int // index into name when >= 0
}

func field(name string) path { return path{name: name, idx: -1} }

func (p *path) f(name string) path         { return path{parent: p, name: name, idx: -1} }
func (p *path) at(name string, i int) path { return path{parent: p, name: name, idx: i} }

func (p *path) String() string {
	var b strings.Builder
	p.write(&b)
	return b.String()
}

func (p *path) write(b *strings.Builder) {
	if p.parent != nil {
		p.parent.write(b)
		b.WriteByte('.')
	}
	b.WriteString(p.name)
	if p.idx >= 0 {
		b.WriteByte('[')
		b.WriteString(strconv.Itoa(p.idx))
		b.WriteByte(']')
	}
}

func runes(s string) int { return utf8.RuneCountInString(s) }

// str checks a string's length; truncatable strings are shortened in fix mode.
func (w *walker) str(p path, s *string, minLen, maxLen int, truncatable bool) {
	if len(*s) <= maxLen && len(*s) >= minLen { // bytes >= runes: fast path
		return
	}
	n := runes(*s)
	if n < minLen {
		w.add(p, RuleMinLen, minLen, n, "is empty; Slack needs at least %d character(s)", minLen)
		return
	}
	if n > maxLen {
		if w.fix && truncatable {
			*s = Truncate(*s, maxLen)
			return
		}
		w.add(p, RuleMaxLen, maxLen, n, "has %d characters; Slack allows %d", n, maxLen)
	}
}

// text checks a text composition object.
func (w *walker) text(p path, t *slack.TextBlockObject, maxLen int, plainOnly, required bool) {
	if t == nil {
		if required {
			w.add(p, RuleRequired, 0, 0, "is required")
		}
		return
	}
	switch t.Type {
	case slack.PlainTextType:
	case slack.MarkdownType:
		switch {
		case plainOnly && w.fix:
			t.Type = slack.PlainTextType
		case plainOnly:
			w.add(p, RulePlainText, 0, 0, "must be plain_text, not mrkdwn")
		case t.Emoji != nil && w.fix:
			t.Emoji = nil
		case t.Emoji != nil:
			w.add(p, RuleTextType, 0, 0, "emoji cannot be set on mrkdwn text")
		}
	default:
		w.add(p, RuleTextType, 0, 0, "has type %q; want plain_text or mrkdwn", t.Type)
	}
	if t.Type == slack.MarkdownType {
		w.markup(p.f("text"), &t.Text)
	}
	w.str(p.f("text"), &t.Text, 1, maxLen, true)
}

// count checks the length of a list.
func (w *walker) count(p path, what string, n, minItems, maxItems int) {
	if n < minItems {
		w.add(p, RuleMinItems, minItems, n, "needs at least %d %s", minItems, what)
	}
	if n > maxItems {
		w.add(p, RuleMaxItems, maxItems, n, "has %d %s; Slack allows %d", n, what, maxItems)
	}
}

func (w *walker) id(p path, id string) {
	w.str(p, &id, 0, MaxID, false)
}

func isNil(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Pointer && rv.IsNil()
}

func (w *walker) blocks(s Surface, blocks []slack.Block) {
	if maxB := s.MaxBlocks(); len(blocks) > maxB {
		w.blockID = ""
		w.add(field("blocks"), RuleMaxItems, maxB, len(blocks), "has %d blocks; a %s allows %d", len(blocks), s, maxB)
	}
	var seen map[string]int
	for i := range blocks {
		p := path{name: "blocks", idx: i}
		b := blockPtr(blocks[i])
		if w.fix {
			blocks[i] = b
		}
		w.blockID = ""
		if isNil(b) {
			w.add(p, RuleRequired, 0, 0, "is a nil block")
			continue
		}
		if id := b.ID(); id != "" {
			w.blockID = id
			w.id(p.f("block_id"), id)
			if seen == nil {
				seen = make(map[string]int, len(blocks))
			}
			if first, dup := seen[id]; dup {
				w.add(p.f("block_id"), RuleDuplicateID, 0, 0, "repeats the block_id of blocks[%d]; block_ids must be unique in a %s", first, s)
			} else {
				seen[id] = i
			}
		}
		w.block(p, b)
	}
	w.blockID = ""
}

// blockPtr turns value-typed blocks into pointers so one switch handles both.
func blockPtr(b slack.Block) slack.Block {
	switch v := b.(type) {
	case slack.SectionBlock:
		return &v
	case slack.HeaderBlock:
		return &v
	case slack.ContextBlock:
		return &v
	case slack.ActionBlock:
		return &v
	case slack.InputBlock:
		return &v
	case slack.ImageBlock:
		return &v
	case slack.MarkdownBlock:
		return &v
	case slack.DividerBlock:
		return &v
	}
	return b
}

func (w *walker) block(p path, b slack.Block) {
	switch b := b.(type) {
	case *slack.SectionBlock:
		w.section(p, b)
	case *slack.HeaderBlock:
		w.text(p.f("text"), b.Text, MaxHeaderText, true, true)
	case *slack.ContextBlock:
		w.context(p, b)
	case *slack.ActionBlock:
		w.actions(p, b)
	case *slack.InputBlock:
		w.input(p, b)
	case *slack.ImageBlock:
		w.str(p.f("alt_text"), &b.AltText, 1, MaxAltText, true)
		w.str(p.f("image_url"), &b.ImageURL, 0, MaxURL, false)
		if b.ImageURL == "" && b.SlackFile == nil {
			w.add(p, RuleRequired, 0, 0, "needs image_url or slack_file")
		}
		w.text(p.f("title"), b.Title, MaxImageTitle, true, false)
	case *slack.MarkdownBlock:
		w.str(p.f("text"), &b.Text, 1, MaxMarkdownBlock, true)
	default:
		// Dividers need nothing beyond the block_id; other and unknown block
		// types are checked for their block_id only.
	}
}

func (w *walker) section(p path, b *slack.SectionBlock) {
	if b.Text == nil && len(b.Fields) == 0 {
		w.add(p, RuleRequired, 0, 0, "a section needs text or fields")
	}
	w.text(p.f("text"), b.Text, MaxSectionText, false, false)
	if w.fix && len(b.Fields) > MaxSectionFields {
		keep := MaxSectionFields - 1
		more := slack.NewTextBlockObject(slack.MarkdownType, moreText(len(b.Fields)-keep), false, false)
		b.Fields = append(b.Fields[:keep:keep], more)
	}
	w.count(p.f("fields"), "fields", len(b.Fields), 0, MaxSectionFields)
	for i, f := range b.Fields {
		w.text(p.at("fields", i), f, MaxSectionField, false, true)
	}
	if a := b.Accessory; a != nil {
		ap := p.f("accessory")
		ids := map[string]bool{}
		for _, e := range []slack.BlockElement{
			a.ImageElement, a.ButtonElement, a.OverflowElement, a.DatePickerElement,
			a.TimePickerElement, a.PlainTextInputElement, a.RichTextInputElement,
			a.RadioButtonsElement, a.SelectElement, a.MultiSelectElement,
			a.CheckboxGroupsBlockElement, a.WorkflowButtonElement,
		} {
			if !isNil(e) {
				w.element(ap, e, ids)
			}
		}
	}
}

func (w *walker) context(p path, b *slack.ContextBlock) {
	els := b.ContextElements.Elements
	if w.fix && len(els) > MaxContextElements {
		keep := MaxContextElements - 1
		els = append(els[:keep:keep], slack.NewTextBlockObject(slack.MarkdownType, moreText(len(els)-keep), false, false))
		b.ContextElements.Elements = els
	}
	w.count(p.f("elements"), "elements", len(els), 1, MaxContextElements)
	for i, e := range els {
		ep := p.at("elements", i)
		switch e := e.(type) {
		case *slack.TextBlockObject:
			w.text(ep, e, MaxTextObject, false, true)
		case slack.TextBlockObject:
			w.text(ep, &e, MaxTextObject, false, true)
			if w.fix {
				els[i] = &e
			}
		case *slack.ImageBlockElement:
			w.imageElement(ep, e)
		case slack.ImageBlockElement:
			w.imageElement(ep, &e)
			if w.fix {
				els[i] = &e
			}
		default:
			if isNil(e) {
				w.add(ep, RuleRequired, 0, 0, "is a nil element")
			}
		}
	}
}

func (w *walker) actions(p path, b *slack.ActionBlock) {
	var els []slack.BlockElement
	if b.Elements != nil {
		els = b.Elements.ElementSet
	}
	w.count(p.f("elements"), "elements", len(els), 1, MaxActionsElements)
	ids := make(map[string]bool, len(els))
	for i, e := range els {
		ne := w.element(p.at("elements", i), e, ids)
		if w.fix {
			els[i] = ne
		}
	}
}

func (w *walker) input(p path, b *slack.InputBlock) {
	w.text(p.f("label"), b.Label, MaxInputLabel, true, true)
	w.text(p.f("hint"), b.Hint, MaxInputHint, true, false)
	if isNil(b.Element) {
		w.add(p.f("element"), RuleRequired, 0, 0, "is required")
		return
	}
	switch elementPtr(b.Element).(type) {
	case *slack.ButtonBlockElement, *slack.OverflowBlockElement, *slack.ImageBlockElement,
		*slack.WorkflowButtonBlockElement, *slack.IconButtonBlockElement, *slack.FeedbackButtonsBlockElement:
		w.add(p.f("element"), RuleElement, 0, 0, "%s is not an input element", b.Element.ElementType())
	}
	ne := w.element(p.f("element"), b.Element, map[string]bool{})
	if w.fix {
		b.Element = ne
	}
}
