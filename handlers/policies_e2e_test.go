package handlers_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/handlers/views"
	"github.com/accessbot/accessbot/store/storetest"
)

// chainFor gives GitLab's connection conn its own one-level chain.
func (e *rqEnv) chainFor(conn string, lvl accessbot.ApprovalLevel) {
	e.t.Helper()
	rqMust(e.t, e.st.UpsertApprovalChain(e.ctx, &accessbot.ApprovalChain{TenantID: e.tenant.ID, Name: "gitlab-" + conn,
		AppID: e.gitlab.ID, ConnectionID: e.conns[conn].ID, Levels: []accessbot.ApprovalLevel{lvl}}))
}

func (e *rqEnv) approversOf(names ...string) []accessbot.Approver {
	out := make([]accessbot.Approver, len(names))
	for i, n := range names {
		out[i] = accessbot.Approver{Kind: accessbot.ApproverUser, UserID: e.users[n].ID}
	}
	return out
}

// 2 of 3: the first approval shows on every copy as "1 of 2 approvals so
// far", then the two others click at once: exactly one more approval
// counts, the level closes at two, and the loser is told who won.
func TestE2EQuorumTwoOfThreeRacingClicks(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			e := startRequests(t, driver, requests.Policy{})
			e.chainFor("Developers", accessbot.ApprovalLevel{Rule: accessbot.RuleQuorum, Quorum: 2,
				Approvers: e.approversOf("owen", "olga", "dave")})
			r := e.createAccess("rita", "Developers")
			dave := e.approvalDM(slackID("dave"), r.ID)
			owen := e.approvalDM(slackID("owen"), r.ID)
			olga := e.approvalDM(slackID("olga"), r.ID)

			e.click(slackID("dave"), dave, views.ActionApprove, r.ID)
			for _, m := range []slackfake.Message{dave, owen, olga} {
				e.waitUpdated(m, "1 of 2 approvals so far, by Dave")
			}
			if got := e.request(r.ID); got.Status != accessbot.StatusPending {
				t.Fatalf("one of two approvals finished the request: %s", got.Status)
			}

			var wg sync.WaitGroup
			for _, c := range []struct {
				user string
				m    slackfake.Message
			}{{slackID("owen"), owen}, {slackID("olga"), olga}} {
				wg.Go(func() { e.click(c.user, c.m, views.ActionApprove, r.ID) })
			}
			wg.Wait()
			if err := e.fake.WaitFor(e.ctx, func() bool { return e.request(r.ID).Status == accessbot.StatusApproved }); err != nil {
				t.Fatal(err)
			}
			err := e.fake.WaitFor(e.ctx, func() bool {
				for _, m := range e.fake.AllMessages() {
					if m.Source == "response_url" && strings.Contains(m.Text, "already approved by") {
						return true
					}
				}
				return false
			})
			if err != nil {
				t.Fatalf("the losing approver was not told: %v", err)
			}
			ds := e.decisions(r.ID)
			if len(ds) != 2 {
				t.Fatalf("%d decisions, want exactly 2: %+v", len(ds), ds)
			}
			if n := e.auditCount(r.ID, requests.ActionApproved); n != 2 {
				t.Fatalf("%d approval audit entries, want 2", n)
			}
			for _, m := range []slackfake.Message{dave, owen, olga} {
				e.waitUpdated(m, "Approved by")
			}
		})
	}
}

// channelCard waits for the approval card of request id in channel ch.
func (e *rqEnv) channelCard(ch, id string) slackfake.Message {
	e.t.Helper()
	m, err := e.fake.WaitForMessage(e.ctx, ch, func(m slackfake.Message) bool {
		return m.ThreadTS == "" && !m.Ephemeral && strings.Contains(string(m.Blocks), id) && strings.Contains(string(m.Blocks), views.BlockApprovalActions)
	})
	if err != nil {
		e.t.Fatalf("no approval card for %s in %s", id, ch)
	}
	return m
}

// The approvers' channel: the card is posted there beside the DMs; a
// member who is no approver is refused in an ephemeral, an approver decides
// in place, and the channel card and every DM copy converge. A quorum
// asked in a channel counts on the card too.
func TestE2EApproversChannelDecision(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			e := startRequests(t, driver, requests.Policy{})
			const ch = "CAPPROVERS"
			e.chainFor("Developers", accessbot.ApprovalLevel{Rule: accessbot.RuleAny, Channel: ch,
				Approvers: e.approversOf("owen", "olga")})
			r := e.createAccess("rita", "Developers")
			card := e.channelCard(ch, r.ID)
			owen := e.approvalDM(slackID("owen"), r.ID)
			olga := e.approvalDM(slackID("olga"), r.ID)

			// Dave sees the card in the channel but is no approver of the level.
			e.click(slackID("dave"), card, views.ActionApprove, r.ID)
			e.ephemeral(slackID("dave"), "You are not an approver")
			e.click(slackID("dave"), card, views.ActionDeny, r.ID)
			if vs := e.fake.OpenViews(slackID("dave")); len(vs) != 0 {
				t.Fatalf("a deny modal opened for a non-approver: %+v", vs)
			}
			// Rita, the requester, may be in the channel too: refused.
			e.click(slackID("rita"), card, views.ActionApprove, r.ID)
			e.ephemeral(slackID("rita"), "your own request")
			if ds := e.decisions(r.ID); len(ds) != 0 {
				t.Fatalf("a non-approver's click counted: %+v", ds)
			}

			e.click(slackID("olga"), card, views.ActionApprove, r.ID)
			for _, m := range []slackfake.Message{card, owen, olga} {
				e.waitUpdated(m, "Approved by Olga")
			}
			if got := e.request(r.ID); got.Status != accessbot.StatusApproved {
				t.Fatalf("status %s, want approved", got.Status)
			}
			if ds := e.decisions(r.ID); len(ds) != 1 || ds[0].ApproverID != e.users["olga"].ID {
				t.Fatalf("decisions %+v", ds)
			}

			// 2 of 3 in the channel: the card counts the first approval, a
			// DM copy gives the second, and the card closes with it.
			e.chainFor("Maintainers", accessbot.ApprovalLevel{Rule: accessbot.RuleQuorum, Quorum: 2, Channel: ch,
				Approvers: e.approversOf("owen", "olga", "mona")})
			r2 := e.createAccess("rita", "Maintainers")
			card2 := e.channelCard(ch, r2.ID)
			owen2 := e.approvalDM(slackID("owen"), r2.ID)
			e.click(slackID("mona"), card2, views.ActionApprove, r2.ID)
			for _, m := range []slackfake.Message{card2, owen2} {
				e.waitUpdated(m, "1 of 2 approvals so far, by Mona")
			}
			e.click(slackID("owen"), owen2, views.ActionApprove, r2.ID)
			if err := e.fake.WaitFor(e.ctx, func() bool { return e.request(r2.ID).Status == accessbot.StatusApproved }); err != nil {
				t.Fatalf("quorum in the channel: %s", e.request(r2.ID).Status)
			}
			e.waitUpdated(card2, "Approved by")
			if ds := e.decisions(r2.ID); len(ds) != 2 {
				t.Fatalf("decisions %+v, want 2", ds)
			}
		})
	}
}

// direct_messages: false asks in the channel only, and reminds there too.
func TestE2EApproversChannelOnly(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			e := startRequests(t, driver, requests.Policy{ReminderAfter: time.Hour})
			const ch = "CAPPROVERS"
			e.chainFor("Developers", accessbot.ApprovalLevel{Rule: accessbot.RuleAny, Channel: ch, ChannelOnly: true,
				Approvers: e.approversOf("owen", "olga")})
			r := e.createAccess("rita", "Developers")
			card := e.channelCard(ch, r.ID)
			e.clock.Set(rqT0.Add(2 * time.Hour))
			if _, err := e.svc.Tick(e.ctx, e.clock.Now()); err != nil {
				t.Fatal(err)
			}
			e.thread(card, "Reminder:")
			e.click(slackID("owen"), card, views.ActionApprove, r.ID)
			e.waitUpdated(card, "Approved by Owen")
			for _, u := range []string{"owen", "olga"} {
				for _, m := range e.fake.Messages(slackfake.DMChannel(slackID(u))) {
					// The owners' "please grant" DM is not an approval request.
					if strings.Contains(string(m.Blocks), r.ID) && strings.Contains(string(m.Blocks), views.ActionApprove) {
						t.Fatalf("%s got an approval DM although the level asks in the channel only: %q", u, m.Text)
					}
				}
			}
		})
	}
}

// An approvers' channel accessbot can no longer post in (removed from it
// after apply checked it) does not leave a channel-only level asking
// nobody: its approvers are asked by DM, and one of them decides there.
func TestE2EApproversChannelLostAsksByDM(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			e := startRequests(t, driver, requests.Policy{})
			const ch = "CGONE0001"
			e.fake.AddChannel(slackfake.Channel{ID: ch, TeamID: e.team.ID, Name: "security-approvers", Private: true}) // the bot is not in it
			e.chainFor("Developers", accessbot.ApprovalLevel{Rule: accessbot.RuleAny, Channel: ch, ChannelOnly: true,
				Approvers: e.approversOf("owen", "olga")})
			r := e.createAccess("rita", "Developers")
			owen := e.approvalDM(slackID("owen"), r.ID)
			e.approvalDM(slackID("olga"), r.ID)
			if ms := e.fake.Messages(ch); len(ms) != 0 {
				t.Fatalf("a card was posted in a channel the bot is not in: %+v", ms)
			}
			e.click(slackID("owen"), owen, views.ActionApprove, r.ID)
			if err := e.fake.WaitFor(e.ctx, func() bool { return e.request(r.ID).Status == accessbot.StatusApproved }); err != nil {
				t.Fatalf("status %s, want approved", e.request(r.ID).Status)
			}
			e.waitUpdated(owen, "Approved by Owen")
		})
	}
}
