package grants_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/store/storetest"
)

// provisions records what reached the wrapped provisioner.
type provisions struct{ reqs []string }

func (p *provisions) Provision(_ context.Context, req *accessbot.AccessRequest) error {
	p.reqs = append(p.reqs, req.ID)
	return nil
}

// TestExtenderMovesEndOnce: an approved extension moves the end by its
// duration from the end it was asked from, once however often the job
// retries, and never reaches the provisioner; another request does.
func TestExtenderMovesEndOnce(t *testing.T) {
	ctx := context.Background()
	st := storetest.Open(t, "sqlite")
	w := seed(t, st, 1)
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	g := w.grant(t, st, 0, t0, 8*time.Hour)
	end := t0.Add(8 * time.Hour)
	next := &provisions{}
	x := newService(t, st, &recorder{}, nil, time.Minute).Extender(next)
	payload, _ := json.Marshal(requests.ExtensionPayload{Extends: g.ID, From: end})
	req := &accessbot.AccessRequest{ID: "r-ext", TenantID: w.tenant.ID, Kind: accessbot.RequestUserAccess, Duration: 4 * time.Hour, Payload: payload}
	for range 3 {
		must(t, x.Provision(ctx, req))
	}
	got, err := st.GetEntitlement(ctx, w.tenant.ID, g.ID)
	must(t, err)
	if !got.ExpiresAt.Equal(end.Add(4 * time.Hour)) {
		t.Fatalf("end %s, want %s", got.ExpiresAt, end.Add(4*time.Hour))
	}
	if len(next.reqs) != 0 {
		t.Fatalf("an extension was provisioned: %v", next.reqs)
	}
	audit, err := st.ListAudit(ctx, w.tenant.ID, g.ID)
	must(t, err)
	if len(audit) != 1 {
		t.Fatalf("audit %+v, want one grant.extended", audit)
	}
	must(t, x.Provision(ctx, &accessbot.AccessRequest{ID: "r-new", TenantID: w.tenant.ID, Kind: accessbot.RequestUserAccess}))
	if len(next.reqs) != 1 || next.reqs[0] != "r-new" {
		t.Fatalf("provisioned %v, want r-new", next.reqs)
	}
}

// TestConnectionDeletionEndsItsGrants: an approved deletion of a connection
// starts the deprovisioning of each of its grants before the provisioner
// runs the deletion; a retry starts nothing new.
func TestConnectionDeletionEndsItsGrants(t *testing.T) {
	ctx := context.Background()
	st := storetest.Open(t, "sqlite")
	w := seed(t, st, 2)
	other := &accessbot.User{TenantID: w.tenant.ID, Email: "other@acme.test", Name: "Other", Status: accessbot.UserActive, Role: accessbot.RoleMember}
	must(t, st.CreateUser(ctx, other))
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	a := w.grant(t, st, 0, t0, 0)
	b := &accessbot.Entitlement{TenantID: w.tenant.ID, UserID: other.ID, ConnectionID: w.conns[0].ID, GrantedAt: t0}
	must(t, st.CreateEntitlement(ctx, b))
	keep := w.grant(t, st, 1, t0, 0)
	dep, next := &recorder{}, &provisions{}
	x := newService(t, st, dep, nil, time.Minute).Extender(next)
	del := &accessbot.AccessRequest{ID: "r-del", TenantID: w.tenant.ID, Kind: accessbot.RequestConnectionDelete, AppID: w.app.ID, ConnectionID: w.conns[0].ID}
	must(t, x.Provision(ctx, del))
	must(t, x.Provision(ctx, del))
	if dep.count(a.ID) != 1 || dep.count(b.ID) != 1 || dep.count(keep.ID) != 0 || len(dep.calls) != 2 {
		t.Fatalf("deprovision calls %v, want one each for the deleted connection's two grants", dep.calls)
	}
	if len(next.reqs) != 2 {
		t.Fatalf("the deletion did not reach the provisioner: %v", next.reqs)
	}
}
