package inventory_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/inventory"
	"github.com/accessbot/accessbot/store/storetest"
)

// identitiesCSVOf is an identities file with ids u-0 … u-(n-1).
func identitiesCSVOf(n int) string {
	var b strings.Builder
	b.WriteString("identity_id\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "u-%d\n", i)
	}
	return b.String()
}

func TestRemovalGuard(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			f := setup(t, driver)
			ctx := context.Background()
			f.ok(t, inventory.Identities, identitiesCSVOf(30))

			// 25 of 30 would go: more than 20 rows and more than 10%.
			before := dump(t, f)
			for _, opt := range []inventory.Options{{}, {DryRun: true}} {
				res, err := f.upload(t, inventory.Identities, identitiesCSVOf(5), opt)
				var re *inventory.RemovalError
				if !errors.Is(err, inventory.ErrTooManyRemovals) || !errors.As(err, &re) {
					t.Fatalf("dry run %v: err = %v, want the guard's refusal", opt.DryRun, err)
				}
				for _, want := range []string{"would remove 25 of GitLab's 30 current identities (83%)", "--allow-removals", "imports.max_removed_rows"} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("message lacks %q: %v", want, err)
					}
				}
				if res == nil || res.Written || !strings.Contains(res.Summary(), "would remove 25") {
					t.Fatalf("result %+v", res)
				}
				if dump(t, f) != before {
					t.Fatal("a refused import wrote")
				}
			}
			// 5 of 30: under the 20-row floor.
			res, err := f.upload(t, inventory.Identities, identitiesCSVOf(25), inventory.Options{})
			if err != nil || res.Removed != 5 {
				t.Fatalf("small removal: %v %+v", err, res)
			}
			// --allow-removals lets it through.
			f.ok(t, inventory.Identities, identitiesCSVOf(30))
			res, err = f.upload(t, inventory.Identities, identitiesCSVOf(5), inventory.Options{AllowRemovals: true})
			if err != nil || res.Removed != 25 || !res.Written {
				t.Fatalf("allowed: %v %+v", err, res)
			}

			// The tenant's own limits: 2 rows and 10%.
			f.ok(t, inventory.Identities, identitiesCSVOf(30))
			must(t, f.st.PutImportSettings(ctx, &accessbot.ImportSettings{TenantID: f.tenant.ID, MaxRemovedRows: 2, MaxRemovedPercent: 10}))
			if _, err := f.upload(t, inventory.Identities, identitiesCSVOf(25), inventory.Options{}); !errors.Is(err, inventory.ErrTooManyRemovals) {
				t.Fatalf("tenant limits: %v", err)
			}
			// Relations too: 4 of 5 is 80% but 4 rows, over the tenant's 2.
			f.ok(t, inventory.Identities, issueIdentities)
			f.ok(t, inventory.Entitlements, issueEntitlements)
			f.ok(t, inventory.Relations, issueRelations)
			if _, err := f.upload(t, inventory.Relations, "identity_id,entitlement_id\nu-100,role-read\n", inventory.Options{}); !errors.Is(err, inventory.ErrTooManyRemovals) ||
				!strings.Contains(err.Error(), "would remove 4 of GitLab's 5 current relations") {
				t.Fatalf("relations: %v", err)
			}
			// 100% turns the guard off.
			must(t, f.st.PutImportSettings(ctx, &accessbot.ImportSettings{TenantID: f.tenant.ID, MaxRemovedRows: 0, MaxRemovedPercent: 100}))
			if res, err := f.upload(t, inventory.Identities, "identity_id\nnew\n", inventory.Options{}); err != nil || res.Removed != 3 {
				t.Fatalf("guard off: %v %+v", err, res)
			}
		})
	}
}
