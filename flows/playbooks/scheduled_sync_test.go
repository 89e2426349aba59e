package playbooks_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/connectors/dirsource"
	"github.com/accessbot/accessbot/connectors/scim/scimfake"
	"github.com/accessbot/accessbot/flows/dirsync"
	"github.com/accessbot/accessbot/flows/findings"
	"github.com/accessbot/accessbot/flows/schedule"
	"github.com/accessbot/accessbot/internal/secrets"
	"github.com/accessbot/accessbot/store"
)

// The scheduled connector sync (the job the scheduler runs for an
// application's applications[].sync, not only `accessbot sync`) is a sync
// for the playbooks: each slot that writes a snapshot sends sync.completed
// to the recurrence playbooks, with a new event id per sync.
func TestScheduledConnectorSyncRunsRecurrence(t *testing.T) {
	f := newFixture(t, "sqlite", fixtureOpts{})
	ctx := context.Background()
	scim := scimfake.New()
	t.Cleanup(scim.Close)
	scim.AddMember(scim.PutGroup("Editors"), scim.PutUser(scimfake.User{UserName: "bob@example.com", Active: true}))

	app := f.scimApp(scim)
	// Review playbooks: the orphan-account findings the sync opens go to
	// finding playbooks only.
	f.playbook("wiki-sync", accessbot.PlaybookReview, f.recv.URL(), func(p *accessbot.Playbook) { p.OnSync, p.AppID = true, app.ID })
	f.playbook("no-recurrence", accessbot.PlaybookReview, f.recv.URL(), nil)

	job := &dirsource.Job{Store: f.st, Keys: f.keys, Rules: findings.NewEngine(time.Now, zerolog.Nop()), Clock: time.Now,
		Log: zerolog.Nop(), TempDir: t.TempDir(), AfterImport: f.svc.AfterImport, FindingsOpened: f.svc.FindingsOpened}
	for i := 1; i <= 2; i++ {
		if i == 2 { // a change, so the second sync writes a snapshot too
			scim.PutUser(scimfake.User{UserName: "cy@example.com", Active: true})
		}
		if err := job.Run(ctx, schedule.Run{TenantID: f.tenant.ID, Job: dirsync.JobName(app.Name), Slot: time.Now()}); err != nil {
			t.Fatalf("scheduled sync %d: %v", i, err)
		}
		waitDeliveries(t, f, i)
	}
	ids := map[string]bool{}
	for _, d := range f.recv.Deliveries() {
		if d.Rejected != "" || !strings.Contains(string(d.Body), `"type":"sync.completed"`) || !strings.Contains(string(d.Body), `"name":"wiki-sync"`) {
			t.Fatalf("delivery %s (rejected %q); want sync.completed of Wiki to wiki-sync", d.Body, d.Rejected)
		}
		ids[d.ID] = true
	}
	if len(ids) != 2 {
		t.Fatalf("%d distinct event ids over two scheduled syncs; want 2", len(ids))
	}
}

// The drift findings a connector sync reports after its snapshot (access
// the directory shows that accessbot never granted) reach the application's
// finding playbooks as finding.opened.
func TestDriftFindingsReachFindingPlaybooks(t *testing.T) {
	f := newFixture(t, "sqlite", fixtureOpts{})
	ctx := context.Background()
	scim := scimfake.New()
	t.Cleanup(scim.Close)
	bob := scim.PutUser(scimfake.User{UserName: "bob@example.com", Active: true})
	scim.AddMember(scim.PutGroup("Editors"), bob)
	app := f.scimApp(scim)
	f.playbook("wiki-findings", accessbot.PlaybookFinding, f.recv.URL(), func(p *accessbot.Playbook) { p.AppID = app.ID })
	job := &dirsource.Job{Store: f.st, Keys: f.keys, Rules: findings.NewEngine(time.Now, zerolog.Nop()), Clock: time.Now,
		Log: zerolog.Nop(), TempDir: t.TempDir(), AfterImport: f.svc.AfterImport, FindingsOpened: f.svc.FindingsOpened}
	run := func() {
		t.Helper()
		if err := job.Run(ctx, schedule.Run{TenantID: f.tenant.ID, Job: dirsync.JobName(app.Name), Slot: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	run() // the baseline: no drift
	scim.AddMember(scim.PutGroup("Admins"), bob)
	run()
	deadline := time.Now().Add(90 * time.Second)
	for {
		for _, d := range f.recv.Deliveries() {
			if strings.Contains(string(d.Body), `"type":"finding.opened"`) && strings.Contains(string(d.Body), dirsync.RuleDrift) &&
				strings.Contains(string(d.Body), `"name":"wiki-findings"`) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no finding.opened of %s to wiki-findings; deliveries: %v", dirsync.RuleDrift, eventTypes(t, f))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// scimApp stores a SCIM connector to s and its application, Wiki.
func (f *fixture) scimApp(s *scimfake.Server) *accessbot.Application {
	f.t.Helper()
	ctx := context.Background()
	sn := store.ConnectorSecretName("wiki", "token")
	kid, ct, err := f.keys.Seal([]byte(s.Token), secrets.AAD(f.tenant.ID, sn))
	must(f.t, err)
	must(f.t, f.st.PutSecret(ctx, &accessbot.Secret{TenantID: f.tenant.ID, Name: sn, KeyID: kid, Ciphertext: ct}))
	must(f.t, f.st.PutConnector(ctx, &store.Connector{TenantID: f.tenant.ID, Name: "wiki", Type: "scim",
		Settings: map[string]string{"base_url": s.URL(), "token_env": "WIKI_TOKEN"}}))
	app := &accessbot.Application{TenantID: f.tenant.ID, Name: "Wiki", Connector: "wiki"}
	must(f.t, f.st.CreateApplication(ctx, app))
	return app
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
