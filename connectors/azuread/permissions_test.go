package azuread_test

import (
	"context"
	"strings"
	"testing"

	"github.com/accessbot/accessbot/connectors/azuread"
	"github.com/accessbot/accessbot/connectors/azuread/graphfake"
)

func TestMissingCountsReadWriteForRead(t *testing.T) {
	for _, tc := range []struct {
		granted []string
		want    []string
		missing string
	}{
		{[]string{"User.ReadWrite.All"}, []string{"User.Read.All"}, ""},
		{[]string{"RoleManagement.ReadWrite.Directory"}, []string{"RoleManagement.Read.All", "RoleManagement.Read.Directory"}, ""},
		{[]string{"User.Read.All"}, []string{"User.ReadWrite.All"}, "User.ReadWrite.All"},
		{[]string{"Group.ReadWrite.All"}, []string{"User.Read.All", "Group.Read.All"}, "User.Read.All"},
		{nil, azuread.ReadOnlyPermissions, strings.Join(azuread.ReadOnlyPermissions, ",")},
	} {
		if got := strings.Join(azuread.Missing(tc.granted, tc.want), ","); got != tc.missing {
			t.Errorf("Missing(%v, %v) = %q; want %q", tc.granted, tc.want, got, tc.missing)
		}
	}
}

// The granted permissions are the token's roles claim; without the read
// permissions, Graph (the fake, as the real one) refuses the reads.
func TestGrantedPermissionsAndCheckRead(t *testing.T) {
	f := graphfake.New()
	defer f.Close()
	f.SetRoles("Group.Read.All", "AuditLog.Read.All")
	c, _ := newClient(t, f)
	ctx := context.Background()
	got, err := c.GrantedPermissions(ctx)
	if err != nil || strings.Join(got, ",") != "AuditLog.Read.All,Group.Read.All" {
		t.Fatalf("granted = %v, %v", got, err)
	}
	if err := c.CheckRead(ctx); err == nil || !strings.Contains(err.Error(), "read users: HTTP 403 Authorization_RequestDenied") {
		t.Fatalf("read without User.Read.All: %v", err)
	}
}
