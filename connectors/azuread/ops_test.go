package azuread_test

import (
	"slices"
	"testing"

	"github.com/accessbot/accessbot/connectors/azuread"
	"github.com/accessbot/accessbot/flows/provision"
)

// TestOpsAreWhatApplyAccepts: apply refuses a azuread_api_* script whose
// operation is not in provision.BuiltProviders, so it must list exactly
// what the runner does (else a script apply took fails when its flow runs,
// or one the runner can do is refused).
func TestOpsAreWhatApplyAccepts(t *testing.T) {
	got := slices.Sorted(slices.Values(provision.BuiltProviders[azuread.Provider]))
	want := slices.Sorted(slices.Values(azuread.Ops))
	if !slices.Equal(got, want) {
		t.Fatalf("provision.BuiltProviders[%q] = %v, the runner does %v", azuread.Provider, got, want)
	}
}
