package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/sqlite"
)

// A first large relations upload rebuilds inv_relations_entitlement after
// the insert instead of keeping it up to date row by row (sqlstore
// insertStaged): the index must come back as the migrations made it, and
// a rolled-back upload must leave it in place.
func TestFirstRelationsUploadKeepsIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, "file:"+filepath.Join(t.TempDir(), "a.db"), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	index := func() string {
		t.Helper()
		var sql string
		if err := s.DB().QueryRow(`SELECT sql FROM sqlite_master WHERE type = 'index' AND name = 'inv_relations_entitlement'`).Scan(&sql); err != nil {
			t.Fatalf("read index: %v", err)
		}
		return sql
	}
	want := index()
	at := time.Date(2025, 6, 2, 9, 0, 0, 0, time.UTC)
	ten := &accessbot.Tenant{Slug: "acme", Name: "Acme"}
	must(t, s.CreateTenant(ctx, ten))
	owner := &accessbot.User{TenantID: ten.ID, Email: "owner@acme.com", Name: "Owner"}
	must(t, s.CreateUser(ctx, owner))
	app := &accessbot.Application{TenantID: ten.ID, Name: "Big", PrimaryOwnerID: owner.ID}
	must(t, s.CreateApplication(ctx, app))
	const idents, roles = 1000, 20 // 20,000 relations: over the rebuild's threshold
	var ids []accessbot.Identity
	for i := range idents {
		ids = append(ids, accessbot.Identity{ExternalID: fmt.Sprintf("id%d", i)})
	}
	var ents []accessbot.AppEntitlement
	for r := range roles {
		ents = append(ents, accessbot.AppEntitlement{ExternalID: fmt.Sprintf("role%d", r)})
	}
	var keys []accessbot.RelationKey
	for i := range idents {
		for r := range roles {
			keys = append(keys, accessbot.RelationKey{IdentityExternalID: fmt.Sprintf("id%d", i), EntitlementExternalID: fmt.Sprintf("role%d", r)})
		}
	}
	_, err = s.ReplaceIdentities(ctx, ten.ID, app.ID, ids, accessbot.SnapshotKeep{}, at)
	must(t, err)
	_, err = s.ReplaceAppEntitlements(ctx, ten.ID, app.ID, ents, accessbot.SnapshotKeep{}, at)
	must(t, err)

	abort := errors.New("abort")
	err = s.InTx(ctx, func(q store.Queries) error {
		if _, err := q.ReplaceRelations(ctx, ten.ID, app.ID, keys, accessbot.SnapshotKeep{}, at); err != nil {
			return err
		}
		return abort
	})
	if !errors.Is(err, abort) {
		t.Fatalf("rolled-back upload: %v", err)
	}
	if got := index(); got != want {
		t.Fatalf("after a rollback, index %q, want %q", got, want)
	}

	res, err := s.ReplaceRelations(ctx, ten.ID, app.ID, keys, accessbot.SnapshotKeep{}, at)
	must(t, err)
	if res.Created != len(keys) {
		t.Fatalf("created %d, want %d", res.Created, len(keys))
	}
	if got := index(); got != want {
		t.Fatalf("index %q, want %q", got, want)
	}
	var plan, detail string
	var a, b int
	rows, err := s.DB().Query(`EXPLAIN QUERY PLAN SELECT created_at FROM inv_relations WHERE tenant_id = ? AND entitlement_id = ?`, ten.ID, "x")
	must(t, err)
	for rows.Next() {
		must(t, rows.Scan(&a, &b, new(int), &detail))
		plan += detail + "\n"
	}
	must(t, rows.Err())
	rows.Close()
	if !strings.Contains(plan, "inv_relations_entitlement") {
		t.Fatalf("the index is not used:\n%s", plan)
	}
	var n int
	must(t, s.DB().QueryRow(`SELECT COUNT(*) FROM inv_relations INDEXED BY inv_relations_entitlement WHERE tenant_id = ? AND entitlement_id > ''`, ten.ID).Scan(&n))
	if n != len(keys) {
		t.Fatalf("index holds %d rows, want %d", n, len(keys))
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
