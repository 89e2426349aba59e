package blockkit

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot"
)

// limitCase builds a surface whose measured thing has size n. At n == limit
// Check must find nothing; at limit+1 exactly one violation at path.
type limitCase struct {
	name    string
	surface Surface
	limit   int
	build   func(n int) []slack.Block
	path    string
	rule    string
}

func limitCases() []limitCase {
	return []limitCase{
		{"message blocks", Message, 50, dividers, "blocks", RuleMaxItems},
		{"modal blocks", Modal, 100, dividers, "blocks", RuleMaxItems},
		{"home blocks", Home, 100, dividers, "blocks", RuleMaxItems},
		{"section text", Message, 3000, func(n int) []slack.Block { return one(section(txt(n))) }, "blocks[0].text.text", RuleMaxLen},
		{"section fields count", Message, 10, func(n int) []slack.Block {
			f := make([]*slack.TextBlockObject, n)
			for i := range f {
				f[i] = md("f")
			}
			return one(slack.NewSectionBlock(nil, f, nil))
		}, "blocks[0].fields", RuleMaxItems},
		{"section field text", Message, 2000, func(n int) []slack.Block {
			return one(slack.NewSectionBlock(nil, []*slack.TextBlockObject{md(txt(n))}, nil))
		}, "blocks[0].fields[0].text", RuleMaxLen},
		{"header text", Message, 150, func(n int) []slack.Block { return one(slack.NewHeaderBlock(pt(txt(n)))) }, "blocks[0].text.text", RuleMaxLen},
		{"block_id", Message, 255, func(n int) []slack.Block {
			return one(slack.NewSectionBlock(md("x"), nil, nil, slack.SectionBlockOptionBlockID(txt(n))))
		}, "blocks[0].block_id", RuleMaxLen},
		{"action_id", Message, 255, func(n int) []slack.Block { return actions(btn(txt(n))) }, "blocks[0].elements[0].action_id", RuleMaxLen},
		{"button text", Message, 75, func(n int) []slack.Block {
			return actions(slack.NewButtonBlockElement("a", "v", pt(txt(n))))
		}, "blocks[0].elements[0].text.text", RuleMaxLen},
		{"button value", Message, 2000, func(n int) []slack.Block {
			return actions(slack.NewButtonBlockElement("a", txt(n), pt("Go")))
		}, "blocks[0].elements[0].value", RuleMaxLen},
		{"button url", Message, 3000, func(n int) []slack.Block { return actions(btn("a").WithURL(txt(n))) }, "blocks[0].elements[0].url", RuleMaxLen},
		{"button accessibility_label", Message, 75, func(n int) []slack.Block {
			b := btn("a")
			b.AccessibilityLabel = txt(n)
			return actions(b)
		}, "blocks[0].elements[0].accessibility_label", RuleMaxLen},
		{"option text", Message, 75, func(n int) []slack.Block {
			return actions(sel([]*slack.OptionBlockObject{slack.NewOptionBlockObject("v", pt(txt(n)), nil)}))
		}, "blocks[0].elements[0].options[0].text.text", RuleMaxLen},
		{"option value", Message, 150, func(n int) []slack.Block {
			return actions(sel([]*slack.OptionBlockObject{slack.NewOptionBlockObject(txt(n), pt("x"), nil)}))
		}, "blocks[0].elements[0].options[0].value", RuleMaxLen},
		{"option description", Message, 75, func(n int) []slack.Block {
			return actions(sel([]*slack.OptionBlockObject{slack.NewOptionBlockObject("v", pt("x"), pt(txt(n)))}))
		}, "blocks[0].elements[0].options[0].description.text", RuleMaxLen},
		{"overflow option url", Message, 3000, func(n int) []slack.Block {
			o := opt(0)
			o.URL = txt(n)
			return actions(slack.NewOverflowBlockElement("of", o))
		}, "blocks[0].elements[0].options[0].url", RuleMaxLen},
		{"static select options", Message, 100, func(n int) []slack.Block { return actions(sel(opts(n))) }, "blocks[0].elements[0].options", RuleMaxItems},
		{"multi select options", Message, 100, func(n int) []slack.Block {
			return actions(slack.NewOptionsMultiSelectBlockElement(slack.MultiOptTypeStatic, pt("Pick"), "m", opts(n)...))
		}, "blocks[0].elements[0].options", RuleMaxItems},
		{"option groups", Message, 100, func(n int) []slack.Block {
			g := make([]*slack.OptionGroupBlockObject, n)
			for i := range g {
				g[i] = slack.NewOptionGroupBlockElement(pt("g"), opt(i))
			}
			return actions(slack.NewOptionsGroupSelectBlockElement(slack.OptTypeStatic, pt("Pick"), "g", g...))
		}, "blocks[0].elements[0].option_groups", RuleMaxItems},
		{"options in a group", Message, 100, func(n int) []slack.Block {
			g := slack.NewOptionGroupBlockElement(pt("g"), opts(n)...)
			return actions(slack.NewOptionsGroupSelectBlockElement(slack.OptTypeStatic, pt("Pick"), "g", g))
		}, "blocks[0].elements[0].option_groups[0].options", RuleMaxItems},
		{"option group label", Message, 75, func(n int) []slack.Block {
			g := slack.NewOptionGroupBlockElement(pt(txt(n)), opt(0))
			return actions(slack.NewOptionsGroupSelectBlockElement(slack.OptTypeStatic, pt("Pick"), "g", g))
		}, "blocks[0].elements[0].option_groups[0].label.text", RuleMaxLen},
		{"select placeholder", Message, 150, func(n int) []slack.Block {
			return actions(slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, pt(txt(n)), "s", opt(0)))
		}, "blocks[0].elements[0].placeholder.text", RuleMaxLen},
		{"overflow options", Message, 5, func(n int) []slack.Block {
			return actions(slack.NewOverflowBlockElement("of", opts(n)...))
		}, "blocks[0].elements[0].options", RuleMaxItems},
		{"checkboxes", Modal, 10, func(n int) []slack.Block {
			return one(input(slack.NewCheckboxGroupsBlockElement("cb", opts(n)...)))
		}, "blocks[0].element.options", RuleMaxItems},
		{"radio buttons", Modal, 10, func(n int) []slack.Block {
			return one(input(slack.NewRadioButtonsBlockElement("rb", opts(n)...)))
		}, "blocks[0].element.options", RuleMaxItems},
		{"input label", Modal, 2000, func(n int) []slack.Block {
			return one(slack.NewInputBlock("in", pt(txt(n)), nil, slack.NewPlainTextInputBlockElement(nil, "t")))
		}, "blocks[0].label.text", RuleMaxLen},
		{"input hint", Modal, 2000, func(n int) []slack.Block {
			return one(slack.NewInputBlock("in", pt("L"), pt(txt(n)), slack.NewPlainTextInputBlockElement(nil, "t")))
		}, "blocks[0].hint.text", RuleMaxLen},
		{"plain_text_input max_length", Modal, 3000, func(n int) []slack.Block {
			return one(input(slack.NewPlainTextInputBlockElement(nil, "t").WithMaxLength(n)))
		}, "blocks[0].element.max_length", RuleRange},
		{"plain_text_input min_length", Modal, 3000, func(n int) []slack.Block {
			return one(input(slack.NewPlainTextInputBlockElement(nil, "t").WithMinLength(n)))
		}, "blocks[0].element.min_length", RuleRange},
		{"plain_text_input placeholder", Modal, 150, func(n int) []slack.Block {
			return one(input(slack.NewPlainTextInputBlockElement(pt(txt(n)), "t")))
		}, "blocks[0].element.placeholder.text", RuleMaxLen},
		{"datepicker placeholder", Modal, 150, func(n int) []slack.Block {
			d := slack.NewDatePickerBlockElement("d")
			d.Placeholder = pt(txt(n))
			return one(input(d))
		}, "blocks[0].element.placeholder.text", RuleMaxLen},
		{"context elements", Message, 10, func(n int) []slack.Block {
			els := make([]slack.MixedElement, n)
			for i := range els {
				els[i] = md("c")
			}
			return one(slack.NewContextBlock("", els...))
		}, "blocks[0].elements", RuleMaxItems},
		{"context text", Message, 3000, func(n int) []slack.Block {
			return one(slack.NewContextBlock("", md(txt(n))))
		}, "blocks[0].elements[0].text", RuleMaxLen},
		{"actions elements", Message, 25, func(n int) []slack.Block {
			els := make([]slack.BlockElement, n)
			for i := range els {
				els[i] = btn("b" + itoa(i))
			}
			return actions(els...)
		}, "blocks[0].elements", RuleMaxItems},
		{"confirm title", Message, 100, func(n int) []slack.Block {
			c := confirm()
			c.Title = pt(txt(n))
			return actions(btn("a").WithConfirm(c))
		}, "blocks[0].elements[0].confirm.title.text", RuleMaxLen},
		{"confirm text", Message, 300, func(n int) []slack.Block {
			c := confirm()
			c.Text = md(txt(n))
			return actions(btn("a").WithConfirm(c))
		}, "blocks[0].elements[0].confirm.text.text", RuleMaxLen},
		{"confirm confirm", Message, 30, func(n int) []slack.Block {
			c := confirm()
			c.Confirm = pt(txt(n))
			return actions(btn("a").WithConfirm(c))
		}, "blocks[0].elements[0].confirm.confirm.text", RuleMaxLen},
		{"confirm deny", Message, 30, func(n int) []slack.Block {
			c := confirm()
			c.Deny = pt(txt(n))
			return actions(btn("a").WithConfirm(c))
		}, "blocks[0].elements[0].confirm.deny.text", RuleMaxLen},
		{"markdown block", Message, 12000, func(n int) []slack.Block { return one(slack.NewMarkdownBlock("", txt(n))) }, "blocks[0].text", RuleMaxLen},
		{"image alt_text", Message, 2000, func(n int) []slack.Block {
			return one(slack.NewImageBlock("https://example.com/a.png", txt(n), "", nil))
		}, "blocks[0].alt_text", RuleMaxLen},
		{"image title", Message, 2000, func(n int) []slack.Block {
			return one(slack.NewImageBlock("https://example.com/a.png", "alt", "", pt(txt(n))))
		}, "blocks[0].title.text", RuleMaxLen},
		{"image url", Message, 3000, func(n int) []slack.Block { return one(slack.NewImageBlock(txt(n), "alt", "", nil)) }, "blocks[0].image_url", RuleMaxLen},
		{"context image alt_text", Message, 2000, func(n int) []slack.Block {
			return one(slack.NewContextBlock("", slack.NewImageBlockElement("https://example.com/a.png", txt(n))))
		}, "blocks[0].elements[0].alt_text", RuleMaxLen},
		{"accessory button text", Message, 75, func(n int) []slack.Block {
			b := slack.NewButtonBlockElement("a", "v", pt(txt(n)))
			return one(slack.NewSectionBlock(md("x"), nil, slack.NewAccessory(b)))
		}, "blocks[0].accessory.text.text", RuleMaxLen},
	}
}

func TestCheckLimits(t *testing.T) {
	t.Parallel()
	for _, tc := range limitCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if vs := Check(tc.surface, tc.build(tc.limit)); len(vs) != 0 {
				t.Fatalf("at the limit %d: want no violation, got %v", tc.limit, vs)
			}
			vs := Check(tc.surface, tc.build(tc.limit+1))
			if len(vs) != 1 {
				t.Fatalf("at %d (limit %d): want exactly 1 violation, got %d: %v", tc.limit+1, tc.limit, len(vs), vs)
			}
			v := vs[0]
			if v.Path != tc.path || v.Rule != tc.rule || v.Limit != tc.limit || v.Got != tc.limit+1 {
				t.Errorf("got %+v; want path %q rule %q limit %d got %d", v, tc.path, tc.rule, tc.limit, tc.limit+1)
			}
		})
	}
}

// viewCase is the same idea for view-level fields.
type viewCase struct {
	name  string
	limit int
	build func(n int) slack.ModalViewRequest
	path  string
}

func TestCheckModalLimits(t *testing.T) {
	t.Parallel()
	cases := []viewCase{
		{"title", 24, func(n int) slack.ModalViewRequest { v := modal(); v.Title = pt(txt(n)); return v }, "title.text"},
		{"submit", 24, func(n int) slack.ModalViewRequest { v := modal(); v.Submit = pt(txt(n)); return v }, "submit.text"},
		{"close", 24, func(n int) slack.ModalViewRequest { v := modal(); v.Close = pt(txt(n)); return v }, "close.text"},
		{"private_metadata", 3000, func(n int) slack.ModalViewRequest { v := modal(); v.PrivateMetadata = txt(n); return v }, "private_metadata"},
		{"callback_id", 255, func(n int) slack.ModalViewRequest { v := modal(); v.CallbackID = txt(n); return v }, "callback_id"},
		{"external_id", 255, func(n int) slack.ModalViewRequest { v := modal(); v.ExternalID = txt(n); return v }, "external_id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if err := ValidateView(tc.build(tc.limit)); err != nil {
				t.Fatalf("at the limit: %v", err)
			}
			vs := CheckModal(tc.build(tc.limit + 1))
			if len(vs) != 1 || vs[0].Path != tc.path || vs[0].Rule != RuleMaxLen || vs[0].Got != tc.limit+1 {
				t.Fatalf("over the limit: want one max_len at %q, got %v", tc.path, vs)
			}
		})
	}
}

func TestCheckHomeLimits(t *testing.T) {
	t.Parallel()
	home := func(meta string, blocks []slack.Block) slack.HomeTabViewRequest {
		return slack.HomeTabViewRequest{Type: slack.VTHomeTab, PrivateMetadata: meta, Blocks: slack.Blocks{BlockSet: blocks}}
	}
	if err := ValidateHome(home(txt(3000), dividers(100))); err != nil {
		t.Fatalf("at the limits: %v", err)
	}
	vs := CheckHome(home(txt(3001), dividers(101)))
	if got := paths(vs); got != "private_metadata,blocks" {
		t.Fatalf("over the limits: got %q: %v", got, vs)
	}
	if vs := CheckHome(slack.HomeTabViewRequest{Type: slack.VTModal}); paths(vs) != "type" {
		t.Fatalf("wrong type: got %v", vs)
	}
}

func TestCheckMessageText(t *testing.T) {
	t.Parallel()
	if vs := CheckMessage(txt(MaxMessageText), nil); len(vs) != 0 {
		t.Fatalf("4000 runes: %v", vs)
	}
	vs := CheckMessage(txt(MaxMessageText+1), nil)
	if len(vs) != 1 || vs[0].Path != "text" || vs[0].Rule != RuleMaxLen {
		t.Fatalf("4001 runes: %v", vs)
	}
	vs = CheckMessage("", nil)
	if len(vs) != 1 || vs[0].Rule != RuleRequired {
		t.Fatalf("empty message: %v", vs)
	}
	if vs := CheckMessage("", one(section("hi"))); len(vs) != 0 {
		t.Fatalf("blocks without text: %v", vs)
	}
}

func paths(vs []Violation) string {
	p := make([]string, len(vs))
	for i, v := range vs {
		p[i] = v.Path
	}
	return strings.Join(p, ",")
}

func TestCheckStructure(t *testing.T) {
	t.Parallel()
	var nilSection *slack.SectionBlock
	mrkdwnEmoji := md("x")
	yes := true
	mrkdwnEmoji.Emoji = &yes
	cases := []struct {
		name   string
		s      Surface
		blocks []slack.Block
		want   string // comma-joined violation paths
		rule   string // rule of the first violation
	}{
		{"valid message", Message, []slack.Block{
			slack.NewHeaderBlock(pt("Access request")),
			section("*Alice* wants *GitLab admin*"),
			slack.NewDividerBlock(),
			slack.NewActionBlock("decide", btn("approve"), btn("deny").WithConfirm(confirm())),
			slack.NewContextBlock("", md("Requested 2 hours ago")),
		}, "", ""},
		{"duplicate block_id", Message, []slack.Block{
			slack.NewSectionBlock(md("a"), nil, nil, slack.SectionBlockOptionBlockID("x")),
			slack.NewDividerBlock(),
			slack.NewActionBlock("x", btn("a")),
		}, "blocks[2].block_id", RuleDuplicateID},
		{"duplicate action_id in a block", Message, actions(btn("a"), btn("a")), "blocks[0].elements[1].action_id", RuleDuplicateID},
		{"same action_id in two blocks is fine", Message, append(actions(btn("a")), actions(btn("a"))...), "", ""},
		{"empty section text", Message, one(section("")), "blocks[0].text.text", RuleMinLen},
		{"section without text or fields", Message, one(&slack.SectionBlock{Type: slack.MBTSection}), "blocks[0]", RuleRequired},
		{"header in mrkdwn", Message, one(slack.NewHeaderBlock(md("Hi"))), "blocks[0].text", RulePlainText},
		{"header without text", Message, one(&slack.HeaderBlock{Type: slack.MBTHeader}), "blocks[0].text", RuleRequired},
		{"mrkdwn with emoji", Message, one(slack.NewSectionBlock(mrkdwnEmoji, nil, nil)), "blocks[0].text", RuleTextType},
		{"unknown text type", Message, one(slack.NewSectionBlock(&slack.TextBlockObject{Type: "html", Text: "x"}, nil, nil)), "blocks[0].text", RuleTextType},
		{"button text in mrkdwn", Message, actions(slack.NewButtonBlockElement("a", "v", md("Go"))), "blocks[0].elements[0].text", RulePlainText},
		{"button without text", Message, actions(&slack.ButtonBlockElement{Type: slack.METButton, ActionID: "a"}), "blocks[0].elements[0].text", RuleRequired},
		{"empty actions", Message, actions(), "blocks[0].elements", RuleMinItems},
		{"empty context", Message, one(slack.NewContextBlock("")), "blocks[0].elements", RuleMinItems},
		{"nil block", Message, []slack.Block{nil}, "blocks[0]", RuleRequired},
		{"typed nil block", Message, []slack.Block{nilSection}, "blocks[0]", RuleRequired},
		{"nil element", Message, actions(nil), "blocks[0].elements[0]", RuleRequired},
		{"value-typed blocks are checked", Message, []slack.Block{*slack.NewHeaderBlock(pt(txt(151)))}, "blocks[0].text.text", RuleMaxLen},
		{"static select without options", Message, actions(sel(nil)), "blocks[0].elements[0]", RuleMinItems},
		{"external select needs no options", Message, actions(slack.NewOptionsSelectBlockElement(slack.OptTypeExternal, pt("Search"), "ext")), "", ""},
		{"option without value", Message, actions(sel([]*slack.OptionBlockObject{slack.NewOptionBlockObject("", pt("x"), nil)})), "blocks[0].elements[0].options[0].value", RuleMinLen},
		{"select option in mrkdwn", Message, actions(sel([]*slack.OptionBlockObject{slack.NewOptionBlockObject("v", md("x"), nil)})), "blocks[0].elements[0].options[0].text", RulePlainText},
		{"checkbox option may be mrkdwn", Modal, one(input(slack.NewCheckboxGroupsBlockElement("c", slack.NewOptionBlockObject("v", md("*x*"), nil)))), "", ""},
		{"confirm without deny", Message, actions(btn("a").WithConfirm(slack.NewConfirmationBlockObject(pt("t"), pt("x"), pt("ok"), nil))), "blocks[0].elements[0].confirm.deny", RuleRequired},
		{"button in an input block", Modal, one(input(btn("a"))), "blocks[0].element", RuleElement},
		{"input without element", Modal, one(slack.NewInputBlock("in", pt("L"), nil, nil)), "blocks[0].element", RuleRequired},
		{"min_length above max_length", Modal, one(input(slack.NewPlainTextInputBlockElement(nil, "t").WithMinLength(10).WithMaxLength(5))), "blocks[0].element.min_length", RuleRange},
		{"image without url", Message, one(slack.NewImageBlock("", "alt", "", nil)), "blocks[0]", RuleRequired},
		{"image without alt text", Message, one(slack.NewImageBlock("https://x/a.png", "", "", nil)), "blocks[0].alt_text", RuleMinLen},
		{"multi select max_selected_items 0", Message, actions(slack.NewOptionsMultiSelectBlockElement(slack.MultiOptTypeStatic, nil, "m", opt(1)).WithMaxSelectedItems(0)), "blocks[0].elements[0].max_selected_items", RuleRange},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			vs := Check(tc.s, tc.blocks)
			if got := paths(vs); got != tc.want {
				t.Fatalf("violations at %q, want %q: %v", got, tc.want, vs)
			}
			if tc.rule != "" && vs[0].Rule != tc.rule {
				t.Errorf("rule %q, want %q", vs[0].Rule, tc.rule)
			}
		})
	}
}

func TestCheckViewStructure(t *testing.T) {
	t.Parallel()
	withInput := modal(input(slack.NewPlainTextInputBlockElement(nil, "reason")))
	if err := ValidateView(withInput); err != nil {
		t.Fatalf("valid modal: %v", err)
	}
	noSubmit := withInput
	noSubmit.Submit = nil
	if got := paths(CheckModal(noSubmit)); got != "submit" {
		t.Errorf("input without submit: got %q", got)
	}
	noInputNoSubmit := modal(section("read only"))
	noInputNoSubmit.Submit = nil
	if err := ValidateView(noInputNoSubmit); err != nil {
		t.Errorf("a read-only modal needs no submit: %v", err)
	}
	noTitle := modal()
	noTitle.Title = nil
	if got := paths(CheckModal(noTitle)); got != "title" {
		t.Errorf("no title: got %q", got)
	}
	wrongType := modal()
	wrongType.Type = slack.VTHomeTab
	if got := paths(CheckModal(wrongType)); got != "type" {
		t.Errorf("wrong type: got %q", got)
	}
	mdTitle := modal()
	mdTitle.Title = md("Title")
	if vs := CheckModal(mdTitle); len(vs) != 1 || vs[0].Rule != RulePlainText {
		t.Errorf("mrkdwn title: got %v", vs)
	}
	dup := modal(input(slack.NewPlainTextInputBlockElement(nil, "a")), input(slack.NewPlainTextInputBlockElement(nil, "b")))
	if vs := CheckModal(dup); len(vs) != 1 || vs[0].Rule != RuleDuplicateID || vs[0].BlockID != "in" {
		t.Errorf("duplicate input block_id: got %v", vs)
	}
}

// Blocks decoded from JSON (as golden files and Slack payloads are) are
// checked like built ones, including block types slack-go does not know.
func TestCheckDecodedJSON(t *testing.T) {
	t.Parallel()
	raw := `{"blocks":[
	 {"type":"header","block_id":"h","text":{"type":"plain_text","text":"` + txt(151) + `"}},
	 {"type":"section","block_id":"s","text":{"type":"mrkdwn","text":"hi"},
	  "accessory":{"type":"overflow","action_id":"o","options":[
	   {"text":{"type":"plain_text","text":"1"},"value":"1"},{"text":{"type":"plain_text","text":"2"},"value":"2"},
	   {"text":{"type":"plain_text","text":"3"},"value":"3"},{"text":{"type":"plain_text","text":"4"},"value":"4"},
	   {"text":{"type":"plain_text","text":"5"},"value":"5"},{"text":{"type":"plain_text","text":"6"},"value":"6"}]}},
	 {"type":"shiny_future_block","block_id":"s"},
	 {"type":"rich_text","block_id":"r","elements":[]}
	]}`
	var msg struct {
		Blocks slack.Blocks `json:"blocks"`
	}
	if err := json.Unmarshal([]byte(raw), &msg); err != nil {
		t.Fatal(err)
	}
	got := paths(Check(Message, msg.Blocks.BlockSet))
	want := "blocks[0].text.text,blocks[1].accessory.options,blocks[2].block_id"
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// customBlock is a Block implementation the guard has never heard of.
type customBlock struct{ id string }

func (customBlock) BlockType() slack.MessageBlockType { return "custom" }
func (c customBlock) ID() string                      { return c.id }

func TestCheckUnknownBlockDoesNotCrash(t *testing.T) {
	t.Parallel()
	var nilCustom *customBlock
	vs := Check(Message, []slack.Block{customBlock{id: txt(256)}, nilCustom, &slack.UnknownBlock{Type: "x"}})
	if got := paths(vs); got != "blocks[0].block_id,blocks[1]" {
		t.Fatalf("got %q: %v", got, vs)
	}
}

func TestValidateError(t *testing.T) {
	t.Parallel()
	if err := ValidateMessage(one(section("fine"))); err != nil {
		t.Fatalf("valid: %v", err)
	}
	err := ValidateMessage(append(dividers(50), section(txt(3001))))
	if err == nil {
		t.Fatal("want an error")
	}
	if !errors.Is(err, accessbot.ErrInvalid) {
		t.Errorf("error does not wrap ErrInvalid: %v", err)
	}
	var e *Error
	if !errors.As(err, &e) || len(e.Violations) != 2 || e.Surface != Message {
		t.Fatalf("want *Error with 2 violations, got %#v", err)
	}
	for _, want := range []string{"message breaks 2 Slack limit(s)", "blocks: has 51 blocks", "blocks[50].text.text: has 3001 characters; Slack allows 3000"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if err := ValidateMessageText(txt(4001), nil); err == nil {
		t.Error("ValidateMessageText: 4001-rune text passed")
	}
	if err := Validate(Modal, dividers(100)); err != nil {
		t.Errorf("Validate(Modal, 100 blocks): %v", err)
	}
}
