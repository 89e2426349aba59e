package views

// Every slash command, action_id, block_id and callback_id the bot uses is
// declared here, once: the view builders render them and handlers/ routes
// by them. Ids are a wire contract with Slack (messages already sent carry
// them), so add new ones rather than renaming.
const (
	// Command is the one slash command; subcommands route by its first word.
	Command = "/access"

	SubHelp = "help"
)

// Block ids.
const (
	BlockHomeHeader = "home_header"
	BlockHomeStatus = "home_status"
	BlockHomeFix    = "home_fix"
	BlockHomeHint   = "home_hint"
	BlockHelpIntro  = "help_intro"
	BlockHelpList   = "help_list"
)

// Action ids. (None yet: help and the App Home have no buttons.)

// Callback ids. (None yet: modals arrive with access requests.)
