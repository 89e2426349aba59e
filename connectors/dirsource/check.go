package dirsource

import (
	"context"
	"fmt"
	"strings"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/connectors/azuread"
	"github.com/accessbot/accessbot/connectors/scim"
	"github.com/accessbot/accessbot/internal/secrets"
	"github.com/accessbot/accessbot/store"
)

// Check is one finding of `accessbot connectors test`.
type Check struct {
	OK   bool
	Text string
}

// Report is what testing an application's connector found.
type Report struct {
	App, Connector, Type string
	Checks               []Check
}

// OK reports whether every check passed.
func (r *Report) OK() bool {
	for _, c := range r.Checks {
		if !c.OK {
			return false
		}
	}
	return true
}

func (r *Report) add(ok bool, format string, args ...any) {
	r.Checks = append(r.Checks, Check{OK: ok, Text: fmt.Sprintf(format, args...)})
}

// usesScripts reports whether app's chains run provider's API scripts.
func usesScripts(app *accessbot.Application, provider string) bool {
	for _, ch := range app.Provisioning {
		for _, s := range append(append([]accessbot.ActionScript{}, ch.Provision...), ch.Deprovision...) {
			if strings.HasPrefix(s.Type, provider+"_api_") {
				return true
			}
		}
	}
	return false
}

// Test checks app's connector: its credentials, that it can read the
// directory, and (Entra ID) which of the seed's Graph application
// permissions are missing, or (SCIM) what /ServiceProviderConfig says.
// A connector that cannot be found or built is an error; what the
// checks find is in the report.
func Test(ctx context.Context, q Store, keys *secrets.Keyring, app *accessbot.Application, log zerolog.Logger) (*Report, error) {
	c, err := Find(ctx, q, app)
	if err != nil {
		return nil, err
	}
	r := &Report{App: app.Name, Connector: c.Name, Type: c.Type}
	switch c.Type {
	case azuread.Type:
		return r, testEntra(ctx, q, keys, app, c, r, log)
	case scim.Type:
		return r, testSCIM(ctx, q, keys, app, c, r, log)
	}
	return nil, fmt.Errorf("connector %s of type %s: %w", c.Name, c.Type, ErrNotSyncable)
}

func testEntra(ctx context.Context, q Store, keys *secrets.Keyring, app *accessbot.Application, c *store.Connector, r *Report, log zerolog.Logger) error {
	cl, err := azuread.FromConnector(ctx, q, keys, c, log)
	if err != nil {
		return err
	}
	granted, err := cl.GrantedPermissions(ctx)
	if err != nil {
		r.add(false, "credentials: %v", err)
		return nil
	}
	r.add(true, "credentials: a token for app %s in directory %s", c.Settings["client_id"], c.Settings["tenant_id"])
	if len(granted) == 0 {
		r.add(false, "granted permissions: none (add Microsoft Graph application permissions and grant admin consent)")
	} else {
		r.add(true, "granted permissions: %s", strings.Join(granted, ", "))
	}
	if miss := azuread.Missing(granted, azuread.ReadOnlyPermissions); len(miss) > 0 {
		r.add(false, "read-only (access review) permissions: missing %s", strings.Join(miss, ", "))
	} else {
		r.add(true, "read-only (access review) permissions: all granted")
	}
	miss := azuread.Missing(granted, azuread.LifecyclePermissions)
	switch {
	case len(miss) == 0:
		r.add(true, "lifecycle permissions: all granted")
	case usesScripts(app, azuread.Provider):
		r.add(false, "lifecycle permissions: missing %s (the application's provisioning runs azuread_api_* scripts)", strings.Join(miss, ", "))
	default:
		r.add(true, "lifecycle permissions: missing %s (not needed: the application runs no azuread_api_* script)", strings.Join(miss, ", "))
	}
	if azuread.Holds(granted, azuread.LeaveDatePermission) || azuread.Holds(granted, "User-LifeCycleInfo.ReadWrite.All") {
		r.add(true, "leave dates: %s granted", azuread.LeaveDatePermission)
	} else {
		r.add(true, "leave dates: %s not granted (optional: without it employeeLeaveDateTime is not read, and no employee is terminated from it)", azuread.LeaveDatePermission)
	}
	if err := cl.CheckRead(ctx); err != nil {
		r.add(false, "read the directory: %v", err)
	} else {
		r.add(true, "read the directory: users and groups readable")
	}
	return nil
}

func testSCIM(ctx context.Context, q Store, keys *secrets.Keyring, app *accessbot.Application, c *store.Connector, r *Report, log zerolog.Logger) error {
	cl, err := scim.FromConnector(ctx, q, keys, c, log)
	if err != nil {
		return err
	}
	sp, err := cl.Config(ctx)
	if err != nil {
		r.add(false, "ServiceProviderConfig: %v", err)
	} else {
		var schemes []string
		for _, s := range sp.AuthenticationSchemes {
			schemes = append(schemes, s.Type)
		}
		r.add(true, "ServiceProviderConfig: patch %v, filter %v, authentication %s", sp.Patch.Supported, sp.Filter.Supported, strings.Join(schemes, ", "))
		if !sp.Patch.Supported && usesScripts(app, scim.Provider) {
			r.add(false, "PATCH: not supported, and the application's provisioning runs scim_api_* scripts (deactivate and membership changes are PATCH operations)")
		}
		if !sp.Filter.Supported && usesScripts(app, scim.Provider) {
			r.add(false, "filter: not supported, and the scim_api_* scripts find users and groups by userName and displayName")
		}
	}
	if err := cl.CheckRead(ctx); err != nil {
		r.add(false, "credentials: %v", err)
	} else {
		r.add(true, "credentials: the token reads /Users and /Groups")
	}
	return nil
}
