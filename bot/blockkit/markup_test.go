package blockkit

import (
	"reflect"
	"testing"

	"github.com/slack-go/slack"
)

func TestMarkup(t *testing.T) {
	const date = "<!date^1700000000^{date_short_pretty} at {time}|2023-11-14 22:13 UTC>"
	tests := []struct {
		name    string
		in      string
		foreign []string
		fixed   string
	}{
		{"plain", "Rita asks for GitLab", nil, "Rita asks for GitLab"},
		{"escaped data", "&lt;!channel&gt; asks", nil, "&lt;!channel&gt; asks"},
		{"our mention and date", "<@U123ABC> decided at " + date, nil, "<@U123ABC> decided at " + date},
		{"channel and disguised link", "<!channel> <http://evil.example/reset|Reset your SSO password>",
			[]string{"<!channel>", "<http://evil.example/reset|Reset your SSO password>"},
			"&lt;!channel> &lt;http://evil.example/reset|Reset your SSO password>"},
		{"here, everyone, subteam", "<!here><!everyone> <!subteam^S1>",
			[]string{"<!here>", "<!everyone>", "<!subteam^S1>"}, "&lt;!here>&lt;!everyone> &lt;!subteam^S1>"},
		{"date with a link", "<!date^1^{date}^http://evil.example|x>", []string{"<!date^1^{date}^http://evil.example|x>"},
			"&lt;!date^1^{date}^http://evil.example|x>"},
		{"unclosed", "a < b <@U1>", []string{"< b "}, "a &lt; b <@U1>"},
		{"channel mention", "<#C123>", []string{"<#C123>"}, "&lt;#C123>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := foreignMarkup(tt.in); !reflect.DeepEqual(got, tt.foreign) {
				t.Errorf("foreignMarkup = %q, want %q", got, tt.foreign)
			}
			if got := neutralize(tt.in); got != tt.fixed {
				t.Errorf("neutralize = %q, want %q", got, tt.fixed)
			}
			if got := foreignMarkup(neutralize(tt.in)); len(got) != 0 {
				t.Errorf("after neutralize, still %q", got)
			}
			if Escape(tt.in) != tt.in && len(foreignMarkup(Escape(tt.in))) != 0 {
				t.Errorf("Escape leaves markup")
			}
		})
	}
}

// TestMarkupInMessages: the strict check refuses data markup in the text and
// in mrkdwn blocks; the fit escapes it. plain_text is not mrkdwn.
func TestMarkupInMessages(t *testing.T) {
	const bad = "<!channel> hi"
	blocks := func() []slack.Block {
		return []slack.Block{
			slack.NewSectionBlock(md(bad), []*slack.TextBlockObject{md(bad)}, nil),
			slack.NewContextBlock("c", md(bad)),
			slack.NewHeaderBlock(pt(bad)),
		}
	}
	vs := CheckMessage(bad, blocks())
	var got []string
	for _, v := range vs {
		if v.Rule == RuleMarkup {
			got = append(got, v.Path)
		}
	}
	want := []string{"text", "blocks[0].text.text", "blocks[0].fields[0].text", "blocks[1].elements[0].text"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("markup violations at %q, want %q", got, want)
	}
	text, fitted, err := FitMessage(bad, blocks())
	if err != nil {
		t.Fatal(err)
	}
	if text != "&lt;!channel> hi" {
		t.Errorf("fitted text %q", text)
	}
	if err := ValidateMessageText(text, fitted); err != nil {
		t.Errorf("fitted message still fails: %v", err)
	}
	if h := fitted[2].(*slack.HeaderBlock).Text.Text; h != bad {
		t.Errorf("plain_text header changed to %q", h)
	}
}
