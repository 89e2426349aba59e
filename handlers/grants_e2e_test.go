package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/handlers/views"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/storetest"
)

// recDeprovisioner records Deprovision calls; one flow per entitlement, as
// the contract says.
type recDeprovisioner struct {
	mu    sync.Mutex
	calls []string
}

func (d *recDeprovisioner) Deprovision(_ context.Context, _, entitlementID, _, _ string) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = append(d.calls, entitlementID)
	return "flow:" + entitlementID, nil
}

// DeprovisionTx records the call as Deprovision does (the transaction is the caller's).
func (d *recDeprovisioner) DeprovisionTx(ctx context.Context, _ store.Queries, tenantID, entitlementID, actorID, reason string) (string, error) {
	return d.Deprovision(ctx, tenantID, entitlementID, actorID, reason)
}

func (d *recDeprovisioner) of(id string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, c := range d.calls {
		if c == id {
			n++
		}
	}
	return n
}

// grant records that user holds conn from at for d (0: permanent), as the
// engine does when the provisioning flow finishes.
func (e *rqEnv) grant(user, conn string, at time.Time, d time.Duration) *accessbot.Entitlement {
	e.t.Helper()
	g := &accessbot.Entitlement{TenantID: e.tenant.ID, UserID: e.users[user].ID, ConnectionID: e.conns[conn].ID, GrantedAt: at,
		ExpiresAt: accessbot.GrantEnd(&accessbot.AccessRequest{Duration: d}, at)}
	rqMust(e.t, e.st.CreateEntitlement(e.ctx, g))
	return g
}

func (e *rqEnv) tick(at time.Time) {
	e.t.Helper()
	e.clock.Set(at)
	rqMust(e.t, e.grants.Tick(e.ctx, at))
}

// clickGrant presses a button of an expiry notice.
func (e *rqEnv) clickGrant(user string, m slackfake.Message, value string) string {
	return e.fake.SendInteractive(e.fake.BlockActionOnMessage(e.team.ID, user, m.Channel, m.TS,
		slackfake.Action{ActionID: views.ActionGrantExtend, BlockID: views.BlockGrantActions, Value: value}))
}

// extendOptions are the choices of the extension modal (option values, minutes).
func extendOptions(t *testing.T, v slackfake.View) []string {
	t.Helper()
	var m struct {
		Blocks []struct {
			BlockID string `json:"block_id"`
			Element struct {
				Options []struct {
					Value string `json:"value"`
				} `json:"options"`
			} `json:"element"`
		} `json:"blocks"`
	}
	rqMust(t, json.Unmarshal(v.JSON, &m))
	var out []string
	for _, b := range m.Blocks {
		if b.BlockID == views.BlockGrantExtendFor {
			for _, o := range b.Element.Options {
				out = append(out, o.Value)
			}
		}
	}
	return out
}

func extendValues(minutes, why string) map[string]map[string]slackfake.StateValue {
	return map[string]map[string]slackfake.StateValue{
		views.BlockGrantExtendFor: {views.ActionGrantExtendFor: selectValue(minutes)},
		views.BlockGrantExtendWhy: {views.ActionGrantExtendWhy: slackfake.PlainTextValue(why)},
	}
}

// TestE2EGrantNoticeExtendAndExpiry: rita holds Maintainers for 8 hours.
// An hour before the end she gets one notice (no day notice: the grant is
// shorter than a day), presses Extend, sees only choices within GitLab's 7
// days, asks for 8 more hours through the same two approvers, and the
// approval moves the end without asking the owners to grant anything.
// `/access mine` and the Home tab show the new end. The bot is then down across the end;
// back up, the deprovisioning starts once.
func TestE2EGrantNoticeExtendAndExpiry(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			e := startRequests(t, driver, requests.Policy{})
			rita := slackID("rita")
			g := e.grant("rita", "Maintainers", rqT0, 8*time.Hour)
			end := rqT0.Add(8 * time.Hour)

			e.tick(rqT0.Add(time.Hour))
			e.tick(rqT0.Add(7 * time.Hour))
			e.tick(rqT0.Add(7*time.Hour + time.Minute))
			notice := e.dm(rita, "ends in 1 hour")
			if n := len(dmsContaining(e, rita, "Your access to GitLab")); n != 1 {
				t.Fatalf("%d expiry notices, want 1", n)
			}
			if !strings.Contains(string(notice.Blocks), fmt.Sprintf("date^%d^", end.Unix())) {
				t.Fatalf("notice does not show the end: %s", notice.Blocks)
			}

			e.clickGrant(rita, notice, g.ID)
			modal := e.topView(rita, views.CallbackGrantExtend, "Maintainers", "at most 7 days")
			if got := strings.Join(extendOptions(t, modal), ","); got != "60,480,1440" {
				t.Fatalf("extend choices %s (minutes), want 1h, 8h, 1d: 7 days would pass the cap", got)
			}
			// A crafted submission beyond the cap is refused inline.
			if ra := e.submit(rita, extendValues("10080", "Release slipped a week.")); ra.ResponseAction != "errors" || !strings.Contains(ra.Errors[views.BlockGrantExtendFor], "at most 7 days") {
				t.Fatalf("extension beyond the cap: %+v, want an inline error", ra)
			}
			if ra := e.submit(rita, extendValues("480", "Release 4.2 slipped a day.")); ra.ResponseAction == "errors" {
				t.Fatalf("extension refused: %+v", ra)
			}
			r := e.onlyRequest("rita")
			if p, ok := requests.ExtensionOf(r); !ok || p.Extends != g.ID || r.Duration != 8*time.Hour {
				t.Fatalf("extension request %+v", r)
			}
			e.click(slackID("mona"), e.approvalDM(slackID("mona"), r.ID), views.ActionApprove, r.ID)
			e.click(slackID("owen"), e.approvalDM(slackID("owen"), r.ID), views.ActionApprove, r.ID)
			newEnd := end.Add(8 * time.Hour)
			err := e.fake.WaitFor(e.ctx, func() bool {
				cur, err := e.st.GetEntitlement(e.ctx, e.tenant.ID, g.ID)
				return err == nil && cur.ExpiresAt != nil && cur.ExpiresAt.Equal(newEnd)
			})
			if err != nil {
				t.Fatalf("the approved extension did not move the end to %s", newEnd)
			}
			e.noDM(slackID("owen"), "Please grant")
			e.noDM(slackID("olga"), "Please grant")

			var ack struct {
				Text   string `json:"text"`
				Blocks []any  `json:"blocks"`
			}
			e.ack(e.fake.SendSlashCommand(e.fake.SlashCommand(e.team.ID, rita, "mine")), &ack)
			blocks, _ := json.Marshal(ack.Blocks)
			if !strings.Contains(string(blocks), "My access (1)") || !strings.Contains(string(blocks), fmt.Sprintf("date^%d^", newEnd.Unix())) {
				t.Fatalf("/access mine does not show the grant with its new end: %s", blocks)
			}
			// So does her Home tab.
			e.fake.SendEvent(e.fake.AppHomeOpened(e.team.ID, rita))
			if err := e.fake.WaitFor(e.ctx, func() bool {
				v, ok := e.fake.HomeView(rita)
				return ok && strings.Contains(string(v.JSON), "My access (1)") && strings.Contains(string(v.JSON), fmt.Sprintf("date^%d^", newEnd.Unix()))
			}); err != nil {
				v, _ := e.fake.HomeView(rita)
				t.Fatalf("the Home tab does not show the grant with its new end: %s", v.JSON)
			}

			// Down from just before the old end to past the new one.
			e.tick(end.Add(-time.Minute))
			if n := e.dep.of(g.ID); n != 0 {
				t.Fatalf("deprovisioned before the end: %d", n)
			}
			e.tick(newEnd.Add(3 * time.Hour))
			e.tick(newEnd.Add(3*time.Hour + time.Minute))
			if n := e.dep.of(g.ID); n != 1 {
				t.Fatalf("deprovisioned %d times after the outage, want 1", n)
			}
			cur, err := e.st.GetEntitlement(e.ctx, e.tenant.ID, g.ID)
			rqMust(t, err)
			if cur.EndingFlowID != "flow:"+g.ID {
				t.Fatalf("grant after expiry %+v", cur)
			}
			// Extend on the old notice now says it is being removed.
			e.clickGrant(rita, notice, g.ID)
			e.ephemeral(rita, "already being removed")
		})
	}
}

// TestE2EExtendRefusedAtCap: a grant already running GitLab's full 7 days
// offers no Extend choices: the click is answered with why, and no modal opens.
// Someone else's click is refused too.
func TestE2EExtendRefusedAtCap(t *testing.T) {
	e := startRequests(t, "sqlite", requests.Policy{})
	rita := slackID("rita")
	g := e.grant("rita", "Developers", rqT0, 7*24*time.Hour)
	e.tick(rqT0.Add(6*24*time.Hour + time.Hour)) // the day notice
	notice := e.dm(rita, "ends in 1 day")
	e.clickGrant(slackID("dave"), notice, g.ID)
	e.ephemeral(slackID("dave"), "Only the person who holds this access can extend it")
	// Stretch the end to the cap from now (as a previous extension would).
	e.clock.Set(rqT0.Add(6*24*time.Hour + time.Hour))
	rqMust(t, e.st.ExtendEntitlement(e.ctx, e.tenant.ID, g.ID, rqT0.Add(7*24*time.Hour), e.clock.Now().Add(7*24*time.Hour)))
	e.clickGrant(rita, notice, g.ID)
	e.ephemeral(rita, "cannot be extended now")
	if vs := e.fake.OpenViews(rita); len(vs) != 0 {
		t.Fatalf("a modal opened at the cap: %+v", vs)
	}
}

func dmsContaining(e *rqEnv, user, text string) []slackfake.Message {
	var out []slackfake.Message
	for _, m := range e.fake.Messages(slackfake.DMChannel(user)) {
		if strings.Contains(m.Text, text) {
			out = append(out, m)
		}
	}
	return out
}
