package tenantfile

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

// salesforceAnchor is where the tests insert Salesforce's provisioning section.
const salesforceAnchor = "    secondary_owner: fatima.zahra@acme.com\n"

const salesforceChains = salesforceAnchor + `    provisioning:
      role:
        provision:
          - type: crm_webhook_add_role
            params:
              user: "{{.Target.Email}}"
              role: "{{.Connection.Name}}"
            timeout: 30s
          - type: sleep
            params: {duration: 1m}
        deprovision:
          - type: manual
`

func TestActionChainsApplyAndShowInTheDiff(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		base := string(baseYAML(t))
		if !strings.Contains(base, salesforceAnchor) {
			t.Fatal("examples/tenant.yaml's Salesforce changed: update this test")
		}
		mustApply(t, s, []byte(base))
		src := strings.Replace(base, salesforceAnchor, salesforceChains, 1)
		res := mustApply(t, s, []byte(src))
		want := "provisioning.role.provision [manual]→[crm_webhook_add_role sleep]"
		if got := lines(res); !strings.Contains(got, want) || strings.Contains(got, "provisioning.role.deprovision") {
			t.Fatalf("diff:\n%s\nwant a line with %q and none for the unchanged deprovision", got, want)
		}
		tn, err := s.GetTenantBySlug(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		sf, err := s.GetApplicationByName(ctx, tn.ID, "Salesforce")
		if err != nil {
			t.Fatal(err)
		}
		c := sf.Provisioning["role"]
		if len(c.Provision) != 2 || c.Provision[0].Timeout != 30*time.Second || c.Provision[0].Params["user"] != "{{.Target.Email}}" ||
			len(c.Deprovision) != 1 || c.Deprovision[0].Type != "manual" {
			t.Fatalf("stored chains %+v", sf.Provisioning)
		}
		if res := mustApply(t, s, []byte(src)); len(res.Changes) != 0 {
			t.Fatalf("second apply changed %s", lines(res))
		}
		res = mustApply(t, s, []byte(strings.Replace(src, "timeout: 30s", "timeout: 45s", 1)))
		if got := lines(res); !strings.Contains(got, "provisioning.role.provision [crm_webhook_add_role sleep]→[crm_webhook_add_role sleep] (params or timeouts changed)") {
			t.Fatalf("diff of a changed timeout:\n%s", got)
		}
		res = mustApply(t, s, []byte(base))
		if got := lines(res); !strings.Contains(got, "provisioning.role.provision [crm_webhook_add_role sleep]→[manual]") {
			t.Fatalf("diff of removed chains:\n%s", got)
		}
		sf, _ = s.GetApplicationByName(ctx, tn.ID, "Salesforce")
		if sf.Provisioning != nil {
			t.Fatalf("chains left after removing them: %+v", sf.Provisioning)
		}
	})
}

func TestBadActionChainsRefused(t *testing.T) {
	t.Parallel()
	base := string(baseYAML(t))
	at := strings.Index(base, salesforceAnchor)
	first := strings.Count(base[:at], "\n") + 2 // the provisioning line
	stored := func(t *testing.T, s store.Store) string {
		return tenantsJSON(t, s, func(ctx context.Context, id string) (any, error) {
			apps, err := s.ListApplications(ctx, id, "", 0)
			var out []map[string]accessbot.ActionChain
			for _, a := range apps {
				out = append(out, a.Provisioning)
			}
			return out, err
		})
	}
	edit := func(name, from, to, want string, line int) badEdit {
		return badEdit{name, salesforceAnchor, strings.Replace(salesforceChains, from, to, 1), want, first + line}
	}
	refuseEdits(t, base, stored, []badEdit{
		edit("unknown type", "type: sleep", "type: fax_send", `applications[2].provisioning.role.provision[1].type: "fax_send": unknown script type`, 8),
		edit("template does not parse", `"{{.Connection.Name}}"`, `"{{.Connection.Name"`, `applications[2].provisioning.role.provision[0].params.role: not a template`, 6),
		edit("field that does not exist", `"{{.Target.Email}}"`, `"{{.Target.Phone}}"`, `applications[2].provisioning.role.provision[0].params.user: uses a field that does not exist (template: param:1:`, 5),
		edit("provider without a connector", "type: crm_webhook_add_role", "type: okta_api_add_user_to_role", `applications[2].provisioning.role.provision[0].type: "okta_api_add_user_to_role": provider "okta" has no API connector`, 3),
		edit("operation the connector does not do", "type: crm_webhook_add_role", "type: scim_api_add_user_to_role", `applications[2].provisioning.role.provision[0].type: "scim_api_add_user_to_role": the scim connector does not do add_user_to_role (it does: create_user, disable_user, delete_user, create_group, delete_group, add_user_to_group, remove_user_from_group)`, 3),
		edit("unknown relationship", "      role:\n", "      roles:\n", `applications[2].provisioning.roles: "roles" is not a relationship type`, 1),
		edit("bad timeout", "timeout: 30s", "timeout: soon", `applications[2].provisioning.role.provision[0].timeout: "soon" is not a positive duration`, 7),
		edit("sleep without duration", "            params: {duration: 1m}\n", "", `applications[2].provisioning.role.provision[1].params.duration: a sleep step needs params.duration`, 8),
	})
}
