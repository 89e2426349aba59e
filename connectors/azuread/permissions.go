package azuread

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// The application permissions of the seed's Integration Scopes table
// (Microsoft Graph, admin consent).
var (
	// ReadOnlyPermissions are what the sync (access review) needs.
	ReadOnlyPermissions = []string{"RoleManagement.Read.All", "AuditLog.Read.All", "AdministrativeUnit.Read.All",
		"Application.Read.All", "Directory.Read.All", "Group.Read.All", "User.Read.All"}
	// LifecyclePermissions are what the azuread_api_* scripts need.
	LifecyclePermissions = []string{"RoleManagement.ReadWrite.Directory", "AuditLog.Read.All", "AdministrativeUnit.ReadWrite.All",
		"Application.ReadWrite.All", "Directory.ReadWrite.All", "Group.ReadWrite.All", "User.ReadWrite.All", "IdentityRiskEvent.Read.All"}
	// LeaveDatePermission lets the sync read employeeLeaveDateTime (the
	// seed's User-LifeCycleInfo.ReadWrite.All; the read permission is enough).
	LeaveDatePermission = "User-LifeCycleInfo.Read.All"
)

// Missing lists the permissions of want that granted lacks, counting a
// ReadWrite permission as holding its Read one.
func Missing(granted, want []string) []string {
	var out []string
	for _, w := range want {
		if !Holds(granted, w) {
			out = append(out, w)
		}
	}
	return out
}

// Holds reports whether granted gives perm (itself, or its ReadWrite form).
func Holds(granted []string, perm string) bool {
	if slices.Contains(granted, perm) {
		return true
	}
	for _, g := range granted {
		// X.ReadWrite.All holds X.Read.All; RoleManagement.ReadWrite.Directory holds RoleManagement.Read.All/Directory.
		if base, scope, ok := strings.Cut(g, ".ReadWrite."); ok {
			if pb, ps, ok := strings.Cut(perm, ".Read."); ok && pb == base && (ps == scope || ps == "All" || ps == "Directory") {
				return true
			}
		}
	}
	return false
}

// GrantedPermissions are the application permissions the directory has
// consented to for this app: the roles claim of its access token (Entra
// ID puts every granted application permission there).
func (c *Client) GrantedPermissions(ctx context.Context) ([]string, error) {
	tok, err := c.token(ctx)
	if err != nil {
		return nil, err
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, &Error{Op: "read the token's roles", Err: fmt.Errorf("the access token is not a JWT")}
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil, &Error{Op: "read the token's roles", Err: fmt.Errorf("decode the token's claims: %w", err)}
	}
	var claims struct {
		Roles []string `json:"roles"`
	}
	if err := json.Unmarshal(raw, &claims); err != nil {
		return nil, &Error{Op: "read the token's roles", Err: fmt.Errorf("decode the token's claims: %w", err)}
	}
	slices.Sort(claims.Roles)
	return claims.Roles, nil
}

// CheckRead reads one user and one group: it fails when the grants do not
// let the app read the directory.
func (c *Client) CheckRead(ctx context.Context) error {
	var p page[struct {
		ID string `json:"id"`
	}]
	if err := c.call(ctx, "read users", http.MethodGet, "/users?$top=1&$select=id", nil, &p); err != nil {
		return err
	}
	return c.call(ctx, "read groups", http.MethodGet, "/groups?$top=1&$select=id", nil, &p)
}
