package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/accessbot/accessbot/connectors/azuread"
	"github.com/accessbot/accessbot/connectors/azuread/graphfake"
	"github.com/accessbot/accessbot/connectors/scim/scimfake"
)

// TestDirectoryCommands: a tenant file declares an Entra ID and a SCIM
// connector (secrets from the environment) and two applications that sync
// on a schedule; `sync` reads both, `connectors status` shows them
// Connected with their schedule and counts, and `connectors test` prints
// which Graph permissions are missing and what the SCIM server supports.
func TestDirectoryCommands(t *testing.T) {
	t.Parallel()
	g := graphfake.New()
	defer g.Close()
	g.SetRoles("User.Read.All", "Group.Read.All", "Directory.Read.All", "RoleManagement.Read.All", "AuditLog.Read.All",
		"AdministrativeUnit.Read.All", "Application.Read.All", "Group.ReadWrite.All")
	alice := g.PutUser(graphfake.User{UPN: "ada@acme.test", Mail: "ada@acme.test", DisplayName: "Ada", AccountEnabled: true})
	g.AddMember(g.PutGroup(graphfake.Group{DisplayName: "Sales"}), alice)
	s := scimfake.New()
	defer s.Close()
	bob := s.PutUser(scimfake.User{UserName: "bob@acme.test", Active: true})
	s.AddMember(s.PutGroup("Editors"), bob)

	dir := t.TempDir()
	env := map[string]string{
		"ACCESSBOT_STORE_DSN":         "file:" + filepath.Join(dir, "a.db"),
		"ACCESSBOT_ENCRYPTION_KEY":    base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{5}, 32)),
		"ACCESSBOT_ENCRYPTION_KEY_ID": "k1",
		"ACCESSBOT_LOG_LEVEL":         "warn",
		"ENTRA_CLIENT_SECRET":         g.ClientSecret,
		"WIKI_SCIM_TOKEN":             s.Token,
	}
	run := func(args ...string) (string, error) {
		m, stdout, _ := testMain(env)
		err := m.Run(context.Background(), args)
		return stdout.String(), err
	}
	file := filepath.Join(dir, "tenant.yaml")
	tenant := `tenant: {slug: acme, name: Acme}
users:
  - {email: ada@acme.test, name: Ada, role: admin}
outbound:
  allow: ["127.0.0.1"]
connectors:
  - name: entra
    type: azuread
    tenant_id: ` + g.TenantID + `
    client_id: ` + g.ClientID + `
    authority_url: ` + g.URL() + `
    graph_url: ` + g.GraphURL() + `
    client_secret_env: ENTRA_CLIENT_SECRET
  - name: wiki
    type: scim
    base_url: ` + s.URL() + `
    token_env: WIKI_SCIM_TOKEN
applications:
  - name: Entra ID
    connector: entra
    primary_owner: ada@acme.test
    sync: {every: 6h}
    provisioning:
      group:
        provision:
          - type: azuread_api_add_user_to_group
        deprovision:
          - type: azuread_api_remove_user_from_group
  - name: Wiki
    connector: wiki
    primary_owner: ada@acme.test
    sync: {cron: "15 3 * * *", time_zone: Europe/Berlin}
    provisioning:
      group:
        provision:
          - type: scim_api_add_user_to_group
`
	if err := os.WriteFile(file, []byte(tenant), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := run("apply", "-f", file)
	if err != nil || !strings.Contains(out, "+ sync Entra ID: cron") || !strings.Contains(out, `+ sync Wiki: cron "15 3 * * *", time_zone Europe/Berlin`) {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	out, err = run("connectors", "status")
	if err != nil || !strings.Contains(out, "Entra ID     entra      Pending") || !strings.Contains(out, "15 3 * * * Europe/Berlin") {
		t.Fatalf("status before a sync: %v\n%s", err, out)
	}
	for app, want := range map[string]string{"Entra ID": "full sync of Entra ID: 1 identities, 1 entitlements, 1 relations", "Wiki": "full sync of Wiki: 1 identities, 1 entitlements, 1 relations"} {
		if out, err = run("sync", app); err != nil || !strings.Contains(out, want) {
			t.Fatalf("sync %s: %v\n%s", app, err, out)
		}
	}
	out, err = run("connectors", "status")
	if err != nil || strings.Count(out, "Connected  Data available") != 2 || !strings.Contains(out, "Wiki: full sync of Wiki: 1 identities") {
		t.Fatalf("status: %v\n%s", err, out)
	}

	out, err = run("connectors", "test", "Entra ID")
	missing := azuread.Missing(g.Roles, azuread.LifecyclePermissions)
	if err == nil || !strings.Contains(err.Error(), "1 check(s) failed") || len(missing) == 0 ||
		!strings.Contains(out, "ok   read-only (access review) permissions: all granted") ||
		!strings.Contains(out, "FAIL lifecycle permissions: missing "+strings.Join(missing, ", ")+" (the application's provisioning runs azuread_api_* scripts)") ||
		strings.Contains(out, "Group.ReadWrite.All (") || !strings.Contains(out, "ok   read the directory") {
		t.Fatalf("test Entra ID: %v\n%s", err, out)
	}
	g.SetRoles(append(g.Roles, azuread.LifecyclePermissions...)...)
	if out, err = run("connectors", "test", "Entra ID"); err != nil || !strings.Contains(out, "ok   lifecycle permissions: all granted") {
		t.Fatalf("test Entra ID with every permission: %v\n%s", err, out)
	}
	if out, err = run("connectors", "test", "Wiki"); err != nil || !strings.Contains(out, "ok   ServiceProviderConfig: patch true, filter true, authentication oauthbearertoken") ||
		!strings.Contains(out, "ok   credentials: the token reads /Users and /Groups") {
		t.Fatalf("test Wiki: %v\n%s", err, out)
	}
	s.SetToken("rotated")
	if out, err = run("connectors", "test", "Wiki"); err == nil || !strings.Contains(out, "FAIL credentials: scim: read users: HTTP 401 (the bearer token was refused") {
		t.Fatalf("test Wiki with a stale token: %v\n%s", err, out)
	}
}
