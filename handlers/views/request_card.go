package views

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot"
)

// RequestCard is everything a message or view shows about one access
// request, with names already resolved by the handler.
type RequestCard struct {
	ID        string
	Kind      accessbot.RequestKind
	Status    accessbot.RequestStatus
	Requester string
	// Target is who gets access (user access only).
	Target string
	App    string
	// Connection is the entitlement asked for (user access) or the connection
	// acted on (assignment, deletion).
	Connection     string
	ConnectionType string
	// New is the connection a creation request asks for.
	New *NewConnection
	// Grants and Revokes of an assignment, each "name (type)".
	Grants  []string
	Revokes []string
	// Duration of time-bound access; 0 is permanent (user access only).
	Duration time.Duration
	// ExtendsFrom is set on an extension request: the end of the access it
	// extends by Duration.
	ExtendsFrom   *time.Time
	Justification string
	Level         int // 0-based current level
	Levels        int
	Escalated     bool
	// EscalatedAt is when the current level escalated to the admins (zero if it did not).
	EscalatedAt time.Time
	CreatedAt   time.Time
	Decisions   []DecisionLine
	// Playbooks are offered in a "Run playbook" menu on the approval
	// and requester messages (none: no menu).
	Playbooks []PlaybookChoice
	// Why offers the "Why these approvers?" button on standing cards (the
	// approval copies, the requester's and target's DMs, Details, the
	// audit): the same on every copy, the server decides who may see why.
	Why bool
}

// NewConnection is the payload of a connection creation request.
type NewConnection struct {
	Name        string
	Type        string
	Description string
	Fields      []Field
}

// Field is one labelled value of a connection form.
type Field struct {
	Label string
	Value string
}

// DecisionLine is one approver's decision, named.
type DecisionLine struct {
	Level    int // 0-based
	By       string
	Decision accessbot.DecisionKind
	Reason   string
	At       time.Time
}

// Option is one choice in a select menu.
type Option struct {
	Value string
	Text  string
	// Desc, when set, is shown under Text (radio buttons, checkboxes).
	Desc string
}

// KindWords names a request kind for people.
func KindWords(k accessbot.RequestKind) string {
	switch k {
	case accessbot.RequestUserAccess:
		return "Access request"
	case accessbot.RequestConnectionCreate:
		return "New connection"
	case accessbot.RequestConnectionAssign:
		return "Connection assignment"
	case accessbot.RequestConnectionDelete:
		return "Connection deletion"
	case accessbot.RequestPurposeAssign:
		return "Purpose assignment"
	case accessbot.RequestPurposeStart:
		return "Purpose start"
	}
	return "Request"
}

// DurationWords says 8h as "8 hours", 0 as "Permanent".
func DurationWords(d time.Duration) string {
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	switch {
	case d <= 0:
		return "Permanent"
	case d%(24*time.Hour) == 0:
		return plural(int64(d/(24*time.Hour)), "day")
	case d%time.Hour == 0:
		return plural(int64(d/time.Hour), "hour")
	case d%time.Minute == 0:
		return plural(int64(d/time.Minute), "minute")
	}
	return d.String()
}

// SlackDate renders t in the reader's time zone, with a UTC fallback.
func SlackDate(t time.Time) string {
	t = t.UTC()
	return fmt.Sprintf("<!date^%d^{date_short_pretty} at {time}|%s>", t.Unix(), t.Format("2006-01-02 15:04 UTC"))
}

// LevelWords is "2 of 3" for a 0-based level.
func LevelWords(level, levels int) string {
	if levels <= 0 {
		levels = 1
	}
	return fmt.Sprintf("%d of %d", level+1, levels)
}

// StatusWords describes a request's status, with its level while pending.
func StatusWords(c RequestCard) string {
	switch c.Status {
	case accessbot.StatusPending:
		s := ":hourglass_flowing_sand: Pending, level " + LevelWords(c.Level, c.Levels)
		if c.Escalated {
			s += " (escalated to admins)"
		}
		return s
	case accessbot.StatusApproved:
		return ":white_check_mark: Approved"
	case accessbot.StatusDenied:
		return ":no_entry: Denied"
	case accessbot.StatusCancelled:
		return ":heavy_minus_sign: Cancelled"
	case accessbot.StatusExpired:
		return ":alarm_clock: Expired"
	}
	return string(c.Status)
}

// What names what a request is about in one line of mrkdwn.
func What(c RequestCard) string {
	app := "*" + escape(c.App, maxValue) + "*"
	switch c.Kind {
	case accessbot.RequestUserAccess:
		s := "*" + escape(c.Connection, maxValue) + "* in " + app
		if c.Target != "" && c.Target != c.Requester {
			s += " for " + escape(c.Target, maxValue)
		}
		if c.ExtendsFrom != nil {
			s = "more time on " + s + " (now until " + SlackDate(*c.ExtendsFrom) + ")"
		}
		return s
	case accessbot.RequestConnectionCreate:
		name := ""
		if c.New != nil {
			name = c.New.Name
		}
		return "new connection *" + escape(name, maxValue) + "* in " + app
	case accessbot.RequestConnectionAssign:
		return "assignments of *" + escape(c.Connection, maxValue) + "* in " + app
	case accessbot.RequestConnectionDelete:
		return "deletion of *" + escape(c.Connection, maxValue) + "* in " + app
	case accessbot.RequestPurposeAssign:
		return "assignment to purpose " + app
	case accessbot.RequestPurposeStart:
		if c.ExtendsFrom != nil {
			return DurationWords(c.Duration) + " more on purpose " + app + " (now until " + SlackDate(*c.ExtendsFrom) + ")"
		}
		return "a start of purpose " + app + " for " + DurationWords(c.Duration)
	}
	return app
}

// Summary is one plain line: "Ada Lovelace: Admins in GitLab (pending, level 1 of 2)".
func Summary(c RequestCard) string {
	return escape(c.Requester, maxValue) + ": " + What(c)
}

func suffixed(id, suffix string) string {
	if suffix == "" {
		return id
	}
	return id + "." + suffix
}

func listOr(items []string, none string) string {
	if len(items) == 0 {
		return none
	}
	out := make([]string, len(items))
	for i, s := range items {
		out[i] = "• " + escape(s, maxValue)
	}
	return truncate(strings.Join(out, "\n"), 2900)
}

// CardBlocks renders a request: the fields section, the kind's details and
// the justification. suffix keeps block ids unique when several cards share
// a surface.
func CardBlocks(c RequestCard, suffix string) []slack.Block {
	fields := []*slack.TextBlockObject{
		mrkdwn("*Requester*\n" + escape(c.Requester, maxValue)),
	}
	switch c.Kind {
	case accessbot.RequestUserAccess:
		target := c.Target
		if target == "" {
			target = c.Requester
		}
		fields = append(fields,
			mrkdwn("*For*\n"+escape(target, maxValue)),
			mrkdwn("*Application*\n"+escape(c.App, maxValue)),
			mrkdwn("*Entitlement*\n"+escape(c.Connection, maxValue)),
			mrkdwn("*Duration*\n"+DurationWords(c.Duration)))
	default:
		fields = append(fields, mrkdwn("*Application*\n"+escape(c.App, maxValue)))
		if c.Kind != accessbot.RequestConnectionCreate {
			conn := escape(c.Connection, maxValue)
			if c.ConnectionType != "" {
				conn += " (" + escape(c.ConnectionType, 50) + ")"
			}
			fields = append(fields, mrkdwn("*Connection*\n"+conn))
		}
	}
	fields = append(fields,
		mrkdwn("*Level*\n"+LevelWords(c.Level, c.Levels)),
		mrkdwn("*Status*\n"+StatusWords(c)))
	if c.ID != "" {
		fields = append(fields, mrkdwn("*Request*\n`"+escape(c.ID, 64)+"`"))
	}
	blocks := []slack.Block{
		slack.NewSectionBlock(mrkdwn("*"+KindWords(c.Kind)+"*: "+What(c)), fields, nil, slack.SectionBlockOptionBlockID(suffixed(BlockCardFields, suffix))),
	}
	if c.New != nil {
		var b strings.Builder
		fmt.Fprintf(&b, "*Name:* %s\n*Type:* %s", escape(c.New.Name, maxValue), escape(c.New.Type, 50))
		if c.New.Description != "" {
			fmt.Fprintf(&b, "\n*Description:* %s", escape(c.New.Description, 500))
		}
		for _, f := range c.New.Fields {
			fmt.Fprintf(&b, "\n*%s:* %s", escape(f.Label, 100), escape(f.Value, maxValue))
		}
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(truncate(b.String(), 2900)), nil, nil, slack.SectionBlockOptionBlockID(suffixed(BlockCardPayload, suffix))))
	}
	if c.Kind == accessbot.RequestConnectionAssign {
		blocks = append(blocks, slack.NewSectionBlock(nil, []*slack.TextBlockObject{
			mrkdwn(truncate("*Grants*\n"+listOr(c.Grants, "_none_"), 1900)),
			mrkdwn(truncate("*Revokes*\n"+listOr(c.Revokes, "_none_"), 1900)),
		}, nil, slack.SectionBlockOptionBlockID(suffixed(BlockCardAssignment, suffix))))
	}
	just := c.Justification
	if strings.TrimSpace(just) == "" {
		just = "_none given_"
	} else {
		just = escape(just, 2000)
	}
	blocks = append(blocks, slack.NewSectionBlock(mrkdwn(truncate("*Justification*\n"+just, 2900)), nil, nil, slack.SectionBlockOptionBlockID(suffixed(BlockCardJustification, suffix))))
	return blocks
}

// DecisionWords is "Approved by Bob at <date>" (with the reason of a deny).
func DecisionWords(d DecisionLine) string {
	verb := "Approved"
	if d.Decision == accessbot.DecisionDeny {
		verb = "Denied"
	}
	s := fmt.Sprintf("%s by %s at %s", verb, escape(d.By, maxValue), SlackDate(d.At))
	if d.Reason != "" {
		s += ": " + escape(d.Reason, 500)
	}
	return s
}

// HistoryBlock lists a card's decisions by level; nil when there are none.
func HistoryBlock(c RequestCard, suffix string) slack.Block {
	if len(c.Decisions) == 0 {
		return nil
	}
	lines := make([]string, 0, len(c.Decisions))
	for _, d := range c.Decisions {
		lines = append(lines, "Level "+LevelWords(d.Level, c.Levels)+": "+DecisionWords(d))
	}
	return slack.NewSectionBlock(mrkdwn(truncate("*History*\n"+strings.Join(lines, "\n"), 2900)), nil, nil, slack.SectionBlockOptionBlockID(suffixed(BlockCardHistory, suffix)))
}

// ApprovalActionsBlockID is the block id of the Approve/Deny/Details buttons
// for level (0-based); n > 0 numbers repeated blocks in one list.
func ApprovalActionsBlockID(level, n int) string {
	id := BlockApprovalActions + ".L" + strconv.Itoa(level)
	if n > 0 {
		id += "." + strconv.Itoa(n)
	}
	return id
}

// LevelFromBlockID reads the level ApprovalActionsBlockID put in a block id.
func LevelFromBlockID(blockID string) (int, bool) {
	rest, ok := strings.CutPrefix(blockID, BlockApprovalActions+".L")
	if !ok {
		return 0, false
	}
	lv, _, _ := strings.Cut(rest, ".")
	n, err := strconv.Atoi(lv)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// ApprovalButtons are Approve, Deny and Details for request id at level.
func ApprovalButtons(id string, level, n int) *slack.ActionBlock {
	approve := slack.NewButtonBlockElement(ActionApprove, id, plain("Approve"))
	approve.Style = slack.StylePrimary
	deny := slack.NewButtonBlockElement(ActionDeny, id, plain("Deny"))
	deny.Style = slack.StyleDanger
	details := slack.NewButtonBlockElement(ActionDetails, id, plain("Details"))
	return slack.NewActionBlock(ApprovalActionsBlockID(level, n), approve, deny, details)
}
