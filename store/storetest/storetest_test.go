package storetest_test

import (
	"context"
	"errors"
	"testing"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store/storetest"
)

func TestOpenFreshStore(t *testing.T) {
	t.Parallel()
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := storetest.Open(t, driver)
			if err := s.Ping(ctx); err != nil {
				t.Fatal(err)
			}
			tenants, err := s.ListTenants(ctx)
			if err != nil || len(tenants) != 0 {
				t.Fatalf("fresh store: tenants=%v err=%v", tenants, err)
			}
			ten := &accessbot.Tenant{Slug: "acme", Name: "Acme"}
			if err := s.CreateTenant(ctx, ten); err != nil {
				t.Fatal(err)
			}
			if err := s.CreateTenant(ctx, &accessbot.Tenant{Slug: "acme"}); !errors.Is(err, accessbot.ErrConflict) {
				t.Fatalf("duplicate slug: got %v, want ErrConflict", err)
			}
			// Two stores of the same driver are independent.
			other := storetest.Open(t, driver)
			if _, err := other.GetTenant(ctx, ten.ID); !errors.Is(err, accessbot.ErrNotFound) {
				t.Fatalf("second store sees first store's tenant: %v", err)
			}
		})
	}
}
