package inventory_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/accessbot/accessbot/flows/inventory"
	"github.com/accessbot/accessbot/flows/userimport"
	"github.com/accessbot/accessbot/store/storetest"
)

// TestRelationsBrokenMidFile: relations are streamed into the store, so a
// broken row can be met after rows were staged; the upload must still
// return the file error and write nothing, even without --strict.
func TestRelationsBrokenMidFile(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			f := setup(t, driver)
			f.ok(t, inventory.Identities, identitiesCSV)
			f.ok(t, inventory.Entitlements, entitlementsCSV)
			f.ok(t, inventory.Relations, relationsCSV)
			before := dump(t, f)
			res, err := f.upload(t, inventory.Relations, "identity_id,entitlement_id\nu-alice,devs\nu-bob,devs\n\"u-carol,devs\n", inventory.Options{AllowRemovals: true})
			var fe *userimport.FileError
			if res != nil || !errors.As(err, &fe) || !strings.HasPrefix(err.Error(), "relations.csv:4: malformed CSV") {
				t.Fatalf("res = %v, err = %v; want a file error at line 4", res, err)
			}
			if after := dump(t, f); after != before {
				t.Fatalf("store changed:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

// TestIdentitiesBrokenMidFile: identities are streamed too; a broken row
// after staged ones returns the file error and writes nothing.
func TestIdentitiesBrokenMidFile(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			f := setup(t, driver)
			f.ok(t, inventory.Identities, identitiesCSV)
			before := dump(t, f)
			res, err := f.upload(t, inventory.Identities, "identity_id,email\nu-new,new@acme.test\nu-alice,changed@acme.test\n\"u-carol,c@acme.test\n", inventory.Options{AllowRemovals: true})
			var fe *userimport.FileError
			if res != nil || !errors.As(err, &fe) || !strings.HasPrefix(err.Error(), "identities.csv:4: malformed CSV") {
				t.Fatalf("res = %v, err = %v; want a file error at line 4", res, err)
			}
			if after := dump(t, f); after != before {
				t.Fatalf("store changed:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}
