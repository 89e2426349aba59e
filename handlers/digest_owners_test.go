package handlers_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot"
	"github.com/accessbot/accessbot/bot/slackapi"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/flows/digest"
	"github.com/accessbot/accessbot/handlers"
	"github.com/accessbot/accessbot/internal/secrets"
	"github.com/accessbot/accessbot/store"
)

// startDigestBot runs the real bot (sockets, router, identity) with the
// digest's item actions routed, until the test ends.
func startDigestBot(t *testing.T, ctx context.Context, e *digestEnv) {
	t.Helper()
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	app, err := bot.NewApp(bot.AppConfig{
		Store: e.st, AppToken: secrets.Secret(e.fake.AppToken()), BotToken: secrets.Secret(e.team.BotToken),
		APIURL: e.fake.URL(), Connections: 1, PingInterval: 5 * time.Second, Pacing: &slackapi.Pacing{}, Guard: slackapi.Strict{},
		Register: func(r *bot.Router, id bot.Resolver) error {
			must(t, handlers.Register(r, handlers.Deps{Identity: id}))
			return handlers.RegisterDigest(r, handlers.NewDigest(handlers.DigestConfig{Store: e.st, Now: e.now.Now, Log: log}))
		},
		Now: e.now.Now, Log: log,
	})
	must(t, err)
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(runCtx) }()
	t.Cleanup(func() { stop(); <-done })
	must(t, e.fake.WaitForConnections(ctx, 1))
}

// addPeople adds Slack users and tenant users of the same emails.
func (e *digestEnv) addPeople(t *testing.T, ctx context.Context, people map[string]accessbot.Role) map[string]*accessbot.User {
	t.Helper()
	out := map[string]*accessbot.User{}
	for name, role := range people {
		email := name + "@acme.test"
		if _, err := e.fake.AddUser(slackfake.User{ID: "U" + strings.ToUpper(name), TeamID: "T1", Name: name, RealName: name, Email: email}); err != nil {
			t.Fatal(err)
		}
		u := &accessbot.User{TenantID: e.tenant, Email: email, Name: name, Status: accessbot.UserActive, Role: role}
		must(t, e.st.CreateUser(ctx, u))
		out[name] = u
	}
	return out
}

// waitEphemeral waits for an ephemeral answer to user containing text.
func (e *digestEnv) waitEphemeral(t *testing.T, ctx context.Context, user, contains string) {
	t.Helper()
	if err := e.fake.WaitFor(ctx, func() bool {
		for _, m := range e.fake.AllMessages() {
			if m.Ephemeral && m.Recipient == user && strings.Contains(m.Text, contains) {
				return true
			}
		}
		return false
	}); err != nil {
		t.Fatalf("no answer to %s containing %q", user, contains)
	}
}

// TestDigestIdentityFindingOwnersMayAct: on a finding about an identity,
// the owners of the identity's application may act, as admins may; other
// members, and owners of another application, are refused. The server
// re-reads the identity and the application on every click.
func TestDigestIdentityFindingOwnersMayAct(t *testing.T) {
	start := time.Date(2026, 7, 1, 6, 0, 0, 0, time.UTC)
	e := newDigestEnv(t, "sqlite", start)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	people := e.addPeople(t, ctx, map[string]accessbot.Role{"olga": accessbot.RoleMember, "sam": accessbot.RoleMember, "bob": accessbot.RoleMember})
	aws := &accessbot.Application{TenantID: e.tenant, Name: "AWS", PrimaryOwnerID: people["sam"].ID, SecondaryOwnerID: people["olga"].ID}
	must(t, e.st.CreateApplication(ctx, aws))
	gitlab := &accessbot.Application{TenantID: e.tenant, Name: "GitLab", PrimaryOwnerID: people["bob"].ID}
	must(t, e.st.CreateApplication(ctx, gitlab))
	_, err := e.st.ReplaceIdentities(ctx, e.tenant, aws.ID, []accessbot.Identity{{ExternalID: "root", Status: accessbot.IdentityActive}}, start)
	must(t, err)
	ids, err := e.st.ListIdentities(ctx, e.tenant, aws.ID, false)
	must(t, err)
	must(t, e.st.PutAlertSettings(ctx, &store.AlertSettings{TenantID: e.tenant, Channels: []string{"C1"}, AllClear: true, Since: start.Add(-time.Hour)}))
	_, err = e.st.SyncFindings(ctx, e.tenant, "terminated_employee_active_identity", []accessbot.FindingMatch{{Severity: accessbot.SeverityCritical,
		Subject: accessbot.Subject{Kind: accessbot.SubjectIdentity, ID: ids[0].ID, Display: "AWS: root"}}}, start)
	must(t, err)
	found, err := e.st.ListFindings(ctx, e.tenant, accessbot.FindingFilter{})
	must(t, err)
	f := found[0]
	startDigestBot(t, ctx, e)

	// The critical alert carries the item buttons; the handler re-reads the finding.
	must(t, digest.New(e.st, e.notifier(t, 4), digest.Config{Clock: e.now.Now}).AlertCritical(ctx, e.now.Now()))
	alerts := e.topLevel("C1", "Critical finding")
	if len(alerts) != 1 {
		t.Fatalf("%d critical alerts, want 1", len(alerts))
	}
	msg := alerts[0].TS

	click := func(user, action string) {
		t.Helper()
		env := e.fake.SendInteractive(e.fake.BlockActionOnMessage("T1", user, "C1", msg,
			slackfake.Action{ActionID: "finding_" + action, BlockID: "digest_actions:" + f.ID, Value: f.ID}))
		if _, err := e.fake.AwaitAck(ctx, env); err != nil {
			t.Fatal(err)
		}
	}
	status := func() accessbot.FindingStatus {
		cur, err := e.st.GetFinding(ctx, e.tenant, f.ID)
		must(t, err)
		return cur.Status
	}
	click("UBOB", "ack") // owns GitLab, not AWS
	e.waitEphemeral(t, ctx, "UBOB", "Only tenant admins")
	if s := status(); s != accessbot.FindingOpen {
		t.Fatalf("another application's owner changed the finding to %s", s)
	}
	click("UOLGA", "ack") // AWS's secondary owner
	if err := e.fake.WaitFor(ctx, func() bool { return status() == accessbot.FindingAcknowledged }); err != nil {
		t.Fatalf("status %s after the secondary owner's acknowledge", status())
	}
	click("USAM", "resolve") // AWS's primary owner
	if err := e.fake.WaitFor(ctx, func() bool { return status() == accessbot.FindingResolved }); err != nil {
		t.Fatalf("status %s after the primary owner's resolve", status())
	}
	cur, err := e.st.GetFinding(ctx, e.tenant, f.ID)
	must(t, err)
	if cur.StatusBy != people["sam"].ID {
		t.Fatalf("resolved by %q, want sam", cur.StatusBy)
	}
}
