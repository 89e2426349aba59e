package conformance

import (
	"maps"
	"slices"
	"testing"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

func testConnectors(t *testing.T, s store.Store) {
	a, b := newTenant(t, s), newTenant(t, s)
	_, err := s.GetConnector(ctx(), a.ID, "hooks")
	isErr(t, err, accessbot.ErrNotFound, "connector before any put")
	settings := map[string]string{"url": "https://hooks.example.com/{endpoint}", "bearer_env": "HOOK_TOKEN"}
	ok(t, s.PutConnector(ctx(), &store.Connector{TenantID: a.ID, Name: "hooks", Type: "webhook", Settings: settings}), "put")
	ok(t, s.PutConnector(ctx(), &store.Connector{TenantID: a.ID, Name: "git", Type: "gitlab"}), "put without settings")
	got, err := s.GetConnector(ctx(), a.ID, "hooks")
	ok(t, err, "get")
	if got.Type != "webhook" || !maps.Equal(got.Settings, settings) || got.UpdatedAt.IsZero() {
		t.Fatalf("connector %+v", got)
	}
	settings["url"] = "https://other.example.com"
	ok(t, s.PutConnector(ctx(), &store.Connector{TenantID: a.ID, Name: "hooks", Type: "webhook", Settings: settings}), "replace")
	list, err := s.ListConnectors(ctx(), a.ID)
	ok(t, err, "list")
	if len(list) != 2 || list[0].Name != "git" || list[1].Settings["url"] != "https://other.example.com" || list[0].Settings == nil {
		t.Fatalf("list %+v", list)
	}
	_, err = s.GetConnector(ctx(), b.ID, "hooks")
	isErr(t, err, accessbot.ErrNotFound, "other tenant's connector")
	isErr(t, s.DeleteConnector(ctx(), b.ID, "hooks"), accessbot.ErrNotFound, "delete other tenant's connector")
	isErr(t, s.PutConnector(ctx(), &store.Connector{TenantID: a.ID, Name: "Bad Name", Type: "webhook"}), accessbot.ErrInvalid, "bad name")
	ok(t, s.DeleteConnector(ctx(), a.ID, "hooks"), "delete")
	isErr(t, s.DeleteConnector(ctx(), a.ID, "hooks"), accessbot.ErrNotFound, "delete twice")

	allow, err := s.GetOutboundAllow(ctx(), a.ID)
	ok(t, err, "allow-list before any put")
	if len(allow) != 0 {
		t.Fatalf("allow-list %v before any put", allow)
	}
	ok(t, s.PutOutboundAllow(ctx(), a.ID, []string{"10.0.0.0/8", "hooks.corp.internal"}), "put allow-list")
	ok(t, s.PutOutboundAllow(ctx(), a.ID, []string{"10.0.0.0/8", "127.0.0.1"}), "replace allow-list")
	allow, err = s.GetOutboundAllow(ctx(), a.ID)
	ok(t, err, "get allow-list")
	if !slices.Equal(allow, []string{"10.0.0.0/8", "127.0.0.1"}) {
		t.Fatalf("allow-list %v", allow)
	}
	if other, err := s.GetOutboundAllow(ctx(), b.ID); err != nil || len(other) != 0 {
		t.Fatalf("other tenant's allow-list %v, %v", other, err)
	}
	ok(t, s.PutOutboundAllow(ctx(), a.ID, nil), "clear allow-list")
	if allow, err = s.GetOutboundAllow(ctx(), a.ID); err != nil || len(allow) != 0 {
		t.Fatalf("cleared allow-list %v, %v", allow, err)
	}
}
