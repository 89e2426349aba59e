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

// Access requests and approvals (issue 4): subcommands.
const (
	SubRequest    = "request"
	SubConnection = "connection"
	SubMine       = "mine"
	SubApprovals  = "approvals"
	SubAudit      = "audit"
)

// Access requests and approvals: callback ids.
const (
	CallbackRequestForm       = "request_form"
	CallbackRequestPreview    = "request_preview"
	CallbackConnectionForm    = "connection_form"
	CallbackConnectionPreview = "connection_preview"
	CallbackDenyReason        = "approval_deny_reason"
	CallbackRequestDetails    = "request_details"
	CallbackRequestDone       = "request_done"
	CallbackRequestWhy        = "request_why"
)

// Access requests and approvals: block ids. Blocks repeated in one message
// get a suffix (see ApprovalActionsBlockID).
const (
	BlockReqApp           = "req_app"
	BlockReqEntitlement   = "req_entitlement"
	BlockReqTarget        = "req_target"
	BlockReqDuration      = "req_duration"
	BlockReqCustomHours   = "req_custom_hours"
	BlockReqJustification = "req_justification"
	BlockReqHint          = "req_hint"
	BlockReqChannel       = "req_channel"
	BlockTargetIntro      = "target_intro"
	BlockStepUp           = "stepup"

	BlockConnKind          = "conn_kind"
	BlockConnApp           = "conn_app"
	BlockConnConnection    = "conn_connection"
	BlockConnName          = "conn_name"
	BlockConnType          = "conn_type"
	BlockConnDescription   = "conn_description"
	BlockConnFieldPrefix   = "conn_field." // + schema field name
	BlockConnGrants        = "conn_grants"
	BlockConnRevokes       = "conn_revokes"
	BlockConnJustification = "conn_justification"
	BlockConnHint          = "conn_hint"

	BlockCardHeader        = "card_header"
	BlockCardFields        = "card_fields"
	BlockCardPayload       = "card_payload"
	BlockCardAssignment    = "card_assignment"
	BlockCardJustification = "card_justification"
	BlockCardHistory       = "card_history"
	BlockCardChain         = "card_chain"
	BlockCardStatus        = "card_status"
	BlockCardEscalated     = "card_escalated"
	BlockCardWhy           = "card_why" // "Why these approvers?" (+ "." + n: the answer's sections)
	BlockFulfilmentAsk     = "fulfilment_ask"
	BlockPreviewIntro      = "preview_intro"
	BlockPreviewProblem    = "preview_problem"

	// BlockApprovalActions prefixes the block holding Approve/Deny/Details:
	// "approval_actions.L<level>[.<n>]". The level is what the approver was
	// shown: an expectation handed to requests.Decide, never an authority.
	BlockApprovalActions = "approval_actions"
	BlockDenyReason      = "deny_reason"
	BlockListHeader      = "list_header"
	BlockListItem        = "list_item" // + "." + n
	BlockListMore        = "list_more"
	BlockHomeMine        = "home_mine"
	BlockHomeWaiting     = "home_waiting"
)

// Access requests and approvals: action ids. Button values carry only a request id.
const (
	ActionReqApp           = "req_app_select"
	ActionReqEntitlement   = "req_entitlement_select"
	ActionReqTarget        = "req_target_select"
	ActionStepUp           = "stepup_link"
	ActionReqDuration      = "req_duration_select"
	ActionReqCustomHours   = "req_custom_hours_input"
	ActionReqJustification = "req_justification_input"

	ActionConnKind          = "conn_kind_radio"
	ActionConnApp           = "conn_app_select"
	ActionConnConnection    = "conn_connection_select"
	ActionConnName          = "conn_name_input"
	ActionConnType          = "conn_type_select"
	ActionConnDescription   = "conn_description_input"
	ActionConnField         = "conn_field_input"
	ActionConnGrants        = "conn_grants_select"
	ActionConnRevokes       = "conn_revokes_select"
	ActionConnJustification = "conn_justification_input"

	ActionApprove    = "approval_approve"
	ActionDeny       = "approval_deny"
	ActionDetails    = "approval_details"
	ActionCancel     = "request_cancel"
	ActionDenyReason = "deny_reason_input"
	// ActionWhyApprovers: "Why these approvers?", for admins (checked again
	// on the server).
	ActionWhyApprovers = "request_why_approvers"

	// "/access audit" without an id: pick the requester, then the request.
	BlockAuditPick     = "audit_pick"
	ActionAuditPerson  = "audit_person_select"
	ActionAuditRequest = "audit_request_select"
)

// Access reviews (issue 6): subcommands ("/access reviews", "/access review new").
const (
	SubReviews   = "reviews"
	SubReview    = "review"
	ReviewNewArg = "new"
	// ReviewStopArg: "/access review stop NAME" stops a Slack-started repeat.
	ReviewStopArg = "stop"
)

// Access reviews: callback ids.
const (
	CallbackReviewItems    = "review_items"
	CallbackReviewNew      = "review_new"
	CallbackReviewNominate = "review_nominate"
	CallbackReviewDone     = "review_done"
)

// Access reviews: block ids. Per-item blocks end in "." + the item id.
const (
	BlockReviewDM            = "review_dm"
	BlockReviewDMApps        = "review_dm_apps"
	BlockReviewDMActions     = "review_dm_actions"
	BlockReviewHeader        = "review_header"
	BlockReviewItem          = "review_item"     // + "." + item id: the item's section
	BlockReviewDecision      = "review_decision" // + "." + item id
	BlockReviewComment       = "review_comment"  // + "." + item id
	BlockReviewNav           = "review_nav"
	BlockReviewList          = "review_list" // + "." + n
	BlockReviewNewName       = "review_new_name"
	BlockReviewNewApps       = "review_new_apps"
	BlockReviewNewPrivileged = "review_new_privileged"
	BlockReviewNewLevel1     = "review_new_level1"
	BlockReviewNewLevel2     = "review_new_level2"
	BlockReviewNewDue        = "review_new_due"
	BlockReviewNominee       = "review_nominee"
	BlockReviewNominateWhy   = "review_nominate_reason"
	BlockHomeReviews         = "home_reviews"
)

// Access reviews: action ids. Button values carry only a campaign or item id.
const (
	ActionReviewOpen        = "review_open"
	ActionReviewDecision    = "review_decision_radio"
	ActionReviewComment     = "review_comment_input"
	ActionReviewPrev        = "review_prev"
	ActionReviewNext        = "review_next"
	ActionReviewKeepAll     = "review_keep_all"
	ActionReviewNominate    = "review_nominate"
	ActionReviewNewName     = "review_new_name_input"
	ActionReviewNewApps     = "review_new_apps_select"
	ActionReviewNewPriv     = "review_new_privileged_check"
	ActionReviewNewLevel1   = "review_new_level1_select"
	ActionReviewNewLevel2   = "review_new_level2_select"
	ActionReviewNewDue      = "review_new_due_date"
	ActionReviewNominee     = "review_nominee_select"
	ActionReviewNominateWhy = "review_nominate_reason_input"
)
