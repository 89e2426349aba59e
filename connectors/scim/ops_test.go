package scim_test

import (
	"slices"
	"testing"

	"github.com/accessbot/accessbot/connectors/scim"
	"github.com/accessbot/accessbot/flows/provision"
)

// TestOpsAreWhatApplyAccepts: apply refuses a scim_api_* script whose
// operation is not in provision.BuiltProviders, so it must list exactly
// what the runner does (else a script apply took fails when its flow runs,
// or one the runner can do is refused).
func TestOpsAreWhatApplyAccepts(t *testing.T) {
	got := slices.Sorted(slices.Values(provision.BuiltProviders[scim.Provider]))
	want := slices.Sorted(slices.Values(scim.Ops))
	if !slices.Equal(got, want) {
		t.Fatalf("provision.BuiltProviders[%q] = %v, the runner does %v", scim.Provider, got, want)
	}
}
