package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/connectors/webhook/webhookfake"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/backend"
)

// TestPurposeSessionEndsAcrossDowntime runs the real `accessbot run`
// process: R0 starts a purpose from Slack, its provisioning webhook runs
// and the channel is told; the process is killed; while it is down the
// session's end passes (its end is moved into the past in the store,
// standing in for the hour going by); a new process ends it on its first
// scheduler tick: the deprovisioning webhook runs once, the channel and
// the holder are told once, the session is ended.
func TestPurposeSessionEndsAcrossDowntime(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	fake := slackfake.New()
	t.Cleanup(fake.Close)
	team := fake.AddTeam(slackfake.Team{ID: "T1", Name: "Acme"})
	hook, err := webhookfake.NewServer(webhookfake.Options{}, false)
	must(t, err)
	t.Cleanup(hook.Close)
	dsn := "file:" + filepath.Join(t.TempDir(), "purposes.db")
	st, err := backend.Open(ctx, backend.SQLite, dsn, zerolog.Nop())
	must(t, err)
	t.Cleanup(func() { st.Close() })

	ft := seedFaultTenant(t, ctx, fake, team.ID, st, backend.SQLite, "r", 1)
	holder := ft.people[0]
	must(t, st.PutOutboundAllow(ctx, ft.tenant, []string{"127.0.0.1"}))
	must(t, st.PutConnector(ctx, &store.Connector{TenantID: ft.tenant, Name: "hooks", Type: "webhook",
		Settings: map[string]string{"url": hook.URL() + "/{endpoint}"}}))
	ft.app.Provisioning = map[string]accessbot.ActionChain{"group": {
		Provision:   []accessbot.ActionScript{{Type: "hooks_webhook_add", Params: map[string]string{"user": "{{.Target.Email}}", "group": "{{.Connection.Name}}"}}},
		Deprovision: []accessbot.ActionScript{{Type: "hooks_webhook_remove", Params: map[string]string{"user": "{{.Target.Email}}", "group": "{{.Connection.Name}}"}}},
	}}
	must(t, st.UpdateApplication(ctx, ft.app))
	conn := &accessbot.Connection{TenantID: ft.tenant, AppID: ft.app.ID, Name: "oncall", Type: "group"}
	must(t, st.CreateConnection(ctx, conn))
	p := &accessbot.Purpose{TenantID: ft.tenant, Name: "oncall-db", Description: "On-call database access", MaxSession: 4 * time.Hour,
		AssignChain: "default", Channel: "C0ONCALL", Connections: []accessbot.PurposeConnection{{AppID: ft.app.ID, ConnectionID: conn.ID}}}
	must(t, st.UpsertPurpose(ctx, p))
	must(t, st.AssignPurpose(ctx, &accessbot.PurposeAssignment{TenantID: ft.tenant, PurposeID: p.ID, UserID: holder.ID}))

	hooks := func(typ string) int {
		n := 0
		for _, d := range hook.Deliveries() {
			var m struct {
				Type string `json:"type"`
			}
			if json.Unmarshal(d.Body, &m) == nil && m.Type == typ && d.Rejected == "" && !d.Duplicate {
				n++
			}
		}
		return n
	}
	posts := func(want string) int {
		n := 0
		for _, m := range fake.Messages("C0ONCALL") {
			if strings.Contains(m.Text, want) {
				n++
			}
		}
		return n
	}
	waitFor := func(c *child, what string, ok func() bool) {
		t.Helper()
		for !ok() {
			if ctx.Err() != nil {
				t.Fatalf("timed out waiting for %s\nlog:\n%s", what, c.tail())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	env := faultEnv(backend.SQLite, dsn, fake, team, 30*time.Second, time.Minute, 5*time.Second)
	env["ACCESSBOT_SLACK_CONNECTIONS"] = "1"
	c := newChild(t, env)
	c.start()
	slackID := faultPersonID("r", 0)
	if _, err := fake.AwaitAck(ctx, fake.SendSlashCommand(fake.SlashCommand(team.ID, slackID, "start oncall-db 1h incident 4711 on the primary"))); err != nil {
		t.Fatalf("the start was not acknowledged: %v\nlog:\n%s", err, c.tail())
	}
	waitFor(c, "the provisioning webhook", func() bool { return hooks("hooks.add") == 1 })
	waitFor(c, "the start in the channel", func() bool { return posts("started *oncall-db*") == 1 })
	ss, err := st.ListPurposeSessions(ctx, ft.tenant, holder.ID, nil)
	must(t, err)
	if len(ss) != 1 || ss[0].Status != accessbot.SessionActive {
		t.Fatalf("sessions %+v, want one active", ss)
	}
	ses := ss[0]
	waitFor(c, "the grant", func() bool {
		held, err := st.ListEntitlements(ctx, ft.tenant, holder.ID)
		return err == nil && len(held) == 1
	})

	c.stop(syscall.SIGKILL)
	// While the bot is down, the session's end passes.
	must(t, st.ExtendPurposeSession(ctx, ft.tenant, ses.ID, ses.EndsAt, time.Now().UTC().Add(-time.Minute)))
	time.Sleep(200 * time.Millisecond)
	if n := hooks("hooks.remove"); n != 0 {
		t.Fatalf("%d deprovisioning webhooks while the bot was down", n)
	}

	c.start()
	waitFor(c, "the deprovisioning webhook", func() bool { return hooks("hooks.remove") == 1 })
	waitFor(c, "the end in the channel", func() bool { return posts("reached its end") == 1 })
	if _, err := fake.WaitForMessage(ctx, slackfake.DMChannel(slackID), func(m slackfake.Message) bool {
		return strings.Contains(m.Text, "Your *oncall-db* session reached its end")
	}); err != nil {
		t.Fatalf("the holder was not told: %v", err)
	}
	waitFor(c, "the session ended and the grant gone", func() bool {
		cur, err := st.GetPurposeSession(ctx, ft.tenant, ses.ID)
		held, herr := st.ListEntitlements(ctx, ft.tenant, holder.ID)
		return err == nil && herr == nil && cur.Status == accessbot.SessionEnded && len(held) == 0
	})
	time.Sleep(2 * time.Second) // further ticks, if they repeated anything, would show by now
	c.stop(syscall.SIGTERM)
	t.Logf("[counts] runs=%d add=%d remove=%d started_posts=%d ended_posts=%d", c.runs, hooks("hooks.add"), hooks("hooks.remove"),
		posts("started *oncall-db*"), posts("reached its end"))
	if hooks("hooks.add") != 1 || hooks("hooks.remove") != 1 || posts("started *oncall-db*") != 1 || posts("reached its end") != 1 {
		t.Fatal("a webhook or an announcement was repeated")
	}
}
