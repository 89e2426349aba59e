package tenantfile

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/accessbot/accessbot"
)

// decodeLevelPolicy reads a level's rule, quorum and approvers' channel:
//
//	rule: any | all | quorum
//	quorum: 2            # k of the level's approvers; implies rule: quorum
//	channel: C0123ABCD   # the card is posted there too
//	direct_messages: false  # the channel instead of DMs
func (d *decoder) decodeLevelPolicy(lm fields, lv *Level) {
	rules := []string{string(accessbot.RuleAny), string(accessbot.RuleAll), string(accessbot.RuleQuorum)}
	lv.Rule = accessbot.ApprovalRule(d.oneOf(lm, "rule", "", rules...))
	lv.quorumAt, lv.channelAt = lm.loc("quorum"), lm.loc("channel")
	if s := d.str(lm, "quorum"); s != "" {
		k, err := strconv.Atoi(s)
		switch {
		case err != nil || k < 1:
			d.errorf(lv.quorumAt.line, lv.quorumAt.path, "%q is not a number of approvals (a whole number, 2 or more)", s)
		case k == 1:
			d.errorf(lv.quorumAt.line, lv.quorumAt.path, "a quorum of 1 is rule: any; use that, or 2 or more")
		default:
			lv.Quorum = k
		}
		switch lv.Rule {
		case "", accessbot.RuleQuorum:
			lv.Rule = accessbot.RuleQuorum
		default:
			rl := lm.loc("rule")
			d.errorf(rl.line, rl.path, "rule %s with quorum: %s: leave rule out (or say rule: quorum) for k of n", lv.Rule, s)
		}
	} else if lv.Rule == accessbot.RuleQuorum && lm.has("rule") {
		d.errorf(lv.quorumAt.line, lv.quorumAt.path, "required with rule: quorum (how many approvals close the level, e.g. quorum: 2)")
	}
	if lv.Rule == "" {
		lv.Rule = accessbot.RuleAny
	}
	if ch := d.str(lm, "channel"); ch != "" {
		ch = strings.TrimPrefix(ch, "#")
		if !channelIDRE.MatchString(ch) {
			d.errorf(lv.channelAt.line, lv.channelAt.path, "%q is not a Slack channel id (like C0123ABCD; in Slack: channel details, at the bottom)", ch)
		} else {
			lv.Channel = ch
		}
	}
	if lm.has("direct_messages") {
		lv.DMs = d.boolean(lm, "direct_messages")
		if !lv.DMs && !lm.has("channel") {
			l := lm.loc("direct_messages")
			d.errorf(l.line, l.path, "false needs a channel: someone must be asked")
		}
	}
}

// maxApprovers is how many people a level's approvers can be at most, for
// checking a quorum: owners are two (one when the application has no
// secondary owner), every other kind is one.
func maxApprovers(lv *Level, app *Application) int {
	n := 0
	for _, a := range lv.Approvers {
		if a.Kind == accessbot.ApproverOwners && (app == nil || app.SecondaryOwner != "") {
			n += 2
			continue
		}
		n++
	}
	return n
}

// checkLevelPolicy checks a level's quorum against its approvers.
func (d *decoder) checkLevelPolicy(lv *Level, app *Application) {
	if lv.Rule != accessbot.RuleQuorum || lv.Quorum == 0 {
		return
	}
	if n := maxApprovers(lv, app); lv.Quorum > n {
		people := fmt.Sprintf("%d people", n)
		if n == 1 {
			people = "1 person"
		}
		d.errorf(lv.quorumAt.line, lv.quorumAt.path, "%d of %d: the level's approvers are at most %s", lv.Quorum, n, people)
	}
}

// ChannelChecker looks an approvers' channel up in the tenant's Slack
// workspace (conversations.info with the bot token). CheckChannel returns an
// error in plain words when accessbot cannot post there (unknown channel, or
// a private one it is not in), and a note for what is only worth knowing.
type ChannelChecker interface {
	CheckChannel(ctx context.Context, channelID string) (note string, err error)
}

// WithChannels makes Apply check every approvers' channel with c. Without
// it, Apply notes each channel as not checked.
func (a *Applier) WithChannels(c ChannelChecker) *Applier {
	a.channels = c
	return a
}

// checkChannels checks the file's approvers' channels, each once, before
// anything is written. A channel accessbot cannot post in is an error with
// file, line and field.
func (a *Applier) checkChannels(ctx context.Context, f *File) ([]channelNote, error) {
	var notes []channelNote
	var errs Errors
	seen := map[string]bool{}
	for ci := range f.Chains {
		for li := range f.Chains[ci].Levels {
			lv := &f.Chains[ci].Levels[li]
			if lv.Channel == "" || seen[lv.Channel] {
				continue
			}
			seen[lv.Channel] = true
			chains := chainsUsing(f, lv.Channel)
			if a.channels == nil {
				notes = append(notes, channelNote{chains: chains, text: fmt.Sprintf("approvers' channel %s (%s:%d) not checked: no Slack bot token is configured (slack.bot_token); invite accessbot to it", lv.Channel, f.Name, lv.channelAt.line)})
				continue
			}
			note, err := a.channels.CheckChannel(ctx, lv.Channel)
			if err != nil {
				errs = append(errs, &FieldError{File: f.Name, Line: lv.channelAt.line, Path: lv.channelAt.path, Msg: err.Error()})
				continue
			}
			if note != "" {
				notes = append(notes, channelNote{chains: chains, text: note})
			}
		}
	}
	for _, r := range f.Routes {
		if seen[r.Channel] {
			continue
		}
		seen[r.Channel] = true
		if a.channels == nil {
			notes = append(notes, channelNote{policy: true, text: fmt.Sprintf("routed channel %s (%s:%d) not checked: no Slack bot token is configured (slack.bot_token)", r.Channel, f.Name, r.channelAt.line)})
			continue
		}
		note, err := a.channels.CheckChannel(ctx, r.Channel)
		if err != nil {
			errs = append(errs, &FieldError{File: f.Name, Line: r.channelAt.line, Path: r.channelAt.path, Msg: err.Error()})
			continue
		}
		if note != "" {
			notes = append(notes, channelNote{policy: true, text: note})
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return notes, nil
}

// channelNote is a note about an approvers' channel, shown only when apply
// creates or changes one of the chains using it, so re-applying an
// unchanged file still says "no changes" and nothing else.
type channelNote struct {
	chains []string
	policy bool // a routed channel: shown when the request policies change
	text   string
}

func chainsUsing(f *File, channel string) []string {
	var out []string
	for _, c := range f.Chains {
		for _, lv := range c.Levels {
			if lv.Channel == channel {
				out = append(out, c.Name)
				break
			}
		}
	}
	return out
}

// channelNotes keeps the notes whose chains the plan changes.
func channelNotes(notes []channelNote, changes []*Change) []string {
	var out []string
	for _, n := range notes {
		for _, c := range changes {
			if c.Kind == "approval_chain" && slices.Contains(n.chains, c.Name) || n.policy && c.Kind == "request_policy" {
				out = append(out, n.text)
				break
			}
		}
	}
	return out
}
