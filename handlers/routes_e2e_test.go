package handlers_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/handlers/views"
	"github.com/accessbot/accessbot/store/storetest"
)

// routeChannel routes channel ch to a channels-only chain "data-team"
// (Dave approves) with Entra ID as the channel's application.
func (e *rqEnv) routeChannel(ch string) *accessbot.ApprovalChain {
	e.t.Helper()
	c := &accessbot.ApprovalChain{TenantID: e.tenant.ID, Name: "data-team",
		Levels: []accessbot.ApprovalLevel{{Rule: accessbot.RuleAny, Approvers: e.approversOf("dave")}}}
	rqMust(e.t, e.st.UpsertApprovalChain(e.ctx, c))
	rqMust(e.t, e.st.PutRequestPolicy(e.ctx, &accessbot.RequestPolicy{TenantID: e.tenant.ID,
		Channels:      []accessbot.ChannelRoute{{ChannelID: ch, ChainID: c.ID, AppIDs: []string{e.entra.ID}}},
		ChannelChains: []string{c.ID}}))
	return c
}

// slashIn types "/access <text>" in channel ch.
func (e *rqEnv) slashIn(user, ch, text string) {
	e.t.Helper()
	p := e.fake.SlashCommand(e.team.ID, user, text)
	p.ChannelID, p.ChannelName = ch, "data-team"
	e.ack(e.fake.SendSlashCommand(p), nil)
}

// /access request typed in a routed channel preselects the channel's
// application and routes it to the channel's chain; an application with a
// chain of its own keeps it; the same request from a DM goes to the tenant
// default; and the channels-only chain is never the default.
func TestE2ERequestRoutedByChannel(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			e := startRequests(t, driver, requests.Policy{})
			const ch = "C0DATA"
			e.routeChannel(ch)
			rita := slackID("rita")

			e.slashIn(rita, ch, "request")
			form := e.topView(rita, views.CallbackRequestForm, "Readers (group)", views.BlockReqChannel, "Entra ID")
			if !strings.Contains(string(form.JSON), `"private_metadata":"`+ch+`"`) {
				t.Fatalf("the form does not carry its channel: %s", form.JSON)
			}
			if got := e.suggest(rita, form.ID, views.BlockReqApp, views.ActionReqApp, ""); len(got) != 2 || got[0] != e.entra.ID {
				t.Fatalf("suggestions in the channel = %v, want Entra ID first", got)
			}
			ent, err := e.fake.Choose(form.ID, views.BlockReqEntitlement, views.ActionReqEntitlement, e.conns["Readers"].ID)
			rqMust(t, err)
			dur, err := e.fake.Choose(form.ID, views.BlockReqDuration, views.ActionReqDuration, views.DurationValue(8*time.Hour))
			rqMust(t, err)
			values := map[string]map[string]slackfake.StateValue{
				views.BlockReqApp:           {views.ActionReqApp: slackfake.ExternalSelectValue(e.entra.ID, "Entra ID")},
				views.BlockReqEntitlement:   {views.ActionReqEntitlement: ent},
				views.BlockReqDuration:      {views.ActionReqDuration: dur},
				views.BlockReqJustification: {views.ActionReqJustification: slackfake.PlainTextValue("Quarterly data pull for finance.")},
			}
			ra := e.submit(rita, values)
			if ra.ResponseAction != "update" || ra.View.CallbackID != views.CallbackRequestPreview {
				t.Fatalf("form submit: %+v", ra)
			}
			for _, want := range []string{"data-team", "the chain of channel " + ch, "Dave"} {
				if !strings.Contains(string(ra.View.Blocks), want) {
					t.Fatalf("preview lacks %q: %s", want, ra.View.Blocks)
				}
			}
			if ra := e.submit(rita, nil); ra.View.CallbackID != views.CallbackRequestDone {
				t.Fatalf("preview submit: %+v", ra)
			}
			r := e.onlyRequest("rita")
			if len(r.Levels) != 1 || !slices.Equal(requests.LevelApprovers(r, 0), []string{e.users["dave"].ID}) {
				t.Fatalf("routed request levels %+v, want Dave alone", r.Levels)
			}
			e.approvalDM(slackID("dave"), r.ID)

			// GitLab has its own chain: the channel does not change it.
			e.fake.CloseViews(rita)
			e.slashIn(rita, ch, "request")
			form = e.topView(rita, views.CallbackRequestForm, "Readers (group)")
			e.fake.SendInteractive(e.fake.BlockActionInView(e.team.ID, rita, form.ID, slackfake.Action{ActionID: views.ActionReqApp,
				BlockID: views.BlockReqApp, Type: "external_select", Value: e.gitlab.ID, Text: "GitLab"}))
			form = e.topView(rita, views.CallbackRequestForm, "Maintainers (group)", views.BlockReqChannel)
			ra = e.submit(rita, e.requestValues(form, views.DurationValue(8*time.Hour), nil))
			if ra.View.CallbackID != views.CallbackRequestPreview || !strings.Contains(string(ra.View.Blocks), "the application's own chain") ||
				!strings.Contains(string(ra.View.Blocks), "Mona") || strings.Contains(string(ra.View.Blocks), "data-team") {
				t.Fatalf("GitLab in the routed channel: %+v %s", ra, ra.View.Blocks)
			}

			// From a DM, or with a channel that has no route, Entra ID goes to the
			// tenant default (Ada), not the channels-only chain.
			for _, channel := range []string{"", "C0OTHER"} {
				d, err := e.svc.Prepare(e.ctx, requests.UserAccess{TenantID: e.tenant.ID, RequesterID: e.users["mona"].ID,
					AppID: e.entra.ID, ConnectionID: e.conns["Readers"].ID, Duration: time.Hour, Justification: "Reading the lake.", Channel: channel})
				rqMust(t, err)
				if d.Chain.Name != "default" || !slices.Equal(requests.LevelApprovers(&d.Request, 0), []string{e.users["ada"].ID}) {
					t.Fatalf("channel %q: chain %s (%s), want the tenant default", channel, d.Chain.Name, d.ChainWhy)
				}
			}
		})
	}
}
