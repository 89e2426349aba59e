package evidence

import (
	"strconv"
	"strings"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/internal/report"
)

// CampaignColumns are the campaign report's columns, in order.
var CampaignColumns = []string{"item", "level", "subject", "application", "entitlement", "privileged", "reviewer",
	"assignment", "decision", "decided_by", "decided_at", "reason", "revocation", "flow"}

// CampaignTable is the campaign report: every item, the decision, who
// decided and when, the reason, delegation or nomination, and the
// revocation's outcome. Its period runs from the launch to the
// completion (or to now).
func CampaignTable(tenant string, c *accessbot.Campaign, rows []ItemRow, generated time.Time) report.Table {
	to := generated
	if c.CompletedAt != nil {
		to = *c.CompletedAt
	}
	t := report.Table{Title: "Access review campaign " + c.Name, Tenant: tenant, From: c.LaunchedAt, To: to, Generated: generated,
		Columns: CampaignColumns, Widths: []float64{2.2, 0.8, 1.6, 1.4, 1.6, 1, 1.4, 2, 1, 1.4, 1.6, 2, 1.8, 2.2}}
	for _, r := range rows {
		it := r.Item
		decided := ""
		if it.DecidedAt != nil {
			decided = it.DecidedAt.UTC().Format(time.RFC3339)
		}
		t.Rows = append(t.Rows, []string{it.ID, strconv.Itoa(it.Level + 1), it.Subject, it.AppName, it.EntitlementName,
			strconv.FormatBool(it.Privileged), r.Reviewer, r.Assignment, string(it.Status), r.DecidedBy, decided, it.Comment, r.Outcome, r.FlowID})
	}
	return t
}

// RequestColumns are the requests report's columns, in order.
var RequestColumns = []string{"request", "created_at", "kind", "requester", "for", "application", "entitlement", "duration",
	"justification", "status", "decided_at", "chain", "decisions", "step_ups", "provisioning", "access_end"}

// RequestsTable is the requests report: every request with its chain,
// decisions, step-ups, provisioning steps and the end of the access.
func RequestsTable(tenant string, since, until time.Time, rows []RequestRow, generated time.Time) report.Table {
	if until.IsZero() {
		until = generated
	}
	t := report.Table{Title: "Access requests", Tenant: tenant, From: since, To: until, Generated: generated, Columns: RequestColumns,
		Widths: []float64{2.2, 1.4, 1.2, 1.1, 1.1, 1.2, 1.2, 0.8, 2, 0.9, 1.4, 2, 2.4, 2, 3, 1.8}}
	for _, r := range rows {
		q := r.Request
		dur := "permanent"
		if q.Duration > 0 {
			dur = q.Duration.String()
		}
		if q.Kind != accessbot.RequestUserAccess && q.Kind != accessbot.RequestPurposeStart {
			dur = ""
		}
		decided := ""
		if q.DecidedAt != nil {
			decided = q.DecidedAt.UTC().Format(time.RFC3339)
		}
		t.Rows = append(t.Rows, []string{q.ID, q.CreatedAt.UTC().Format(time.RFC3339), string(q.Kind), r.Requester, r.Target,
			r.Application, r.Entitlement, dur, q.Justification, string(q.Status), decided, strings.Join(r.Chain, "\n"),
			strings.Join(r.Decisions, "\n"), strings.Join(r.StepUps, "\n"), strings.Join(r.Provisioning, "\n"), r.End})
	}
	return t
}
