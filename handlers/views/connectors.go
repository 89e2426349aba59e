package views

import (
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack"
)

// BlockHomeConnectors heads the admins' connector status on the Home tab.
const BlockHomeConnectors = "home_connectors"

// ConnectorStatus is one application's directory connector, for admins.
type ConnectorStatus struct {
	App, Connector  string
	Status, Message string // "Connected", "Data available"
	LastSync        *time.Time
	Counts          string // the last good sync's summary
	LastError       string
	Schedule        string // "" when it syncs only on demand
}

// HomeConnectors lists the directory connectors' status: the seed's
// states, the last sync, its counts and the last error.
func HomeConnectors(rows []ConnectorStatus) []slack.Block {
	blocks := []slack.Block{slack.NewHeaderBlock(plain("Directory connectors"), slack.HeaderBlockOptionBlockID(BlockHomeConnectors))}
	for i, r := range rows {
		if i == 10 {
			blocks = append(blocks, slack.NewContextBlock("", mrkdwn(fmt.Sprintf("and %d more: `accessbot connectors status` lists them all.", len(rows)-i))))
			break
		}
		icon := ":hourglass:"
		switch r.Status {
		case "Connected":
			icon = ":large_green_circle:"
		case "Error":
			icon = ":red_circle:"
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%s *%s* (%s): *%s* · %s", icon, escape(r.App, 150), escape(r.Connector, 60), escape(r.Status, 40), escape(r.Message, 80))
		last := "never"
		if r.LastSync != nil {
			last = fmt.Sprintf("<!date^%d^{date_short_pretty} {time}|%s>", r.LastSync.Unix(), r.LastSync.UTC().Format("2006-01-02 15:04 UTC"))
		}
		sched := "on demand (`accessbot sync`)"
		if r.Schedule != "" {
			sched = "`" + escape(r.Schedule, 80) + "`"
		}
		fmt.Fprintf(&b, "\nLast sync: %s · Schedule: %s", last, sched)
		if r.Counts != "" {
			fmt.Fprintf(&b, "\n%s", escape(r.Counts, 600))
		}
		if r.LastError != "" {
			fmt.Fprintf(&b, "\n:warning: Last error: %s", escape(r.LastError, 900))
		}
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(truncate(b.String(), 2900)), nil, nil))
	}
	if len(rows) == 0 {
		blocks = append(blocks, slack.NewContextBlock("", mrkdwn("No application syncs from a directory connector (azuread, scim) yet.")))
	}
	return blocks
}
