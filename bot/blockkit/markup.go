package blockkit

import (
	"regexp"
	"strings"

	"github.com/slack-go/slack"
)

// Slack reads <…> in mrkdwn (a message's text, mrkdwn text objects) as a
// control sequence: <!channel> notifies everyone, <http://x|label> is a
// link showing only its label. Data must reach Slack escaped, as Slack
// documents: & as &amp;, < as &lt;, > as &gt;.

var escaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// Escape makes s show as itself in mrkdwn.
func Escape(s string) string { return escaper.Replace(s) }

// ownMarkup matches, at the start of a string, the only control sequences
// accessbot writes itself: a user mention <@U…> and a date
// <!date^unix^format|fallback> without the optional link.
var ownMarkup = regexp.MustCompile(`^(?:<@[UW][A-Z0-9]+>|<!date\^[0-9]+\^[^^|<>]*\|[^|<>]*>)`)

// foreignMarkup returns the control sequences in s that accessbot does not
// write: each '<' that does not open one of ownMarkup, up to its '>'.
// Escaped data has none.
func foreignMarkup(s string) []string {
	var out []string
	for i := 0; i < len(s); {
		j := strings.IndexByte(s[i:], '<')
		if j < 0 {
			break
		}
		i += j
		if m := ownMarkup.FindString(s[i:]); m != "" {
			i += len(m)
			continue
		}
		// The sequence runs to its '>', or to the next '<' or the end when unclosed.
		end := len(s) - i
		if k := strings.IndexAny(s[i+1:], "<>"); k >= 0 {
			end = k + 1
			if s[i+1+k] == '>' {
				end++
			}
		}
		out = append(out, s[i:i+end])
		i += end
	}
	return out
}

// neutralize escapes every foreign control sequence of s, keeping
// accessbot's own mentions and dates.
func neutralize(s string) string {
	if !strings.Contains(s, "<") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		j := strings.IndexByte(s[i:], '<')
		if j < 0 {
			b.WriteString(s[i:])
			break
		}
		b.WriteString(s[i : i+j])
		i += j
		if m := ownMarkup.FindString(s[i:]); m != "" {
			b.WriteString(m)
			i += len(m)
			continue
		}
		b.WriteString("&lt;")
		i++
	}
	return b.String()
}

// markup checks mrkdwn text s: in fix mode foreign control sequences are
// escaped, otherwise each is a violation.
func (w *walker) markup(p path, s *string) {
	if !strings.Contains(*s, "<") {
		return
	}
	if w.fix {
		*s = neutralize(*s)
		return
	}
	for _, m := range foreignMarkup(*s) {
		w.add(p, RuleMarkup, 0, 0, "has Slack markup accessbot does not write (%.60q): data must be escaped (& < >)", m)
	}
}

// MarkupPaths lists where a message carries markup accessbot does not write
// (see RuleMarkup), for a warning: the production guard escapes it, but a
// builder let data through unescaped.
func MarkupPaths(text string, blocks []slack.Block) []string {
	var out []string
	for _, v := range CheckMessage(text, blocks) {
		if v.Rule == RuleMarkup && (len(out) == 0 || out[len(out)-1] != v.Path) {
			out = append(out, v.Path)
		}
	}
	return out
}
