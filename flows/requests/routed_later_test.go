package requests_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/requests"
)

// routeChannel stores a channels-only chain "data-team" (carol approves)
// routed from channel ch, beside the tenant default (owners).
func (f *fixture) routeChannel(ch string) {
	f.t.Helper()
	f.chain("default", false, "", level(accessbot.RuleAny, kind(accessbot.ApproverOwners)))
	c := &accessbot.ApprovalChain{TenantID: f.tenant.ID, Name: "data-team", Levels: []accessbot.ApprovalLevel{level(accessbot.RuleAny, f.named("carol"))}}
	f.must(f.st.UpsertApprovalChain(f.ctx, c))
	f.must(f.st.PutRequestPolicy(f.ctx, &accessbot.RequestPolicy{TenantID: f.tenant.ID,
		Channels: []accessbot.ChannelRoute{{ChannelID: ch, ChainID: c.ID}}, ChannelChains: []string{c.ID}}))
}

// grantFrom stores the time-bound grant request r gave its target, ending in 2 hours.
func (f *fixture) grantFrom(r *accessbot.AccessRequest) *accessbot.Entitlement {
	f.t.Helper()
	end := f.clock.Now().Add(2 * time.Hour)
	g := &accessbot.Entitlement{TenantID: f.tenant.ID, UserID: r.TargetUserID, ConnectionID: r.ConnectionID, RequestID: r.ID,
		GrantedAt: f.clock.Now(), ExpiresAt: &end}
	f.must(f.st.CreateEntitlement(f.ctx, g))
	return g
}

// A request keeps the channel it was made in: "Why these approvers?"
// explains it with that channel's route, and an extension of the access it
// granted goes through the same channel's chain, not the tenant default.
func TestRequestKeepsItsChannelForLaterSteps(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver, requests.Policy{})
		const ch = "C0DATA"
		f.routeChannel(ch)
		in := f.userAccess()
		in.Channel = ch
		r := f.create(in)
		eq(t, "approvers", fmtLevels(f.levelNames(r)), "[[carol]]")
		stored := f.get(r.ID)
		if stored.Channel != ch || stored.ChannelUnknown {
			t.Fatalf("stored channel %q (unknown %v), want %q", stored.Channel, stored.ChannelUnknown, ch)
		}
		entries, err := f.st.ListAudit(f.ctx, f.tenant.ID, r.ID)
		f.must(err)
		if len(entries) == 0 || entries[0].Action != requests.ActionCreated || !strings.Contains(string(entries[0].After), `"channel":"`+ch+`"`) {
			t.Fatalf("the created entry does not say where it was made: %+v", entries)
		}
		dm := f.userAccess()
		dm.ConnectionID = f.conn["auditor"].ID
		if got := f.get(f.create(dm).ID); got.Channel != "" || got.ChannelUnknown {
			t.Fatalf("a request from a DM stored channel %q (unknown %v)", got.Channel, got.ChannelUnknown)
		}

		ex, err := f.svc.ExplainRequest(f.ctx, f.tenant.ID, f.u["admin1"].ID, r.ID)
		f.must(err)
		var b strings.Builder
		f.must(ex.Write(&b))
		for _, want := range []string{"made in channel " + ch, "chain: data-team: the chain of channel " + ch} {
			if !strings.Contains(b.String(), want) {
				t.Fatalf("explanation lacks %q:\n%s", want, b.String())
			}
		}
		if strings.Contains(b.String(), "note:") {
			t.Fatalf("a request whose channel is known got the note:\n%s", b.String())
		}

		f.approve(r, "carol", 0)
		g := f.grantFrom(r)
		x := f.create(requests.Extension{TenantID: f.tenant.ID, RequesterID: f.u["alice"].ID, EntitlementID: g.ID,
			Duration: time.Hour, Justification: "The migration runs one more hour."})
		eq(t, "extension approvers", fmtLevels(f.levelNames(x)), "[[carol]]")
		if got := f.get(x.ID); got.Channel != ch {
			t.Fatalf("extension channel %q, want %q", got.Channel, ch)
		}
	})
}

// More time on high-risk access is high-risk: the justification needs its
// words, the new end stays within the high-risk maximum from now, and each
// approval needs step-up.
func TestExtensionOfHighRiskAccess(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver, requests.Policy{})
		f.chain("default", false, "", level(accessbot.RuleAny, kind(accessbot.ApproverOwners)))
		r := f.create(f.userAccess())
		f.approve(r, "owner1", 0)
		g := f.grantFrom(r) // ends in 2 hours
		f.must(f.st.PutRequestPolicy(f.ctx, &accessbot.RequestPolicy{TenantID: f.tenant.ID,
			Risk:   accessbot.Risk{Connections: map[string]accessbot.RiskTier{f.conn["developers"].ID: accessbot.RiskHigh}, HighMaxDuration: 4 * time.Hour},
			StepUp: &accessbot.StepUpProvider{Issuer: "https://login.acme.test", ClientID: "accessbot"}}))
		long := "The database migration for the quarterly close needs one more hour of supervision tonight."
		for _, tc := range []struct {
			name, why string
			dur       time.Duration
			field     string
			want      string
		}{
			{"few words", "One more hour, please.", time.Hour, requests.FieldJustification, "at least 12 words"},
			{"past the high-risk maximum", long, 3 * time.Hour, requests.FieldDuration, "This is high-risk access: access for at most 4 hours from now: you can extend by up to 2 hours."},
		} {
			_, err := f.svc.Prepare(f.ctx, requests.Extension{TenantID: f.tenant.ID, RequesterID: f.u["alice"].ID, EntitlementID: g.ID,
				Duration: tc.dur, Justification: tc.why})
			var fe *requests.FieldErrors
			if !errors.As(err, &fe) || !strings.Contains(fe.Fields[tc.field], tc.want) {
				t.Fatalf("%s: err %v, want %s saying %q", tc.name, err, tc.field, tc.want)
			}
		}
		x := f.create(requests.Extension{TenantID: f.tenant.ID, RequesterID: f.u["alice"].ID, EntitlementID: g.ID,
			Duration: 2 * time.Hour, Justification: long})
		if !x.Levels[0].StepUp {
			t.Fatalf("the extension of high-risk access approves without step-up: %+v", x.Levels[0])
		}
		if _, err := f.decide(x, "owner1", 0, accessbot.DecisionApprove, ""); !errors.Is(err, requests.ErrStepUpRequired) {
			t.Fatalf("a plain approval of the extension: %v, want ErrStepUpRequired", err)
		}
		if ds := f.decisions(x.ID); len(ds) != 0 {
			t.Fatalf("decisions recorded: %+v", ds)
		}
	})
}

// Why these approvers? of a request made for someone else says why the
// requester could ask for them, and, when the on_behalf: policy changed
// since, that it would refuse it now (the request is still explained).
func TestExplainRequestOnBehalf(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver, requests.Policy{})
		f.chain("default", false, "", level(accessbot.RuleAny, kind(accessbot.ApproverOwners)))
		in := f.userAccess()
		in.RequesterID, in.TargetUserID = f.u["mgr"].ID, f.u["alice"].ID
		r := f.create(in)
		explain := func() string {
			t.Helper()
			ex, err := f.svc.ExplainRequest(f.ctx, f.tenant.ID, f.u["admin1"].ID, r.ID)
			f.must(err)
			var b strings.Builder
			f.must(ex.Write(&b))
			return b.String()
		}
		if got := explain(); !strings.Contains(got, "on behalf: allowed: mgr is alice's manager") {
			t.Fatalf("explanation:\n%s", got)
		}
		f.must(f.st.PutRequestPolicy(f.ctx, &accessbot.RequestPolicy{TenantID: f.tenant.ID, OnBehalf: accessbot.OnBehalf{Managers: accessbot.ReachNone}}))
		if got := explain(); !strings.Contains(got, "on behalf: the policy would refuse it now: mgr may not request GitLab for alice") ||
			!strings.Contains(got, "chain: default") {
			t.Fatalf("explanation under a stricter policy:\n%s", got)
		}
		_, err := f.svc.Explain(f.ctx, requests.ExplainInput{TenantID: f.tenant.ID, AppID: f.app.ID, RequesterID: f.u["mgr"].ID, TargetID: f.u["alice"].ID})
		if !errors.Is(err, requests.ErrNotOnBehalf) {
			t.Fatalf("explaining a request the policy refuses: %v, want ErrNotOnBehalf", err)
		}
	})
}

// Who may see why a request's approvers were asked: admins, its requester,
// the person it is for and its approvers (they were asked); anyone else,
// and an approver no longer active, is ErrForbidden.
func TestExplainRequestWhoMay(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver, requests.Policy{})
		f.chain("default", false, "", level(accessbot.RuleAny, kind(accessbot.ApproverOwners)))
		in := f.userAccess()
		in.RequesterID, in.TargetUserID = f.u["mgr"].ID, f.u["alice"].ID
		r := f.create(in)
		gone := *f.u["owner2"]
		gone.Status = accessbot.UserTerminated
		f.must(f.st.UpdateUser(f.ctx, &gone))
		for _, c := range []struct {
			who string
			may bool
		}{{"admin1", true}, {"mgr", true}, {"alice", true}, {"owner1", true}, {"carol", false}, {"bob", false}, {"owner2", false}} {
			_, err := f.svc.ExplainRequest(f.ctx, f.tenant.ID, f.u[c.who].ID, r.ID)
			if c.may && err != nil || !c.may && !errors.Is(err, requests.ErrForbidden) {
				t.Errorf("%s: err %v, want may=%v", c.who, err, c.may)
			}
		}
	})
}
