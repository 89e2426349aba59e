package handlers_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/handlers"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/storetest"
)

// renderCounts counts, per viewer, the renders of the Home: every linked
// viewer's render lists the viewer's own requests first.
type renderCounts struct {
	store.Store
	mu sync.Mutex
	n  map[string]int
}

func (c *renderCounts) ListRequestsByRequester(ctx context.Context, tenantID, requesterID string, limit int) ([]accessbot.AccessRequest, error) {
	c.mu.Lock()
	c.n[requesterID]++
	c.mu.Unlock()
	return c.Store.ListRequestsByRequester(ctx, tenantID, requesterID, limit)
}

func (c *renderCounts) get(userID string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[userID]
}

// viewsByUser keeps each user's last published Home.
type viewsByUser struct {
	bot.WebAPI
	mu   sync.Mutex
	last map[string]slack.HomeTabViewRequest
}

func (p *viewsByUser) PublishView(_ context.Context, userID string, v slack.HomeTabViewRequest, _ string) (*slack.ViewResponse, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.last[userID] = v
	return &slack.ViewResponse{}, nil
}

func (p *viewsByUser) view(userID string) (slack.HomeTabViewRequest, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, ok := p.last[userID]
	return v, ok
}

// TestHomeAudiencesEveryWriteKind: after each kind of write, the Homes it
// can change render again at their next open and show the change; every
// other Home does not render (each open carries the view last published,
// as Slack sends it). The Home version is finer than the tenant
// (migration 00300): a request moves its requester's and approvers' Homes,
// a grant its holder's and the admins', a connector sync the admins',
// an application everyone's. On both stores; a trigger that forgets a
// viewer fails the "renders" check, one that moves too much the "not".
func TestHomeAudiencesEveryWriteKind(t *testing.T) {
	for _, driver := range []string{"sqlite", "postgres"} {
		t.Run(driver, func(t *testing.T) { testHomeAudiences(t, driver) })
	}
}

func testHomeAudiences(t *testing.T, driver string) {
	ctx := context.Background()
	base := storetest.Open(t, driver)
	st := &renderCounts{Store: base, n: map[string]int{}}
	ten := &accessbot.Tenant{Slug: "acme", Name: "Acme"}
	must(t, st.CreateTenant(ctx, ten))
	users := map[string]*accessbot.User{}
	for _, n := range []string{"rita", "owen", "uma", "ada"} {
		role := accessbot.RoleMember
		if n == "ada" {
			role = accessbot.RoleAdmin
		}
		u := &accessbot.User{TenantID: ten.ID, Email: n + "@acme.test", Name: strings.ToUpper(n[:1]) + n[1:], Status: accessbot.UserActive, Role: role}
		must(t, st.CreateUser(ctx, u))
		users[n] = u
	}
	app := &accessbot.Application{TenantID: ten.ID, Name: "GitLab", Connector: "gitlab", PrimaryOwnerID: users["owen"].ID, MaxDuration: 24 * time.Hour}
	must(t, st.CreateApplication(ctx, app))
	conn := &accessbot.Connection{TenantID: ten.ID, AppID: app.ID, Name: "maintainers", Type: "group"}
	must(t, st.CreateConnection(ctx, conn))
	must(t, st.UpsertApprovalChain(ctx, &accessbot.ApprovalChain{TenantID: ten.ID, Name: "default",
		Levels: []accessbot.ApprovalLevel{{Rule: accessbot.RuleAny, Approvers: []accessbot.Approver{{Kind: accessbot.ApproverOwners}}}}}))
	svc := requests.New(st, nil, nil, nil, requests.Policy{}, zerolog.Nop())
	api := &viewsByUser{last: map[string]slack.HomeTabViewRequest{}}
	o := handlers.NewHomeOpener(handlers.Deps{Requests: handlers.NewRequests(svc, st, zerolog.Nop()), Connectors: handlers.NewConnectors(st),
		HomeVersions: st})

	// open opens name's Home as Slack would: carrying the view shown.
	open := func(name string) {
		t.Helper()
		slackID := "U" + strings.ToUpper(name)
		ev := map[string]any{"type": "app_home_opened", "user": slackID, "channel": "D" + slackID, "tab": "home"}
		if v, ok := api.view(slackID); ok {
			ev["view"] = map[string]any{"id": "V" + slackID, "type": "home", "private_metadata": v.PrivateMetadata}
		}
		raw, err := json.Marshal(ev)
		must(t, err)
		actor := &bot.Actor{TeamID: "T1", SlackUserID: slackID, Tenant: *ten, User: *users[name]}
		req := &bot.Request{Kind: bot.KindEvent, TeamID: "T1", UserID: slackID, Actor: actor, API: api, Log: zerolog.Nop(),
			Event: &bot.Event{Type: "app_home_opened", Raw: raw}}
		must(t, o.Open(ctx, req))
	}
	shown := func(name string) string {
		v, ok := api.view("U" + strings.ToUpper(name))
		if !ok {
			t.Fatalf("%s's Home was never published", name)
		}
		b, err := json.Marshal(v.Blocks)
		must(t, err)
		return string(b)
	}
	viewers := []string{"rita", "owen", "uma", "ada"}
	for _, n := range viewers {
		open(n)
		open(n) // the second carries the first's view
	}
	for _, n := range viewers {
		if r := st.get(users[n].ID); r != 1 {
			t.Fatalf("%s's first two opens rendered %d times, want 1 (the second is unchanged)", n, r)
		}
	}

	var req *accessbot.AccessRequest
	for _, tc := range []struct {
		name    string
		write   func() error
		renders []string            // the Homes that must render again; the others must not
		show    map[string][]string // what they then show
	}{
		{"request filed", func() (err error) {
			req, err = svc.Create(ctx, requests.UserAccess{TenantID: ten.ID, RequesterID: users["rita"].ID, AppID: app.ID,
				ConnectionID: conn.ID, Duration: time.Hour, Justification: "Release fix."})
			return err
		}, []string{"rita", "owen"}, map[string][]string{"rita": {"My requests (1)", "maintainers"}, "owen": {"Waiting for me (1)", "maintainers"}}},
		{"application renamed", func() error {
			a := *app
			a.Name = "GitLab EE"
			return st.UpdateApplication(ctx, &a)
		}, viewers, map[string][]string{"rita": {"GitLab EE"}, "owen": {"GitLab EE"}}},
		{"request approved", func() error {
			_, err := svc.Decide(ctx, requests.DecideInput{TenantID: ten.ID, RequestID: req.ID, ActorID: users["owen"].ID,
				Level: 0, Decision: accessbot.DecisionApprove})
			return err
		}, []string{"rita", "owen"}, map[string][]string{"rita": {"Approved"}, "owen": {"Waiting for me (0)"}}},
		{"grant recorded", func() error {
			return st.CreateEntitlement(ctx, &accessbot.Entitlement{TenantID: ten.ID, UserID: users["rita"].ID, ConnectionID: conn.ID, RequestID: req.ID})
		}, []string{"rita", "ada"}, map[string][]string{"rita": {"maintainers"}}},
		{"connector synced", func() error {
			at := time.Now()
			return st.PutConnectorSync(ctx, &accessbot.ConnectorSync{TenantID: ten.ID, AppID: app.ID, Connector: "gitlab", LastRunAt: &at, LastError: "token expired"})
		}, []string{"ada"}, map[string][]string{"ada": {"token expired"}}},
		{"audit entry", func() error {
			return st.AppendAudit(ctx, &accessbot.AuditEntry{TenantID: ten.ID, ActorID: "system", Action: "test.noop", ObjectID: "x"})
		}, nil, nil},
	} {
		before := map[string]int{}
		for _, n := range viewers {
			before[n] = st.get(users[n].ID)
		}
		if err := tc.write(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		for _, n := range viewers {
			open(n)
			open(n) // again: now unchanged
		}
		for _, n := range viewers {
			want := 0
			if slices.Contains(tc.renders, n) {
				want = 1
			}
			if got := st.get(users[n].ID) - before[n]; got != want {
				t.Errorf("%s: %s's Home rendered %d times in two opens, want %d", tc.name, n, got, want)
			}
			for _, w := range tc.show[n] {
				if got := shown(n); !strings.Contains(got, w) {
					t.Errorf("%s: %s's Home does not show %q: %s", tc.name, n, w, got)
				}
			}
		}
	}
}
