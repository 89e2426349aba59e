package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot"
	"github.com/accessbot/accessbot/bot/blockkit"
	"github.com/accessbot/accessbot/bot/identity"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/handlers"
	"github.com/accessbot/accessbot/handlers/views"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/backend"
	"github.com/accessbot/accessbot/store/storetest"
)

// BenchmarkHomeView: the linked App Home of a requester with 10 pending
// requests (one application, 10 connections) and of their approver, who has
// the same 10 waiting, on SQLite, validated as before views.publish. See
// BENCHMARKS.md.
func BenchmarkHomeView(b *testing.B) {
	ctx := context.Background()
	st, svc, ten, users := homeFixture(b)
	h := handlers.NewRequests(svc, st, zerolog.Nop())
	for _, who := range []string{"rita", "owen"} {
		b.Run(who, func(b *testing.B) {
			actor := &bot.Actor{TeamID: "T1", SlackUserID: "U1", Tenant: *ten, User: *users[who]}
			b.ReportAllocs()
			for b.Loop() {
				v, err := h.HomeView(ctx, actor, views.HomeInfo{Tenant: *ten, User: *users[who]})
				if err != nil {
					b.Fatal(err)
				}
				if err := blockkit.ValidateHome(v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// homeFixture: rita has 10 pending requests for 10 connections of one
// application owned by owen.
func homeFixture(b testing.TB) (store.Store, *requests.Service, *accessbot.Tenant, map[string]*accessbot.User) {
	ctx := context.Background()
	st := storetest.Open(b, backend.SQLite)
	ten := &accessbot.Tenant{Slug: "acme", Name: "Acme"}
	must := func(err error) {
		b.Helper()
		if err != nil {
			b.Fatal(err)
		}
	}
	must(st.CreateTenant(ctx, ten))
	users := map[string]*accessbot.User{}
	for _, n := range []string{"rita", "owen"} {
		u := &accessbot.User{TenantID: ten.ID, Email: n + "@acme.test", Name: n, Status: accessbot.UserActive, Role: accessbot.RoleMember}
		must(st.CreateUser(ctx, u))
		users[n] = u
	}
	app := &accessbot.Application{TenantID: ten.ID, Name: "GitLab", Connector: "gitlab", PrimaryOwnerID: users["owen"].ID, MaxDuration: 24 * time.Hour}
	must(st.CreateApplication(ctx, app))
	must(st.UpsertApprovalChain(ctx, &accessbot.ApprovalChain{TenantID: ten.ID, Name: "default",
		Levels: []accessbot.ApprovalLevel{{Rule: accessbot.RuleAny, Approvers: []accessbot.Approver{{Kind: accessbot.ApproverOwners}}}}}))
	svc := requests.New(st, nil, nil, nil, requests.Policy{}, zerolog.Nop())
	for i := range 10 {
		conn := &accessbot.Connection{TenantID: ten.ID, AppID: app.ID, Name: fmt.Sprintf("group-%d", i), Type: "group"}
		must(st.CreateConnection(ctx, conn))
		_, err := svc.Create(ctx, requests.UserAccess{TenantID: ten.ID, RequesterID: users["rita"].ID, AppID: app.ID,
			ConnectionID: conn.ID, Duration: time.Hour, Justification: "Release fix."})
		must(err)
	}
	return st, svc, ten, users
}

// readCounts counts the card reads of the request handlers.
type readCounts struct {
	store.Store
	users, apps, conns int
}

func (c *readCounts) GetUser(ctx context.Context, tenantID, id string) (*accessbot.User, error) {
	c.users++
	return c.Store.GetUser(ctx, tenantID, id)
}

func (c *readCounts) GetApplication(ctx context.Context, tenantID, id string) (*accessbot.Application, error) {
	c.apps++
	return c.Store.GetApplication(ctx, tenantID, id)
}

func (c *readCounts) GetConnection(ctx context.Context, tenantID, id string) (*accessbot.Connection, error) {
	c.conns++
	return c.Store.GetConnection(ctx, tenantID, id)
}

// TestHomeViewReadsEachNameOnce: the App Home reads each user, application
// and connection its cards name once, not once per card.
func TestHomeViewReadsEachNameOnce(t *testing.T) {
	ctx := context.Background()
	st, svc, ten, users := homeFixture(t)
	rc := &readCounts{Store: st}
	h := handlers.NewRequests(svc, rc, zerolog.Nop())
	actor := &bot.Actor{TeamID: "T1", SlackUserID: "U1", Tenant: *ten, User: *users["rita"]}
	v, err := h.HomeView(ctx, actor, views.HomeInfo{Tenant: *ten, User: *users["rita"]})
	if err != nil {
		t.Fatal(err)
	}
	if err := blockkit.ValidateHome(v); err != nil {
		t.Fatal(err)
	}
	if rc.users != 1 || rc.apps != 1 || rc.conns != 10 {
		t.Fatalf("10 cards read %d users, %d applications, %d connections; want 1, 1, 10", rc.users, rc.apps, rc.conns)
	}
}

// BenchmarkHomeOpen: the whole app_home_opened handler for rita's Home
// (BenchmarkHomeView's fixture, plus the version and the memo, as
// `accessbot run` has them). "render" opens with no view shown, so it
// renders and publishes every time (what every open cost before Home
// versions; without the memo, which would answer it by the last render);
// "unchanged" opens with the view last published, which carries the
// current version: one version read, no render.
func BenchmarkHomeOpen(b *testing.B) {
	ctx := context.Background()
	st, svc, ten, users := homeFixture(b)
	api := &publishRecorder{}
	o := handlers.NewHomeOpener(handlers.Deps{Requests: handlers.NewRequests(svc, st, zerolog.Nop()),
		HomeVersions: st, Published: identity.NewMemoryCache(0, nil)})
	actor := &bot.Actor{TeamID: "T1", SlackUserID: "U1", Tenant: *ten, User: *users["rita"]}
	open := func(b *testing.B, raw []byte) {
		req := &bot.Request{Kind: bot.KindEvent, TeamID: "T1", UserID: "U1", Actor: actor, API: api, Log: zerolog.Nop(),
			Event: &bot.Event{Type: "app_home_opened", Raw: raw}}
		if err := o.Open(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
	noView := []byte(`{"type":"app_home_opened","user":"U1","channel":"D1","tab":"home"}`)
	b.Run("render", func(b *testing.B) {
		// Without the memo: an open with no view just after a render is
		// otherwise answered by that render (HomeInFlight).
		renderer := handlers.NewHomeOpener(handlers.Deps{Requests: handlers.NewRequests(svc, st, zerolog.Nop()), HomeVersions: st})
		b.ReportAllocs()
		for b.Loop() {
			req := &bot.Request{Kind: bot.KindEvent, TeamID: "T1", UserID: "U1", Actor: actor, API: api, Log: zerolog.Nop(),
				Event: &bot.Event{Type: "app_home_opened", Raw: noView}}
			if err := renderer.Open(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
	open(b, noView)
	shown, err := json.Marshal(map[string]any{"type": "app_home_opened", "user": "U1", "channel": "D1", "tab": "home",
		"view": map[string]any{"id": "V1", "type": "home", "private_metadata": api.last.PrivateMetadata, "hash": "1.x"}})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("unchanged", func(b *testing.B) {
		n := api.n
		b.ReportAllocs()
		for b.Loop() {
			open(b, shown)
		}
		if api.n != n {
			b.Fatalf("unchanged opens published %d times", api.n-n)
		}
	})
}

// publishRecorder keeps the last view published.
type publishRecorder struct {
	bot.WebAPI
	last slack.HomeTabViewRequest
	n    int
}

func (p *publishRecorder) PublishView(_ context.Context, _ string, v slack.HomeTabViewRequest, _ string) (*slack.ViewResponse, error) {
	p.last, p.n = v, p.n+1
	return &slack.ViewResponse{}, nil
}
