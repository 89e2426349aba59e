package blockkit

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot"
)

func TestTruncate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		max  int
		want string
	}{
		{"hello", 5, "hello"},
		{"hello", 10, "hello"},
		{"hello!", 5, "hell…"},
		{"hello", 1, "…"},
		{"hello", 0, ""},
		{"hello", -1, ""},
		{"", 3, ""},
		{"ab cd", 4, "ab…"}, // trailing space before the cut is dropped
		{"😀😀😀", 3, "😀😀😀"},
		{"😀😀😀😀", 3, "😀😀…"},
		{"漢字漢字漢字", 4, "漢字漢…"},
		{"a漢😀a漢😀", 5, "a漢😀a…"},
		{"👩‍💻👩‍💻", 3, "👩‍…"}, // ZWJ sequences are cut by rune, still valid UTF-8
	}
	for _, tc := range cases {
		got := Truncate(tc.in, tc.max)
		if got != tc.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
	}
}

// Every cut point of a mixed-width string yields valid UTF-8 of at most max runes.
func TestTruncateNeverSplitsUTF8(t *testing.T) {
	t.Parallel()
	s := txt(200) + " 👩‍💻 ñ é " + txt(50)
	total := utf8.RuneCountInString(s)
	for maxRunes := 0; maxRunes <= total+1; maxRunes++ {
		got := Truncate(s, maxRunes)
		if !utf8.ValidString(got) {
			t.Fatalf("Truncate(_, %d) is not valid UTF-8: %q", maxRunes, got)
		}
		if n := utf8.RuneCountInString(got); n > maxRunes {
			t.Fatalf("Truncate(_, %d) has %d runes", maxRunes, n)
		}
		if maxRunes < total && maxRunes > 0 && !strings.HasSuffix(got, Ellipsis) {
			t.Fatalf("Truncate(_, %d) = %q lacks the ellipsis", maxRunes, got)
		}
		if maxRunes >= total && got != s {
			t.Fatalf("Truncate(_, %d) changed a string that fits", maxRunes)
		}
	}
}

// oversized builds one of everything that fit can repair, each over its limit.
func oversized() []slack.Block {
	b := slack.NewButtonBlockElement("approve", "req-1", pt(txt(80)))
	b.AccessibilityLabel = txt(90)
	c := confirm()
	c.Title, c.Text, c.Confirm, c.Deny = pt(txt(101)), md(txt(301)), pt(txt(31)), pt(txt(31))
	b.Confirm = c
	fields := make([]*slack.TextBlockObject, 15)
	for i := range fields {
		fields[i] = md(txt(2001))
	}
	ctx := make([]slack.MixedElement, 12)
	for i := range ctx {
		ctx[i] = md(txt(3001))
	}
	ctx[0] = slack.NewImageBlockElement("https://example.com/a.png", txt(2001))
	optList := opts(250)
	optList[0] = slack.NewOptionBlockObject("v", pt(txt(76)), pt(txt(76)))
	return []slack.Block{
		slack.NewHeaderBlock(md(txt(151))),
		slack.NewSectionBlock(md(txt(3001)), fields, slack.NewAccessory(slack.NewButtonBlockElement("more", "x", pt(txt(76))))),
		slack.NewActionBlock("decide", b, slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, pt(txt(160)), "pick", optList...)),
		slack.NewContextBlock("ctx", ctx...),
		slack.NewImageBlock("https://example.com/a.png", txt(2001), "img", pt(txt(2001))),
		slack.NewMarkdownBlock("md", txt(12001)),
		*slack.NewSectionBlock(md(txt(3001)), nil, nil), // value-typed
	}
}

func TestFitMessageRepairsDisplayText(t *testing.T) {
	t.Parallel()
	in := oversized()
	if len(Check(Message, in)) < 15 {
		t.Fatalf("the fixture should break many limits, got %v", Check(Message, in))
	}
	text, out, err := FitMessage(txt(5000), in)
	if err != nil {
		t.Fatalf("FitMessage left violations: %v", err)
	}
	if err := ValidateMessageText(text, out); err != nil {
		t.Fatalf("fitted message does not validate: %v", err)
	}
	if n := utf8.RuneCountInString(text); n != MaxMessageText || !strings.HasSuffix(text, Ellipsis) {
		t.Errorf("text has %d runes, want %d ending in …", n, MaxMessageText)
	}
	raw, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	if !utf8.Valid(raw) {
		t.Fatal("fitted blocks are not valid UTF-8")
	}
	if _, ok := out[6].(*slack.SectionBlock); !ok {
		t.Errorf("value-typed block was not replaced by its repaired copy: %T", out[6])
	}
	if h := out[0].(*slack.HeaderBlock); h.Text.Type != slack.PlainTextType || !strings.HasSuffix(h.Text.Text, Ellipsis) {
		t.Errorf("header not repaired: %+v", h.Text)
	}
	sec := out[1].(*slack.SectionBlock)
	if len(sec.Fields) != MaxSectionFields || sec.Fields[9].Text != "…and 6 more" {
		t.Errorf("fields: %d, last %q", len(sec.Fields), sec.Fields[len(sec.Fields)-1].Text)
	}
	ctx := out[3].(*slack.ContextBlock).ContextElements.Elements
	if len(ctx) != MaxContextElements || ctx[9].(*slack.TextBlockObject).Text != "…and 3 more" {
		t.Errorf("context: %d elements, last %+v", len(ctx), ctx[len(ctx)-1])
	}
	s := out[2].(*slack.ActionBlock).Elements.ElementSet[1].(*slack.SelectBlockElement)
	if len(s.Options) != MaxSelectOptions {
		t.Errorf("select kept %d options", len(s.Options))
	}
	if ph := s.Placeholder.Text; !strings.HasSuffix(ph, "(first 100 of 250)") || utf8.RuneCountInString(ph) > MaxPlaceholder {
		t.Errorf("placeholder %q does not note the cut within 150 runes", ph)
	}
}

func TestFitSelectWithoutPlaceholder(t *testing.T) {
	t.Parallel()
	s := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, nil, "pick", opts(101)...)
	_, err := FitBlocks(Modal, one(input(s)))
	if err != nil {
		t.Fatal(err)
	}
	if s.Placeholder == nil || s.Placeholder.Text != "Choose (first 100 of 101)" {
		t.Fatalf("placeholder %+v", s.Placeholder)
	}
}

func TestFitTooManyBlocks(t *testing.T) {
	t.Parallel()
	cases := []struct {
		s    Surface
		n    int
		keep int
		more string
	}{
		{Message, 50, 50, ""},
		{Message, 51, 50, "…and 2 more"},
		{Message, 120, 50, "…and 71 more"},
		{Modal, 100, 100, ""},
		{Modal, 101, 100, "…and 2 more"},
		{Home, 300, 100, "…and 201 more"},
	}
	for _, tc := range cases {
		in := sections(tc.n)
		out, err := FitBlocks(tc.s, in)
		if err != nil {
			t.Fatalf("%s/%d: %v", tc.s, tc.n, err)
		}
		if len(out) != tc.keep || len(in) != tc.n {
			t.Fatalf("%s/%d: kept %d (input now %d), want %d", tc.s, tc.n, len(out), len(in), tc.keep)
		}
		last, isMore := out[len(out)-1].(*slack.ContextBlock)
		switch {
		case tc.more == "" && isMore:
			t.Errorf("%s/%d: unexpected more-block", tc.s, tc.n)
		case tc.more != "" && (!isMore || last.ContextElements.Elements[0].(*slack.TextBlockObject).Text != tc.more):
			t.Errorf("%s/%d: last block %+v, want %q", tc.s, tc.n, out[len(out)-1], tc.more)
		}
	}
}

// What cannot be cut without changing meaning comes back as an error.
func TestFitRefusesWhatItCannotRepair(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		blocks []slack.Block
		path   string
	}{
		{"long action_id", actions(btn(txt(256))), "blocks[0].elements[0].action_id"},
		{"long button value", actions(slack.NewButtonBlockElement("a", txt(2001), pt("Go"))), "blocks[0].elements[0].value"},
		{"long option value", actions(sel([]*slack.OptionBlockObject{slack.NewOptionBlockObject(txt(151), pt("x"), nil)})), "blocks[0].elements[0].options[0].value"},
		{"too many buttons", actions(func() []slack.BlockElement {
			els := make([]slack.BlockElement, 26)
			for i := range els {
				els[i] = btn("b" + itoa(i))
			}
			return els
		}()...), "blocks[0].elements"},
		{"too many overflow options", actions(slack.NewOverflowBlockElement("o", opts(6)...)), "blocks[0].elements[0].options"},
		{"duplicate block_id", []slack.Block{section("a"), slack.NewDividerBlock(), section("b")}, ""},
	}
	cases[len(cases)-1].blocks[0].(*slack.SectionBlock).BlockID = "x"
	cases[len(cases)-1].blocks[2].(*slack.SectionBlock).BlockID = "x"
	cases[len(cases)-1].path = "blocks[2].block_id"
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := FitMessage("fallback", tc.blocks)
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, accessbot.ErrInvalid) {
				t.Fatalf("want *Error wrapping ErrInvalid, got %v", err)
			}
			if got := paths(e.Violations); got != tc.path {
				t.Fatalf("violations at %q, want %q", got, tc.path)
			}
		})
	}
}

func TestSplitMessage(t *testing.T) {
	t.Parallel()
	in := sections(5000)
	parts := SplitMessage(in, MaxMessageBlocks)
	if len(parts) != 100 {
		t.Fatalf("got %d messages, want 100", len(parts))
	}
	i := 0
	for p, part := range parts {
		if err := ValidateMessage(part); err != nil {
			t.Fatalf("message %d: %v", p, err)
		}
		for _, b := range part {
			if b != in[i] {
				t.Fatalf("block %d out of order", i)
			}
			i++
		}
	}
	if i != len(in) {
		t.Fatalf("split kept %d of %d blocks", i, len(in))
	}
	for _, tc := range []struct{ n, max, want, last int }{
		{0, 50, 0, 0},
		{1, 50, 1, 1},
		{50, 50, 1, 50},
		{51, 50, 2, 1},
		{120, 0, 3, 20},   // 0 means the message limit
		{120, 500, 3, 20}, // capped at the message limit
		{10, 3, 4, 1},
	} {
		parts := SplitMessage(sections(tc.n), tc.max)
		if len(parts) != tc.want || (tc.want > 0 && len(parts[len(parts)-1]) != tc.last) {
			t.Errorf("SplitMessage(%d, %d): %d parts, want %d (last %d)", tc.n, tc.max, len(parts), tc.want, tc.last)
		}
	}
	// Appending to one part must not overwrite the next part's first block.
	parts = SplitMessage(sections(4), 2)
	_ = append(parts[0], slack.NewDividerBlock())
	if parts[1][0].ID() != "row-2" {
		t.Error("appending to one part overwrote the next")
	}
}

func TestFitMessagesSplitsIntoValidMessages(t *testing.T) {
	t.Parallel()
	chunks, err := FitMessages("Quarterly review: 5000 grants", sections(5000))
	if err != nil {
		t.Fatal(err)
	}
	if len(chunks) != 100 {
		t.Fatalf("got %d chunks", len(chunks))
	}
	if chunks[0].Text != "Quarterly review: 5000 grants" || chunks[1].Text != "(continued 2/100)" || chunks[99].Text != "(continued 100/100)" {
		t.Errorf("texts: %q, %q, %q", chunks[0].Text, chunks[1].Text, chunks[99].Text)
	}
	for i, c := range chunks {
		if err := ValidateMessageText(c.Text, c.Blocks); err != nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
	}
	if _, err := FitMessages("", nil); err == nil {
		t.Error("an empty message passed")
	}
	chunks, err = FitMessages("x", append(sections(60), actions(btn(txt(300)))...))
	var e *Error
	if !errors.As(err, &e) || paths(e.Violations) != "message[1].blocks[10].elements[0].action_id" {
		t.Errorf("want the bad action_id located in message[1], got %v", err)
	}
	if len(chunks) != 2 {
		t.Errorf("got %d chunks", len(chunks))
	}
}

func TestFitModal(t *testing.T) {
	t.Parallel()
	v := modal(append([]slack.Block{input(slack.NewPlainTextInputBlockElement(pt(txt(200)), "reason"))}, sections(150)...)...)
	v.Type = ""
	v.Title, v.Submit, v.Close = md(txt(30)), pt(txt(30)), pt(txt(30))
	if err := FitModal(&v); err != nil {
		t.Fatal(err)
	}
	if err := ValidateView(v); err != nil {
		t.Fatal(err)
	}
	if v.Type != slack.VTModal || utf8.RuneCountInString(v.Title.Text) != MaxViewTitle || len(v.Blocks.BlockSet) != MaxViewBlocks {
		t.Errorf("type %q, title %q, %d blocks", v.Type, v.Title.Text, len(v.Blocks.BlockSet))
	}

	bad := modal(input(slack.NewPlainTextInputBlockElement(nil, "reason")))
	bad.Submit = nil
	bad.PrivateMetadata = txt(3001)
	var e *Error
	if err := FitModal(&bad); !errors.As(err, &e) || paths(e.Violations) != "submit,private_metadata" {
		t.Errorf("want submit and private_metadata refused, got %v", err)
	}
}

func TestFitHome(t *testing.T) {
	t.Parallel()
	v := slack.HomeTabViewRequest{Blocks: slack.Blocks{BlockSet: append(one(slack.NewHeaderBlock(pt(txt(200)))), sections(120)...)}}
	if err := FitHome(&v); err != nil {
		t.Fatal(err)
	}
	if v.Type != slack.VTHomeTab || len(v.Blocks.BlockSet) != MaxViewBlocks {
		t.Errorf("type %q, %d blocks", v.Type, len(v.Blocks.BlockSet))
	}
	v.CallbackID = txt(256)
	if err := FitHome(&v); err == nil {
		t.Error("a 256-rune callback_id was accepted")
	}
}
