package evidence

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/provision"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/store"
)

// RequestRow is one request as evidence.
type RequestRow struct {
	Request     accessbot.AccessRequest
	Requester   string
	Target      string
	Application string
	Entitlement string
	// Chain names each level's approvers and rule; Decisions every
	// decision with who, when and why.
	Chain, Decisions []string
	// StepUps are the approvers' step-up re-authentications recorded on
	// the request's audit (request.stepped_up): level, who, when, issuer.
	StepUps []string
	// Provisioning is each flow of the request: direction, status and
	// its steps; End says when the access ended or ends.
	Provisioning []string
	End          string
}

var allStatuses = []accessbot.RequestStatus{accessbot.StatusPending, accessbot.StatusApproved, accessbot.StatusDenied,
	accessbot.StatusCancelled, accessbot.StatusExpired}

// Requests returns every request of the tenant created at or after since
// (and before until, when set), oldest first, with its chain, decisions,
// step-ups, provisioning and the end of the access it granted.
func Requests(ctx context.Context, st store.Queries, tenantID string, since, until time.Time) ([]RequestRow, error) {
	var reqs []accessbot.AccessRequest
	for _, s := range allStatuses {
		rs, err := st.ListRequestsByStatus(ctx, tenantID, s, 0)
		if err != nil {
			return nil, fmt.Errorf("list %s requests: %w", s, err)
		}
		for _, r := range rs {
			if !r.CreatedAt.Before(since) && (until.IsZero() || r.CreatedAt.Before(until)) {
				reqs = append(reqs, r)
			}
		}
	}
	sort.Slice(reqs, func(i, j int) bool {
		if !reqs[i].CreatedAt.Equal(reqs[j].CreatedAt) {
			return reqs[i].CreatedAt.Before(reqs[j].CreatedAt)
		}
		return reqs[i].ID < reqs[j].ID
	})
	grants, err := st.ListEntitlements(ctx, tenantID, "")
	if err != nil {
		return nil, fmt.Errorf("list grants: %w", err)
	}
	byRequest := map[string]accessbot.Entitlement{}
	for _, g := range grants {
		if g.RequestID != "" {
			byRequest[g.RequestID] = g
		}
	}
	names := newNames(st, tenantID)
	out := make([]RequestRow, 0, len(reqs))
	for _, r := range reqs {
		row := RequestRow{Request: r, Requester: names.of(ctx, r.RequesterID), Target: names.of(ctx, r.TargetUserID)}
		row.Application, row.Entitlement = what(ctx, st, &r)
		for i, l := range r.Levels {
			var who []string
			for _, id := range requests.LevelApprovers(&r, i) {
				who = append(who, names.of(ctx, id))
			}
			rule := string(l.Rule)
			if rule == "" {
				rule = string(accessbot.RuleAny)
			}
			if l.Rule == accessbot.RuleQuorum {
				rule = fmt.Sprintf("%d of", l.Needed())
			}
			row.Chain = append(row.Chain, fmt.Sprintf("%d: %s %s", i+1, rule, strings.Join(who, ", ")))
		}
		ds, err := st.ListDecisions(ctx, tenantID, r.ID)
		if err != nil {
			return nil, fmt.Errorf("decisions of %s: %w", r.ID, err)
		}
		for _, d := range ds {
			s := fmt.Sprintf("L%d %s %s %s", d.Level+1, names.of(ctx, d.ApproverID), d.Decision, stamp(d.DecidedAt))
			if d.Reason != "" {
				s += ": " + d.Reason
			}
			row.Decisions = append(row.Decisions, s)
		}
		audit, err := st.ListAudit(ctx, tenantID, r.ID)
		if err != nil {
			return nil, fmt.Errorf("audit of %s: %w", r.ID, err)
		}
		for _, a := range audit {
			if a.Action != requests.ActionSteppedUp {
				continue
			}
			var su struct {
				Level    int       `json:"level"`
				Issuer   string    `json:"issuer"`
				AuthTime time.Time `json:"auth_time"`
			}
			_ = json.Unmarshal(a.After, &su)
			s := fmt.Sprintf("L%d %s %s", su.Level, names.of(ctx, a.ActorID), stamp(a.At))
			if su.Issuer != "" {
				s += " via " + su.Issuer
			}
			if !su.AuthTime.IsZero() {
				s += " (authenticated " + stamp(su.AuthTime) + ")"
			}
			row.StepUps = append(row.StepUps, s)
		}
		flows, err := st.ListActionFlowsByRequest(ctx, tenantID, r.ID)
		if err != nil {
			return nil, fmt.Errorf("flows of %s: %w", r.ID, err)
		}
		var prov, ended *accessbot.ActionFlow
		for i, f := range flows {
			row.Provisioning = append(row.Provisioning, flowWords(ctx, names, &f))
			if f.Direction == string(provision.Deprovision) {
				ended = &flows[i]
			} else {
				prov = &flows[i]
			}
		}
		row.End = endWords(r, byRequest, prov, ended)
		out = append(out, row)
	}
	return out, nil
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04") }

// what names the request's application and entitlement (a purpose's for
// purpose requests).
func what(ctx context.Context, st store.Queries, r *accessbot.AccessRequest) (string, string) {
	if p, ok := requests.PurposeOf(r); ok {
		if p.Extends() {
			return "purpose " + p.Purpose, "more time on session " + p.Session
		}
		return "purpose " + p.Purpose, ""
	}
	app, conn := r.AppID, r.ConnectionID
	if a, err := st.GetApplication(ctx, r.TenantID, r.AppID); err == nil {
		app = a.Name
	}
	if r.ConnectionID != "" {
		if c, err := st.GetConnection(ctx, r.TenantID, r.ConnectionID); err == nil {
			conn = c.Name
		}
	}
	return app, conn
}

// flowWords is "provision done: 1 hooks_webhook_add done (note); 2 manual done by Owen".
func flowWords(ctx context.Context, names *names, f *accessbot.ActionFlow) string {
	var steps []string
	for i, s := range f.Steps {
		w := fmt.Sprintf("%d %s %s", i+1, s.Type, s.Status)
		if s.AnsweredBy != "" {
			w += " by " + names.of(ctx, s.AnsweredBy)
		}
		if s.FinishedAt != nil {
			w += " " + stamp(*s.FinishedAt)
		}
		if s.Note != "" {
			w += " (" + s.Note + ")"
		}
		steps = append(steps, w)
	}
	return fmt.Sprintf("%s %s: %s", f.Direction, f.Status, strings.Join(steps, "; "))
}

// endWords says when the access a request granted ended or ends.
func endWords(r accessbot.AccessRequest, held map[string]accessbot.Entitlement, prov, dep *accessbot.ActionFlow) string {
	if dep != nil {
		if dep.Status == accessbot.FlowDone && dep.FinishedAt != nil {
			return "ended " + stamp(*dep.FinishedAt) + " (" + dep.Reason + ")"
		}
		return "ending: deprovisioning " + string(dep.Status) + " (" + dep.Reason + ")"
	}
	if g, ok := held[r.ID]; ok {
		if g.ExpiresAt != nil {
			return "held until " + stamp(*g.ExpiresAt)
		}
		if sessionOf(r) != "" {
			return "held until the purpose session " + sessionOf(r) + " ends"
		}
		return "held, permanent"
	}
	switch {
	case prov != nil && !prov.Status.Finished():
		return "not yet granted: provisioning " + string(prov.Status)
	case prov != nil && prov.Status != accessbot.FlowDone:
		return "not granted: provisioning " + string(prov.Status)
	case prov != nil:
		return "held before (imported), not recorded as a grant"
	}
	return ""
}

// sessionOf is the purpose session r provisions a connection of, or "".
func sessionOf(r accessbot.AccessRequest) string {
	var p struct {
		Session string `json:"purpose_session"`
	}
	if r.Kind != accessbot.RequestUserAccess || json.Unmarshal(r.Payload, &p) != nil {
		return ""
	}
	return p.Session
}
