package handlers_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/slackapi"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/handlers"
	"github.com/accessbot/accessbot/handlers/views"
	"github.com/accessbot/accessbot/store/storetest"
)

// tornStore hands out, once armed, an old copy of a request on its next
// read: as if that read ran right before a decision committed and the
// decisions read right after it saw the decision.
type tornStore struct {
	handlers.NotifierStore
	mu    sync.Mutex
	stale *accessbot.AccessRequest
	used  bool
}

func (s *tornStore) GetRequest(ctx context.Context, tenantID, id string) (*accessbot.AccessRequest, error) {
	s.mu.Lock()
	stale := s.stale
	s.stale = nil
	s.used = s.used || stale != nil
	s.mu.Unlock()
	if stale != nil && stale.ID == id {
		c := *stale
		return &c, nil
	}
	return s.NotifierStore.GetRequest(ctx, tenantID, id)
}

// TestNotifierClickCatchUpAfterTornRead: the end of a click on an approval
// copy (OnClicked's catch-up) runs beside a racing approver's decision and
// its jobs. When its read mixed the two (the request still pending, the
// decision already in), it writes a "so far" card with buttons, after the
// decision's job wrote the decided card; it must read again and leave the
// decided card, as sync does (the racing-clicks e2e test saw the "2 of 2
// approvals so far" card stay on a copy under load).
func TestNotifierClickCatchUpAfterTornRead(t *testing.T) {
	t.Parallel()
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			f := newNotifyFixture(t, driver)
			ctx, cancel := context.WithTimeout(f.ctx, time.Minute)
			defer cancel()
			fake := slackfake.New()
			t.Cleanup(fake.Close)
			team := fake.AddTeam(slackfake.Team{ID: "T1", Name: "Acme"})
			for name, u := range f.users {
				_, err := fake.AddUser(slackfake.User{ID: slackID(name), TeamID: "T1", Name: name, RealName: u.Name, Email: u.Email})
				rqMust(t, err)
			}
			cl, err := slackapi.NewClient("T1", team.BotToken, slackapi.Options{APIURL: fake.URL(), Guard: slackapi.Strict{}, Pacing: &slackapi.Pacing{}})
			rqMust(t, err)
			torn := &tornStore{NotifierStore: f.st}
			n := handlers.NewNotifier(handlers.NotifierConfig{Store: torn, Log: zerolog.Nop(),
				Clients: handlers.ChatClientsFunc(func(context.Context, string) (handlers.ChatAPI, error) { return cl, nil })})
			// No enqueuer: each change's jobs run in process once it committed.
			svc := requests.New(f.st, n, nil, func() time.Time { return rqT0 }, requests.Policy{}, zerolog.Nop())
			req, err := svc.Create(ctx, requests.UserAccess{TenantID: f.users["rita"].TenantID, RequesterID: f.users["rita"].ID,
				AppID: f.app.ID, ConnectionID: f.conns[0].ID, Duration: time.Hour, Justification: "Release fix."})
			rqMust(t, err)
			olga, err := fake.WaitForMessage(ctx, slackfake.DMChannel(slackID("olga")), func(m slackfake.Message) bool {
				return m.ThreadTS == "" && strings.Contains(string(m.Blocks), req.ID) && strings.Contains(string(m.Blocks), views.BlockApprovalActions)
			})
			rqMust(t, err)
			pending := f.reload(t, req)

			// Owen approves; the decision's jobs bring every copy to the decided card.
			_, err = svc.Decide(ctx, requests.DecideInput{TenantID: req.TenantID, RequestID: req.ID, ActorID: f.users["owen"].ID,
				Decision: accessbot.DecisionApprove})
			rqMust(t, err)
			decided := func() (slackfake.Message, bool) {
				m, _ := fake.Message(olga.Channel, olga.TS)
				return m, strings.Contains(m.Text, "Approved by Owen") && !strings.Contains(string(m.Blocks), views.BlockApprovalActions)
			}
			if m, ok := decided(); !ok {
				t.Fatalf("after the decision's jobs, Olga's copy is not the decided card: %q", m.Text)
			}

			// Olga's click, refused, ends with a read that mixes the two.
			torn.mu.Lock()
			torn.stale = pending
			torn.mu.Unlock()
			rqMust(t, n.CatchUpClick(ctx, pending, 0, olga.Channel, olga.TS))
			torn.mu.Lock()
			used := torn.used
			torn.mu.Unlock()
			if !used {
				t.Fatal("the catch-up never read the request: the torn read was not exercised")
			}
			if m, ok := decided(); !ok {
				t.Errorf("Olga's copy ends as %q (%d edits), want the decided card without buttons", m.Text, m.Edits)
			}
		})
	}
}
