package requests_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/requests"
)

// A purpose holding high-risk access is high-risk where its approval grants
// that access: the start of a session (words, the high-risk maximum,
// step-up), or, for a purpose that starts without approval, its
// assignment. A purpose of ordinary access is unchanged.
func TestPurposeWithHighRiskAccess(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver, requests.Policy{})
		f.chain("default", false, "", level(accessbot.RuleAny, kind(accessbot.ApproverOwners)))
		f.chain("purpose-ok", false, "", level(accessbot.RuleAny, f.named("carol")))
		f.must(f.st.PutRequestPolicy(f.ctx, &accessbot.RequestPolicy{TenantID: f.tenant.ID,
			Risk:   accessbot.Risk{Connections: map[string]accessbot.RiskTier{f.conn["maintainers"].ID: accessbot.RiskHigh}, HighMaxDuration: 4 * time.Hour},
			StepUp: &accessbot.StepUpProvider{Issuer: "https://login.acme.test", ClientID: "accessbot"}}))
		purpose := func(name, conn, start string) *accessbot.Purpose {
			p := &accessbot.Purpose{TenantID: f.tenant.ID, Name: name, MaxSession: 24 * time.Hour, AssignChain: "purpose-ok", StartChain: start,
				Connections: []accessbot.PurposeConnection{{AppID: f.app.ID, ConnectionID: f.conn[conn].ID}}}
			f.must(f.st.UpsertPurpose(f.ctx, p))
			return p
		}
		assign := func(p *accessbot.Purpose) {
			f.must(f.st.AssignPurpose(f.ctx, &accessbot.PurposeAssignment{TenantID: f.tenant.ID, PurposeID: p.ID, UserID: f.u["alice"].ID, AssignedAt: f.clock.Now()}))
		}
		long := "The quarterly release needs maintainer rights to tag and publish the packages tonight."
		fields := func(err error) map[string]string {
			t.Helper()
			var fe *requests.FieldErrors
			if !errors.As(err, &fe) {
				t.Fatalf("err %v, want field errors", err)
			}
			return fe.Fields
		}

		risky := purpose("release", "maintainers", "purpose-ok")
		assign(risky)
		got := fields(mustFail(f.svc.Prepare(f.ctx, requests.PurposeStart{TenantID: f.tenant.ID, RequesterID: f.u["alice"].ID,
			PurposeID: risky.ID, Duration: 8 * time.Hour, Reason: "Release night."})))
		if !strings.Contains(got[requests.FieldDuration], "high-risk access: at most 4 hours") || !strings.Contains(got[requests.FieldJustification], "at least 12 words") {
			t.Fatalf("a high-risk start: %v", got)
		}
		start := f.create(requests.PurposeStart{TenantID: f.tenant.ID, RequesterID: f.u["alice"].ID, PurposeID: risky.ID, Duration: 2 * time.Hour, Reason: long})
		if !start.Levels[0].StepUp {
			t.Fatalf("the start of a high-risk purpose approves without step-up: %+v", start.Levels[0])
		}
		if _, err := f.decide(start, "carol", 0, accessbot.DecisionApprove, ""); !errors.Is(err, requests.ErrStepUpRequired) {
			t.Fatalf("a plain approval of the start: %v", err)
		}

		// More time on a session of it is high-risk too: within the
		// high-risk maximum from now, the words, step-up.
		now := f.clock.Now()
		ses := &accessbot.PurposeSession{ID: "ses-release", TenantID: f.tenant.ID, PurposeID: risky.ID, UserID: f.u["alice"].ID, Reason: long,
			StartedAt: now, EndsAt: now.Add(2 * time.Hour), Status: accessbot.SessionActive}
		f.must(f.st.CreatePurposeSession(f.ctx, ses))
		got = fields(mustFail(f.svc.Prepare(f.ctx, requests.PurposeExtend{TenantID: f.tenant.ID, RequesterID: f.u["alice"].ID,
			SessionID: ses.ID, Duration: 3 * time.Hour, Reason: "Release night."})))
		if !strings.Contains(got[requests.FieldDuration], "high-risk access: it runs for at most 4 hours from now") || !strings.Contains(got[requests.FieldJustification], "at least 12 words") {
			t.Fatalf("a high-risk extension: %v", got)
		}
		ext := f.create(requests.PurposeExtend{TenantID: f.tenant.ID, RequesterID: f.u["alice"].ID, SessionID: ses.ID, Duration: 2 * time.Hour, Reason: long})
		if !ext.Levels[0].StepUp {
			t.Fatalf("the extension of a high-risk purpose approves without step-up: %+v", ext.Levels[0])
		}

		// Starting without approval: the assignment is the approval that counts.
		direct := purpose("release-direct", "maintainers", "")
		got = fields(mustFail(f.svc.Prepare(f.ctx, requests.PurposeAssign{TenantID: f.tenant.ID, RequesterID: f.u["alice"].ID,
			PurposeID: direct.ID, Justification: "Release night, please."})))
		if !strings.Contains(got[requests.FieldJustification], "at least 12 words") {
			t.Fatalf("the assignment of a high-risk purpose that starts without approval: %v", got)
		}
		as := f.create(requests.PurposeAssign{TenantID: f.tenant.ID, RequesterID: f.u["alice"].ID, PurposeID: direct.ID, Justification: long})
		if !as.Levels[0].StepUp {
			t.Fatalf("its assignment approves without step-up: %+v", as.Levels[0])
		}

		// Ordinary access: no step-up, no word count.
		plain := purpose("dev", "developers", "purpose-ok")
		if a := f.create(requests.PurposeAssign{TenantID: f.tenant.ID, RequesterID: f.u["alice"].ID, PurposeID: plain.ID, Justification: "Working on the API."}); a.Levels[0].StepUp {
			t.Fatalf("an ordinary purpose needs step-up: %+v", a.Levels[0])
		}
		assign(plain)
		if s := f.create(requests.PurposeStart{TenantID: f.tenant.ID, RequesterID: f.u["alice"].ID, PurposeID: plain.ID, Duration: 8 * time.Hour, Reason: "Working on the API."}); s.Levels[0].StepUp {
			t.Fatalf("an ordinary start needs step-up: %+v", s.Levels[0])
		}
	})
}
