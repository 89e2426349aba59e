package views

import (
	"github.com/slack-go/slack"
)

// The new-campaign form's Repeat choice: block and action ids, and the
// option values.
const (
	BlockReviewNewRepeat  = "review_new_repeat"
	BlockReviewNewCron    = "review_new_cron"
	ActionReviewNewRepeat = "review_new_repeat_select"
	ActionReviewNewCron   = "review_new_cron_input"

	RepeatNone      = "none"
	RepeatMonthly   = "monthly"
	RepeatQuarterly = "quarterly"
	RepeatCustom    = "custom"
)

// RepeatCron is the cron expression of a preset Repeat value: 09:00 on the
// first day of each month, or of each quarter.
var RepeatCron = map[string]string{
	RepeatMonthly:   "0 9 1 * *",
	RepeatQuarterly: "0 9 1 1,4,7,10 *",
}

// RepeatZone is the time zone of the form's repeats; it names none.
const RepeatZone = "UTC"

func repeatOptions() []*slack.OptionBlockObject {
	return []*slack.OptionBlockObject{
		slack.NewOptionBlockObject(RepeatNone, plain("Does not repeat"), nil),
		slack.NewOptionBlockObject(RepeatMonthly, plain("Monthly (1st, 09:00 UTC)"), nil),
		slack.NewOptionBlockObject(RepeatQuarterly, plain("Quarterly (1 Jan/Apr/Jul/Oct, 09:00 UTC)"), nil),
		slack.NewOptionBlockObject(RepeatCustom, plain("Custom schedule (cron)"), nil),
	}
}

// repeatBlocks are the Repeat select and the custom cron field.
func repeatBlocks() []slack.Block {
	sel := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Repeat"), ActionReviewNewRepeat, repeatOptions()...)
	sel.InitialOption = repeatOptions()[0]
	cron := slack.NewPlainTextInputBlockElement(plain("e.g. 0 9 1 */2 *"), ActionReviewNewCron).WithMaxLength(100)
	return []slack.Block{
		input(BlockReviewNewRepeat, "Repeat", sel, false,
			"A repeating review launches now and again on each date, with the same applications and reviewers; each runs as long as this one."),
		input(BlockReviewNewCron, "Custom schedule", cron, true,
			"With Repeat set to Custom: minute hour day-of-month month day-of-week, in UTC."),
	}
}
