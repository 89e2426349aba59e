package handlers_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/slackapi"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/handlers"
	"github.com/accessbot/accessbot/store/storetest"
)

// flakyChat is a ChatAPI that records posts and fails DMs to the users in failFor.
type flakyChat struct {
	mu      sync.Mutex
	failFor map[string]bool   // Slack user id → the next PostMessage to their DM fails
	posts   []string          // channel of every successful top-level post
	sent    map[string]string // delivery key → ts of successful posts
}

func (c *flakyChat) PostMessage(_ context.Context, ch string, m slackapi.Message) (string, string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failFor[strings.TrimPrefix(ch, "D-")] {
		delete(c.failFor, strings.TrimPrefix(ch, "D-"))
		return "", "", errors.New("connection reset")
	}
	if m.ThreadTS == "" {
		c.posts = append(c.posts, ch)
	}
	ts := time.Now().Format("150405.000000000")
	if c.sent == nil {
		c.sent = map[string]string{}
	}
	c.sent[m.DeliveryKey] = ts
	return ch, ts, nil
}

func (c *flakyChat) FindDelivery(_ context.Context, _, _, key string, _ time.Time) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sent[key], nil
}

func (c *flakyChat) UpdateMessage(context.Context, string, string, slackapi.Message) error {
	return nil
}

func (c *flakyChat) OpenConversation(_ context.Context, ids ...string) (string, error) {
	return "D-" + ids[0], nil
}

func (c *flakyChat) GetUserByEmail(_ context.Context, email string) (*slack.User, error) {
	name, _, _ := strings.Cut(email, "@")
	return &slack.User{ID: "U" + strings.ToUpper(name)}, nil
}

func (c *flakyChat) postsTo(ch string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, p := range c.posts {
		if p == ch {
			n++
		}
	}
	return n
}

// TestNotifierRetryDoesNotResend: a job queue retrying RequestCreated or a
// partly failed ApprovalNeeded sends nothing twice.
func TestNotifierRetryDoesNotResend(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storetest.Open(t, "sqlite")
	ten := &accessbot.Tenant{Slug: "acme", Name: "Acme"}
	rqMust(t, st.CreateTenant(ctx, ten))
	rqMust(t, st.BindWorkspace(ctx, &accessbot.Workspace{TenantID: ten.ID, TeamID: "T1", TeamName: "Acme"}))
	users := map[string]*accessbot.User{}
	for _, n := range []string{"rita", "owen", "olga"} {
		u := &accessbot.User{TenantID: ten.ID, Email: n + "@acme.test", Name: n, Status: accessbot.UserActive, Role: accessbot.RoleMember}
		rqMust(t, st.CreateUser(ctx, u))
		users[n] = u
	}
	app := &accessbot.Application{TenantID: ten.ID, Name: "GitLab", Connector: "gitlab",
		PrimaryOwnerID: users["owen"].ID, SecondaryOwnerID: users["olga"].ID, MaxDuration: 24 * time.Hour}
	rqMust(t, st.CreateApplication(ctx, app))
	conn := &accessbot.Connection{TenantID: ten.ID, AppID: app.ID, Name: "Developers", Type: "group"}
	rqMust(t, st.CreateConnection(ctx, conn))
	rqMust(t, st.UpsertApprovalChain(ctx, &accessbot.ApprovalChain{TenantID: ten.ID, Name: "default",
		Levels: []accessbot.ApprovalLevel{{Rule: accessbot.RuleAny, Approvers: []accessbot.Approver{{Kind: accessbot.ApproverOwners}}}}}))
	req, err := requests.New(st, nil, nil, nil, requests.Policy{}, zerolog.Nop()).Create(ctx, requests.UserAccess{
		TenantID: ten.ID, RequesterID: users["rita"].ID, AppID: app.ID, ConnectionID: conn.ID,
		Duration: time.Hour, Justification: "Release fix."})
	rqMust(t, err)

	chat := &flakyChat{failFor: map[string]bool{"UOLGA": true}}
	n := handlers.NewNotifier(handlers.NotifierConfig{Store: st, Log: zerolog.Nop(),
		Clients: handlers.ChatClientsFunc(func(context.Context, string) (handlers.ChatAPI, error) { return chat, nil })})
	for range 2 {
		rqMust(t, n.RequestCreated(ctx, req))
	}
	if got := chat.postsTo("D-URITA"); got != 1 {
		t.Fatalf("requester confirmation posted %d times, want 1", got)
	}
	approvers := requests.LevelApprovers(req, 0)
	if err := n.ApprovalNeeded(ctx, req, 0, approvers); err == nil {
		t.Fatal("first ApprovalNeeded should fail for olga")
	}
	rqMust(t, n.ApprovalNeeded(ctx, req, 0, approvers)) // the retry
	if o, g := chat.postsTo("D-UOWEN"), chat.postsTo("D-UOLGA"); o != 1 || g != 1 {
		t.Fatalf("approval DMs after a retry: owen %d, olga %d, want 1 each", o, g)
	}
}
