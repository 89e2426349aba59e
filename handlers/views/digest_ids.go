package views

// Ids of the findings digest and critical alerts (see ids.go for the rule:
// add, never rename).
const (
	// ActionFindingPrefix + an item action's id is a button's action_id
	// ("finding_ack", "finding_resolve"); the value is the finding id.
	ActionFindingPrefix = "finding_"
	// ActionFindingMenu is the overflow menu on thread items; each option's
	// value is "<item action id>:<finding id>".
	ActionFindingMenu = "finding_menu"

	BlockDigestHeader  = "digest_header"
	BlockDigestSummary = "digest_summary"
	BlockDigestMore    = "digest_more"
	// BlockDigestItemPrefix + finding id names an item's section;
	// BlockDigestActionsPrefix + finding id its buttons (replaced by the
	// status line once someone acts).
	BlockDigestItemPrefix    = "digest_item:"
	BlockDigestActionsPrefix = "digest_actions:"
)
