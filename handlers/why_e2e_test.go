package handlers_test

import (
	"strings"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/handlers/views"
	"github.com/accessbot/accessbot/store/storetest"
)

// "Why these approvers?" (issue 16 item 8): what `accessbot explain request`
// prints for the stored request, for an admin from the audit message (an
// ephemeral answer) and from Details (a modal pushed on top), for an
// approver from their DM copy of the approval card, and for the requester
// from their request card. An unrelated member's click is refused, and so
// is an admin's once they are no longer one and not otherwise involved (the
// server checks the store, not the click).
func TestE2EWhyTheseApprovers(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) { testWhyTheseApprovers(t, driver) })
	}
}

func testWhyTheseApprovers(t *testing.T, driver string) {
	e := startRequests(t, driver, requests.Policy{})
	r := e.createAccess("rita", "Maintainers")
	mona := e.approvalDM(slackID("mona"), r.ID)
	ada := slackID("ada")
	explained := []string{
		"chain: gitlab: the application's own chain",
		"level 1: any one of 1",
		"manager: Mona ", "(manager of Rita) → asked",
		"owners: Owen ", "(primary owner of GitLab) → asked",
		"owners: Olga ", "(secondary owner of GitLab) → asked",
		"asked when it was made:", "level 2: Owen ",
	}

	// From the audit: an ephemeral answer.
	e.ack(e.fake.SendSlashCommand(e.fake.SlashCommand(e.team.ID, ada, "audit "+r.ID)), nil)
	audit := e.ackMessage(ada, "Audit of request "+r.ID)
	if !strings.Contains(string(audit.Blocks), views.ActionWhyApprovers) {
		t.Fatalf("the audit has no Why these approvers? button: %s", audit.Blocks)
	}
	e.fake.SendInteractive(e.fake.BlockActionOnMessage(e.team.ID, ada, audit.Channel, audit.TS,
		slackfake.Action{ActionID: views.ActionWhyApprovers, BlockID: views.BlockCardWhy, Value: r.ID}))
	for _, w := range explained {
		e.ephemeral(ada, w)
	}
	if strings.Contains(e.whyAnswers(ada), "note: the channel") {
		t.Fatalf("a request with its application's own chain got the channel note: %s", e.whyAnswers(ada))
	}

	// From Details: a modal pushed over it.
	e.fake.SendInteractive(e.fake.BlockAction(e.team.ID, ada, slackfake.Action{ActionID: views.ActionDetails, Value: r.ID}))
	details := e.topView(ada, views.CallbackRequestDetails, views.ActionWhyApprovers)
	e.fake.SendInteractive(e.fake.BlockActionInView(e.team.ID, ada, details.ID,
		slackfake.Action{ActionID: views.ActionWhyApprovers, BlockID: views.BlockCardWhy, Value: r.ID}))
	e.topView(ada, views.CallbackRequestWhy, explained...)

	// Mona, an approver but no admin: her DM copy of the approval card and
	// her Details carry the button, and her click on the DM copy explains.
	if !strings.Contains(string(mona.Blocks), views.ActionWhyApprovers) {
		t.Fatalf("the approver's DM copy has no Why these approvers? button: %s", mona.Blocks)
	}
	e.whyClick(slackID("mona"), mona, r.ID)
	for _, w := range explained {
		e.ephemeral(slackID("mona"), w)
	}
	e.click(slackID("mona"), mona, views.ActionDetails, r.ID)
	e.topView(slackID("mona"), views.CallbackRequestDetails, views.ActionWhyApprovers)

	// Rita, the requester: the button is on her request card too.
	mine := e.dm(slackID("rita"), "Your request for")
	if !strings.Contains(string(mine.Blocks), views.ActionWhyApprovers) {
		t.Fatalf("the requester's card has no Why these approvers? button: %s", mine.Blocks)
	}
	e.whyClick(slackID("rita"), mine, r.ID)
	for _, w := range explained {
		e.ephemeral(slackID("rita"), w)
	}

	// Dave, neither admin, requester nor approver: a forged click is
	// refused and nothing is explained.
	e.fake.SendInteractive(e.fake.BlockAction(e.team.ID, slackID("dave"),
		slackfake.Action{ActionID: views.ActionWhyApprovers, BlockID: views.BlockCardWhy, Value: r.ID}))
	e.ephemeral(slackID("dave"), "only the requester, the person it is for, its approvers and accessbot admins")
	if got := e.whyAnswers(slackID("dave")); got != "" {
		t.Fatalf("an unrelated member was told: %s", got)
	}

	// With a channel routed: a request made there is explained with its
	// channel's chain, one made in a DM with the tenant default, and only a
	// request stored before accessbot kept the channel gets the note that
	// no route was applied.
	e.routeChannel("C0DATA")
	why := func(id string, want ...string) {
		t.Helper()
		e.fake.SendInteractive(e.fake.BlockActionOnMessage(e.team.ID, ada, audit.Channel, audit.TS,
			slackfake.Action{ActionID: views.ActionWhyApprovers, BlockID: views.BlockCardWhy, Value: id}))
		for _, w := range append([]string{"Request " + id}, want...) {
			e.ephemeral(ada, w)
		}
	}
	made := func(conn, channel string) *accessbot.AccessRequest {
		r, err := e.svc.Create(e.ctx, requests.UserAccess{TenantID: e.tenant.ID, RequesterID: e.users["rita"].ID,
			AppID: e.entra.ID, ConnectionID: e.conns[conn].ID, Duration: 8 * time.Hour, Justification: "Reads the lake for a report.", Channel: channel})
		rqMust(t, err)
		return r
	}
	inChannel := made("Readers", "C0DATA")
	why(inChannel.ID, "made in channel C0DATA", "chain: data-team: the chain of channel C0DATA", "(named in the chain) → asked")
	inDM := made("Admins", "")
	why(inDM.ID, "chain: default: the tenant default")
	legacy := *inDM
	legacy.ID, legacy.OpenKey, legacy.ChannelUnknown = "legacy-"+inDM.ID, "", true
	rqMust(t, e.st.CreateRequest(e.ctx, &legacy))
	why(legacy.ID, "chain: default: the tenant default", "made before accessbot kept the channel", "made in C0DATA")
	for _, id := range []string{inChannel.ID, inDM.ID} {
		if got := whyAbout(e.whyAnswers(ada), id); strings.Contains(got, "note:") {
			t.Fatalf("request %s, whose channel is known, got the note: %s", id, got)
		}
	}

	// Ada demoted: her click is refused, whatever her Slack session thinks.
	u := *e.users["ada"]
	u.Role = accessbot.RoleMember
	rqMust(t, e.st.UpdateUser(e.ctx, &u))
	before := strings.Count(e.whyAnswers(ada), "Why these approvers?")
	e.fake.SendInteractive(e.fake.BlockActionOnMessage(e.team.ID, ada, audit.Channel, audit.TS,
		slackfake.Action{ActionID: views.ActionWhyApprovers, BlockID: views.BlockCardWhy, Value: r.ID}))
	e.ephemeral(ada, "only the requester, the person it is for, its approvers and accessbot admins")
	if after := strings.Count(e.whyAnswers(ada), "Why these approvers?"); after != before {
		t.Fatalf("a demoted admin got an explanation (%d answers, had %d)", after, before)
	}
}

// whyClick clicks "Why these approvers?" of request id on message m.
func (e *rqEnv) whyClick(user string, m slackfake.Message, id string) {
	e.fake.SendInteractive(e.fake.BlockActionOnMessage(e.team.ID, user, m.Channel, m.TS,
		slackfake.Action{ActionID: views.ActionWhyApprovers, BlockID: views.BlockCardWhy, Value: id}))
}

// The approvers' channel card carries the button like every DM copy: a
// channel member who is no approver is refused in an ephemeral, an
// approver and an admin get the explanation only they see, the card is
// left as it was, and after the decision the converged copies keep the
// button.
func TestE2EWhyTheseApproversOnChannelCard(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			e := startRequests(t, driver, requests.Policy{})
			const ch = "CAPPROVERS"
			e.chainFor("Developers", accessbot.ApprovalLevel{Rule: accessbot.RuleAny, Channel: ch,
				Approvers: e.approversOf("owen", "olga")})
			r := e.createAccess("rita", "Developers")
			card := e.channelCard(ch, r.ID)
			owen := e.approvalDM(slackID("owen"), r.ID)
			explained := []string{"Request " + r.ID, "Owen ", "Olga ", "(named in the chain) → asked", "asked when it was made:"}

			e.whyClick(slackID("dave"), card, r.ID)
			e.ephemeral(slackID("dave"), "only the requester, the person it is for, its approvers and accessbot admins")
			for _, who := range []string{"olga", "ada"} {
				e.whyClick(slackID(who), card, r.ID)
				for _, w := range explained {
					e.ephemeral(slackID(who), w)
				}
			}
			if got := e.whyAnswers(slackID("dave")); got != "" {
				t.Fatalf("a channel member who is no approver was told: %s", got)
			}
			for _, m := range e.fake.Messages(ch) {
				if strings.HasPrefix(m.Text, "Why these approvers?") && (!m.Ephemeral || m.Recipient == "") {
					t.Fatalf("an explanation was posted for the whole channel: %+v", m)
				}
			}
			if cur, _ := e.fake.Message(card.Channel, card.TS); cur.Edits != 0 || cur.Text != card.Text {
				t.Fatalf("a Why click changed the card: %q (%d edits)", cur.Text, cur.Edits)
			}

			e.click(slackID("olga"), card, views.ActionApprove, r.ID)
			for _, m := range []slackfake.Message{card, owen} {
				if got := e.waitUpdated(m, "Approved by Olga"); !strings.Contains(string(got.Blocks), views.ActionWhyApprovers) {
					t.Fatalf("the decided copy lost its Why these approvers? button: %s", got.Blocks)
				}
			}
			before := strings.Count(e.whyAnswers(slackID("owen")), "Why these approvers?")
			e.whyClick(slackID("owen"), owen, r.ID)
			if err := e.fake.WaitFor(e.ctx, func() bool {
				return strings.Count(e.whyAnswers(slackID("owen")), "Why these approvers?") > before
			}); err != nil {
				t.Fatalf("an approver of a decided request got no explanation: %v", err)
			}
		})
	}
}

// whyAnswers joins the texts of the explanations user was sent.
func (e *rqEnv) whyAnswers(user string) string {
	var out []string
	for _, m := range e.fake.AllMessages() {
		if (m.Recipient == user || m.Source == "response_url" && m.Channel == slackfake.DMChannel(user)) && strings.HasPrefix(m.Text, "Why these approvers?") {
			out = append(out, m.Text)
		}
	}
	return strings.Join(out, "\n")
}

// whyAbout is the explanation of request id among answers.
func whyAbout(answers, id string) string {
	for _, a := range strings.Split(answers, "Why these approvers?") {
		if strings.Contains(a, "request "+id+",") || strings.Contains(a, "Request "+id) {
			return a
		}
	}
	return ""
}
