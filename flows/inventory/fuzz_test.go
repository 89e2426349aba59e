package inventory_test

import (
	"context"
	"errors"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/examples"
	"github.com/accessbot/accessbot/flows/findings"
	"github.com/accessbot/accessbot/flows/inventory"
	"github.com/accessbot/accessbot/flows/userimport"
	"github.com/accessbot/accessbot/store/storetest"
)

// FuzzInventoryCSV imports any bytes as each inventory CSV (identities,
// entitlements, relations, mappings) of GitLab, strictly, against a store
// that keeps what earlier inputs wrote, with the finding rules running.
// Errors are file errors, strict rejections (then nothing was written) or
// refused removals; nothing panics. The corpus is in
// testdata/fuzz/FuzzInventoryCSV; the example inventory files are seeds.
func FuzzInventoryCSV(f *testing.F) {
	kinds := []inventory.Kind{inventory.Identities, inventory.Entitlements, inventory.Relations, inventory.Mappings}
	for i, name := range []string{"gitlab-identities.csv", "gitlab-entitlements.csv", "gitlab-relations.csv", "mappings.csv"} {
		b, err := fs.ReadFile(examples.FS, "inventory/"+name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(i), b)
	}
	ctx := context.Background()
	st := storetest.Open(f, "sqlite")
	tn := &accessbot.Tenant{Slug: "acme", Name: "Acme"}
	if err := st.CreateTenant(ctx, tn); err != nil {
		f.Fatal(err)
	}
	owner := &accessbot.User{TenantID: tn.ID, Email: "james.okafor@acme.com", Name: "James", Role: accessbot.RoleAdmin}
	if err := st.CreateUser(ctx, owner); err != nil {
		f.Fatal(err)
	}
	if err := st.CreateApplication(ctx, &accessbot.Application{TenantID: tn.ID, Name: "GitLab", Connector: "manual", PrimaryOwnerID: owner.ID}); err != nil {
		f.Fatal(err)
	}
	im := inventory.NewImporter(st, findings.NewEngine(func() time.Time { return t0 }, zerolog.Nop()), func() time.Time { return t0 }, zerolog.Nop())

	f.Fuzz(func(t *testing.T, kind uint8, data []byte) {
		k := kinds[int(kind)%len(kinds)]
		res, err := im.Import(ctx, tn.ID, k, "GitLab", string(k)+".csv", strings.NewReader(string(data)), inventory.Options{Strict: true})
		var fe *userimport.FileError
		var re *inventory.RemovalError
		switch {
		case err == nil:
			if res == nil || !res.Written {
				t.Fatalf("no error and nothing written: %+v", res)
			}
		case errors.As(err, &fe), errors.As(err, &re):
		case errors.Is(err, inventory.ErrRejected):
			if res == nil || res.Written || len(res.Rejected) == 0 {
				t.Fatalf("strict rejection without rejected rows, or written: %+v", res)
			}
		default:
			t.Fatalf("%s import failed without a file, row or removal error: %v", k, err)
		}
	})
}
