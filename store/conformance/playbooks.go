package conformance

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

func testPlaybooks(t *testing.T, s store.Store) {
	ten, other := newTenant(t, s), newTenant(t, s)
	tid := ten.ID
	boss := newUser(t, s, tid, "pb-boss@example.com")
	app := newApp(t, s, tid, "pb-app", boss.ID)

	global := &accessbot.Playbook{TenantID: tid, Name: "Ticket", Description: "opens a ticket", Type: accessbot.PlaybookRequest,
		URL: "https://hooks.example.com/a", Active: true, TokenSecret: "playbook/x/token", SigningSecret: "playbook/x/signing"}
	ok(t, s.CreatePlaybook(ctx(), global), "create global playbook")
	scoped := &accessbot.Playbook{TenantID: tid, Name: "app-only", Type: accessbot.PlaybookFinding, OnSync: true,
		URL: "https://hooks.example.com/b", AppID: app.ID, Source: accessbot.SourceFile}
	ok(t, s.CreatePlaybook(ctx(), scoped), "create scoped playbook")

	t.Run("read back", func(t *testing.T) {
		got, err := s.GetPlaybook(ctx(), tid, global.ID)
		ok(t, err, "get")
		if got.Name != "Ticket" || got.Type != accessbot.PlaybookRequest || !got.Active || got.OnSync || got.AppID != "" ||
			got.TokenSecret != "playbook/x/token" || got.SigningSecret != "playbook/x/signing" || got.Source != accessbot.SourceSlack ||
			!got.CreatedAt.Equal(global.CreatedAt) {
			t.Fatalf("global read back as %+v; wrote %+v", got, global)
		}
		got, err = s.GetPlaybookByName(ctx(), tid, "APP-ONLY")
		ok(t, err, "get by name, other case")
		if got.ID != scoped.ID || got.AppID != app.ID || !got.OnSync || got.Active || got.Source != accessbot.SourceFile {
			t.Fatalf("scoped read back as %+v", got)
		}
		list, err := s.ListPlaybooks(ctx(), tid)
		ok(t, err, "list")
		if len(list) != 2 || list[0].Name != "app-only" || list[1].Name != "Ticket" {
			t.Fatalf("list = %+v; want app-only, Ticket", list)
		}
	})

	t.Run("validation and uniqueness", func(t *testing.T) {
		dup := &accessbot.Playbook{TenantID: tid, Name: "ticket", Type: accessbot.PlaybookRequest, URL: "https://x.example.com"}
		if err := s.CreatePlaybook(ctx(), dup); !errors.Is(err, accessbot.ErrConflict) {
			t.Fatalf("duplicate name (other case): err = %v; want ErrConflict", err)
		}
		bad := &accessbot.Playbook{TenantID: tid, Name: "bad", Type: "webhook", URL: "https://x.example.com"}
		if err := s.CreatePlaybook(ctx(), bad); !errors.Is(err, accessbot.ErrInvalid) {
			t.Fatalf("unknown type: err = %v; want ErrInvalid", err)
		}
		stray := &accessbot.Playbook{TenantID: tid, Name: "stray", Type: accessbot.PlaybookReview, URL: "https://x.example.com", AppID: "no-such-app"}
		if err := s.CreatePlaybook(ctx(), stray); !errors.Is(err, accessbot.ErrNotFound) {
			t.Fatalf("unknown application: err = %v; want ErrNotFound", err)
		}
		// The same name in another tenant is fine.
		ok(t, s.CreatePlaybook(ctx(), &accessbot.Playbook{TenantID: other.ID, Name: "Ticket", Type: accessbot.PlaybookReview, URL: "https://y.example.com"}),
			"same name, other tenant")
	})

	t.Run("update", func(t *testing.T) {
		p := *global
		p.Active, p.URL, p.OnSync = false, "https://hooks.example.com/new", true
		ok(t, s.UpdatePlaybook(ctx(), &p), "update")
		got, err := s.GetPlaybook(ctx(), tid, global.ID)
		ok(t, err, "get")
		if got.Active || got.URL != "https://hooks.example.com/new" || !got.OnSync {
			t.Fatalf("after update: %+v", got)
		}
		ok(t, s.UpdatePlaybook(ctx(), global), "restore")
	})

	t.Run("runs", func(t *testing.T) {
		ev := json.RawMessage(`{"type":"request.created"}`)
		at := fixedTime().Truncate(time.Microsecond)
		r1 := &accessbot.PlaybookRun{TenantID: tid, PlaybookID: global.ID, EventID: "msg_1", EventType: "request.created",
			ObjectType: "access_request", ObjectID: "r1", Trigger: "event", ActorID: "system", Event: ev, EventAt: at, ReplyTo: "C1|1.0"}
		ok(t, s.CreatePlaybookRun(ctx(), r1), "create run")
		again := *r1
		again.ID = ""
		if err := s.CreatePlaybookRun(ctx(), &again); !errors.Is(err, accessbot.ErrConflict) {
			t.Fatalf("same event id twice: err = %v; want ErrConflict", err)
		}
		// Event ids are per tenant.
		ok(t, s.CreatePlaybookRun(ctx(), &accessbot.PlaybookRun{TenantID: other.ID, PlaybookID: mustPlaybook(t, s, other.ID).ID,
			EventID: "msg_1", EventType: "x", Trigger: "manual", ActorID: "u", Event: ev, EventAt: at}), "same event id, other tenant")
		time.Sleep(2 * time.Millisecond)
		r2 := &accessbot.PlaybookRun{TenantID: tid, PlaybookID: global.ID, EventID: "msg_2", EventType: "request.denied",
			Trigger: "manual", ActorID: boss.ID, Event: ev, EventAt: at}
		ok(t, s.CreatePlaybookRun(ctx(), r2), "create second run")

		got, err := s.GetPlaybookRun(ctx(), tid, r1.ID)
		ok(t, err, "get run")
		if got.Status != accessbot.RunPending || string(got.Event) != string(ev) || !got.EventAt.Equal(at) || got.ReplyTo != "C1|1.0" ||
			got.Trigger != "event" || got.FinishedAt != nil {
			t.Fatalf("run read back as %+v", got)
		}
		fin := at.Add(time.Minute)
		got.Status, got.Attempts, got.ResponseStatus, got.Duration, got.ResponseBody, got.FinishedAt =
			accessbot.RunDelivered, 2, 200, 1500*time.Millisecond, `{"ok":true}`, &fin
		ok(t, s.FinishPlaybookAttempt(ctx(), got), "finish")
		if err := s.FinishPlaybookAttempt(ctx(), got); !errors.Is(err, accessbot.ErrStale) {
			t.Fatalf("finishing a finished run: err = %v; want ErrStale", err)
		}
		list, err := s.ListPlaybookRuns(ctx(), tid, global.ID, 0)
		ok(t, err, "list runs")
		if len(list) != 2 || list[0].ID != r2.ID || list[1].ID != r1.ID {
			t.Fatalf("runs = %v; want newest first", list)
		}
		d := list[1]
		if d.Status != accessbot.RunDelivered || d.Attempts != 2 || d.ResponseStatus != 200 || d.Duration != 1500*time.Millisecond ||
			d.ResponseBody != `{"ok":true}` || d.FinishedAt == nil || !d.FinishedAt.Equal(fin) {
			t.Fatalf("finished run read back as %+v", d)
		}
		if l, _ := s.ListPlaybookRuns(ctx(), tid, global.ID, 1); len(l) != 1 {
			t.Fatalf("limit 1 gave %d runs", len(l))
		}
	})

	t.Run("tenant isolation", func(t *testing.T) {
		if _, err := s.GetPlaybook(ctx(), other.ID, global.ID); !errors.Is(err, accessbot.ErrNotFound) {
			t.Fatalf("other tenant reads the playbook: err = %v", err)
		}
		if _, err := s.GetPlaybookByName(ctx(), other.ID, "app-only"); !errors.Is(err, accessbot.ErrNotFound) {
			t.Fatalf("other tenant reads by name: err = %v", err)
		}
		p := *scoped
		p.TenantID = other.ID
		if err := s.UpdatePlaybook(ctx(), &p); !errors.Is(err, accessbot.ErrNotFound) {
			t.Fatalf("other tenant updates: err = %v", err)
		}
		if err := s.DeletePlaybook(ctx(), other.ID, scoped.ID); !errors.Is(err, accessbot.ErrNotFound) {
			t.Fatalf("other tenant deletes: err = %v", err)
		}
		if runs, err := s.ListPlaybookRuns(ctx(), other.ID, global.ID, 0); err != nil || len(runs) != 0 {
			t.Fatalf("other tenant lists runs: %v, %v", runs, err)
		}
		if list, _ := s.ListPlaybooks(ctx(), other.ID); len(list) != 1 || list[0].TenantID != other.ID {
			t.Fatalf("other tenant's list = %+v", list)
		}
	})

	t.Run("delete", func(t *testing.T) {
		ok(t, s.DeletePlaybook(ctx(), tid, global.ID), "delete")
		if runs, _ := s.ListPlaybookRuns(ctx(), tid, global.ID, 0); len(runs) != 0 {
			t.Fatalf("runs outlive their playbook: %v", runs)
		}
		ok(t, s.DeleteApplication(ctx(), tid, app.ID), "delete application")
		if _, err := s.GetPlaybook(ctx(), tid, scoped.ID); !errors.Is(err, accessbot.ErrNotFound) {
			t.Fatalf("an integration-specific playbook outlives its application: err = %v", err)
		}
	})
}

func mustPlaybook(t *testing.T, s store.Store, tenantID string) *accessbot.Playbook {
	t.Helper()
	l, err := s.ListPlaybooks(ctx(), tenantID)
	ok(t, err, "list playbooks")
	if len(l) == 0 {
		t.Fatal("no playbook")
	}
	return &l[0]
}
