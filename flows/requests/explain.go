package requests

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/accessbot/accessbot"
)

// ExplainInput is a request that is not made: who would be asked for it.
type ExplainInput struct {
	TenantID     string
	AppID        string
	ConnectionID string // "" for the application's chain
	RequesterID  string
	TargetID     string // "" is the requester
	Channel      string // the Slack channel it would be made in
}

// Explanation says who would be asked at each level of a request, and why.
type Explanation struct {
	App        *accessbot.Application
	Connection *accessbot.Connection
	Requester  *accessbot.User
	Target     *accessbot.User
	Channel    string
	// ForWhy says why Requester may ask for Target under the tenant's
	// on_behalf: policy ("" when they are the same person); ForRefused,
	// for a stored request, that the policy no longer lets them.
	ForWhy     string
	ForRefused string
	Risk       accessbot.RiskTier
	StepUp     *accessbot.StepUpProvider
	Chain      *accessbot.ApprovalChain
	ChainWhy   string
	Levels     []LevelExplanation
}

// LevelExplanation is one level: its rule, where it is asked, and each
// approver spec with what became of it.
type LevelExplanation struct {
	Rule    string   // "any one of 2", "all of 3", "2 of 3 (quorum)"
	Channel string   // the approvers' channel, "" for none
	Lines   []string // "manager → James Okafor (manager of Sofia Rossi)", …
	Asked   []string // the names asked, as resolved
}

// Explain resolves the chain a request would use without storing anything,
// as Prepare does, and says why each approver is asked: the chain chosen
// (entitlement, application, channel route or tenant default), the rule
// and quorum, delegates standing in, people left out (the requester, the
// person it is for, the terminated) and admins filling in.
//
// A request for someone else is checked against the tenant's on_behalf:
// policy first, as Prepare checks it: one the requester may not make is
// ErrNotOnBehalf, saying why.
func (s *Service) Explain(ctx context.Context, in ExplainInput) (*Explanation, error) {
	return s.explain(ctx, in, false)
}

// ErrNotOnBehalf: the requester may not ask for that person under the
// tenant's on_behalf: policy, so nobody would be asked.
var ErrNotOnBehalf = errors.New("so nobody would be asked")

// explain is Explain; stored says the request exists already, and is
// explained even when the on_behalf: policy would refuse it now.
func (s *Service) explain(ctx context.Context, in ExplainInput, stored bool) (*Explanation, error) {
	q := s.st
	ex := &Explanation{Channel: in.Channel}
	var err error
	if ex.Requester, err = q.GetUser(ctx, in.TenantID, in.RequesterID); err != nil {
		return nil, fmt.Errorf("explain: requester: %w", err)
	}
	ex.Target = ex.Requester
	if in.TargetID != "" {
		if ex.Target, err = q.GetUser(ctx, in.TenantID, in.TargetID); err != nil {
			return nil, fmt.Errorf("explain: target: %w", err)
		}
	}
	if ex.App, err = q.GetApplication(ctx, in.TenantID, in.AppID); err != nil {
		return nil, fmt.Errorf("explain: application: %w", err)
	}
	if in.ConnectionID != "" {
		if ex.Connection, err = q.GetConnection(ctx, in.TenantID, in.ConnectionID); err != nil {
			return nil, fmt.Errorf("explain: entitlement: %w", err)
		}
	}
	policy, err := requestPolicy(ctx, q, in.TenantID)
	if err != nil {
		return nil, fmt.Errorf("explain: %w", err)
	}
	if ex.Target.ID != ex.Requester.ID {
		if ex.ForWhy, err = ForWhom(ctx, q, policy.OnBehalf, ex.Requester, ex.Target, in.AppID); err != nil {
			return nil, fmt.Errorf("explain: %w", err)
		}
		if ex.ForWhy == "" {
			refused := fmt.Sprintf("%s may not request %s for %s under the tenant's on_behalf: policy (%s)", ex.Requester.Name, ex.App.Name, ex.Target.Name, onBehalfRule(policy.OnBehalf))
			if !stored {
				return nil, fmt.Errorf("%s, %w", refused, ErrNotOnBehalf)
			}
			ex.ForRefused = refused
		}
	}
	ex.Risk = policy.Risk.TierOf(in.AppID, in.ConnectionID)
	if ex.Risk == accessbot.RiskHigh {
		ex.StepUp = policy.StepUp
	}
	chains, err := q.ListApprovalChains(ctx, in.TenantID)
	if err != nil {
		return nil, fmt.Errorf("explain: list approval chains: %w", err)
	}
	if ex.Chain, ex.ChainWhy, err = SelectRouted(chains, in.AppID, in.ConnectionID, RoutingFor(policy, in.Channel)); err != nil {
		return nil, fmt.Errorf("explain: %w", err)
	}
	rin := resolveInput{tenantID: in.TenantID, requesterID: ex.Requester.ID, targetID: ex.Target.ID, managerOf: ex.Target, app: ex.App, now: s.now()}
	levels, err := resolveLevels(ctx, q, ex.Chain, rin)
	if err != nil {
		return nil, fmt.Errorf("explain: %w", err)
	}
	get := cachedUsers(ctx, q, in.TenantID)
	name := func(id string) string {
		if u, _ := get(id); u != nil {
			return u.Name + " <" + u.Email + ">"
		}
		return id
	}
	for i, lvl := range ex.Chain.Levels {
		res := levels[i]
		le := LevelExplanation{Channel: res.Channel}
		n := len(res.Approvers)
		switch res.Rule {
		case accessbot.RuleAll:
			le.Rule = fmt.Sprintf("all of %d must approve", n)
		case accessbot.RuleQuorum:
			le.Rule = fmt.Sprintf("%d of %d must approve (quorum)", res.Quorum, n)
		default:
			le.Rule = fmt.Sprintf("any one of %d", n)
		}
		if res.ChannelOnly {
			le.Rule += ", asked in the channel only"
		}
		for _, a := range lvl.Approvers {
			le.Lines = append(le.Lines, explainApprover(a, rin, get, name)...)
		}
		for _, a := range res.Approvers {
			le.Asked = append(le.Asked, name(a.UserID))
		}
		named := 0
		for _, l := range le.Lines {
			if strings.Contains(l, "→ asked") {
				named++
			}
		}
		switch {
		case named == 0:
			le.Lines = append(le.Lines, "nobody named by the chain can approve: fallback to the tenant admins (any one of them decides)")
		case n > named:
			le.Lines = append(le.Lines, fmt.Sprintf("fewer than the quorum can approve: fallback to the tenant admins, who make up the number (%d added)", n-named))
		}
		ex.Levels = append(ex.Levels, le)
	}
	return ex, nil
}

// explainApprover says what one approver spec of a level became.
func explainApprover(a accessbot.Approver, in resolveInput, get func(string) (*accessbot.User, error), name func(string) string) []string {
	type cand struct{ id, why string }
	var cs []cand
	switch a.Kind {
	case accessbot.ApproverOwners:
		cs = append(cs, cand{in.app.PrimaryOwnerID, "primary owner of " + in.app.Name}, cand{in.app.SecondaryOwnerID, "secondary owner of " + in.app.Name})
	case accessbot.ApproverPrimary:
		cs = append(cs, cand{in.app.PrimaryOwnerID, "primary owner of " + in.app.Name})
	case accessbot.ApproverSecondary:
		cs = append(cs, cand{in.app.SecondaryOwnerID, "secondary owner of " + in.app.Name})
	case accessbot.ApproverManager:
		cs = append(cs, cand{in.managerOf.ManagerID, "manager of " + in.managerOf.Name})
	case accessbot.ApproverUser:
		cs = append(cs, cand{a.UserID, "named in the chain"})
	}
	var out []string
	for _, c := range cs {
		prefix := string(a.Kind) + ": "
		switch {
		case c.id == "":
			out = append(out, prefix+"nobody ("+c.why+" is not set)")
			continue
		case c.id == in.requesterID:
			out = append(out, prefix+name(c.id)+" ("+c.why+") is left out: the requester never approves")
			continue
		case c.id == in.targetID:
			out = append(out, prefix+name(c.id)+" ("+c.why+") is left out: the person the access is for never approves")
			continue
		}
		u, _ := get(c.id)
		if u == nil || u.Status != accessbot.UserActive {
			out = append(out, prefix+name(c.id)+" ("+c.why+") is left out: not active")
			continue
		}
		eff, _ := delegateOf(u, in, get)
		if eff != u.ID {
			out = append(out, prefix+name(u.ID)+" ("+c.why+") is away until "+u.DelegateUntil.Format(time.DateOnly)+" → asked: their delegate "+name(eff))
			continue
		}
		out = append(out, prefix+name(u.ID)+" ("+c.why+") → asked")
	}
	return out
}

// Write prints the explanation for people.
func (ex *Explanation) Write(w io.Writer) error {
	var b strings.Builder
	what := ex.App.Name
	if ex.Connection != nil {
		what = ex.Connection.Name + " in " + ex.App.Name
	}
	fmt.Fprintf(&b, "request: %s for %s <%s>", what, ex.Target.Name, ex.Target.Email)
	if ex.Target.ID != ex.Requester.ID {
		fmt.Fprintf(&b, ", asked by %s <%s>", ex.Requester.Name, ex.Requester.Email)
	}
	if ex.Channel != "" {
		fmt.Fprintf(&b, ", made in channel %s", ex.Channel)
	}
	b.WriteString("\n")
	switch {
	case ex.ForRefused != "":
		fmt.Fprintf(&b, "on behalf: the policy would refuse it now: %s\n", ex.ForRefused)
	case ex.ForWhy != "":
		fmt.Fprintf(&b, "on behalf: allowed: %s\n", thirdPerson(ex.ForWhy, ex.Requester.Name))
	}
	switch {
	case ex.Risk == accessbot.RiskHigh && ex.StepUp != nil:
		fmt.Fprintf(&b, "risk: high: each approval counts only after the approver signs in again at %s (step-up)\n", ex.StepUp.Issuer)
	case ex.Risk == accessbot.RiskHigh:
		b.WriteString("risk: high: each approval needs step-up, and the tenant has no step_up: provider\n")
	case ex.Risk != "":
		fmt.Fprintf(&b, "risk: %s\n", ex.Risk)
	}
	fmt.Fprintf(&b, "chain: %s: %s\n", ex.Chain.Name, ex.ChainWhy)
	for i, l := range ex.Levels {
		fmt.Fprintf(&b, "level %d: %s", i+1, l.Rule)
		if l.Channel != "" {
			fmt.Fprintf(&b, "; card also posted in approvers' channel %s", l.Channel)
		}
		b.WriteString("\n")
		for _, line := range l.Lines {
			fmt.Fprintf(&b, "  %s\n", line)
		}
		fmt.Fprintf(&b, "  asked: %s\n", strings.Join(l.Asked, ", "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// onBehalfRule says in words whom the tenant's on_behalf: policy lets
// people request for.
func onBehalfRule(p accessbot.OnBehalf) string {
	var s string
	switch p.ManagerReach() {
	case accessbot.ReachDirectReports:
		s = "managers may request for their direct reports (managers: direct_reports)"
	case accessbot.ReachReportingLine:
		s = "managers may request for their whole reporting line (managers: reporting_line)"
	default:
		s = "managers may not request for others (managers: none)"
	}
	if p.Admins {
		s += ", admins for anyone"
	} else {
		s += ", admins only as managers (admins: false)"
	}
	if len(p.Groups) > 0 {
		s += ", and groups for their applications only"
	}
	return s
}

// thirdPerson turns ForWhom's reason, said to the requester, into one about
// them.
func thirdPerson(why, requester string) string {
	r := strings.NewReplacer("you are ", requester+" is ", "your ", requester+"'s ")
	return r.Replace(why)
}
