package tenantfile

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/accessbot/accessbot/flows/provision"
	"github.com/accessbot/accessbot/store"
)

// seedAPIOps are the {provider}_api_ operations of the script-type table
// of the provisioning spec (docs/provisioning.md lists them too).
var seedAPIOps = []string{"create_entity", "delete_entity", "create_group", "delete_group", "create_role", "delete_role",
	"create_user", "disable_user", "delete_user", "add_user_to_entity", "add_user_to_group", "add_user_to_role",
	"allocate_license", "remove_user_from_entity", "remove_user_from_group", "remove_user_from_role"}

// seedOtherTypes are the table's other script types ({provider}_webhook_
// with a provider and endpoint filled in).
var seedOtherTypes = []string{"none", "sleep", "manual", "hooks_webhook_grant", "slack_notification", "slack_approval",
	"email_notification", "email_approval", "gitlab_issue_create", "gitlab_issue_add_comment", "gitlab_issue_add_label",
	"gitlab_issue_remove_label", "gitlab_issue_close", "gitlab_issue_assign_user", "gitlab_issue_unassign_user"}

func scriptYAML(types []string) string {
	var b strings.Builder
	b.WriteString(salesforceAnchor + "    provisioning:\n      group:\n        provision:\n")
	for _, t := range types {
		fmt.Fprintf(&b, "          - type: %s\n", t)
		if t == "sleep" {
			b.WriteString("            params: {duration: 1m}\n")
		}
	}
	return b.String()
}

// TestEverySeedScriptTypeApplies: apply takes every script type of the
// spec's table — each operation a built API connector does, for that
// provider — stores it in order, and refuses, naming it, a provider with
// no connector and an operation its connector does not do.
func TestEverySeedScriptTypeApplies(t *testing.T) {
	t.Parallel()
	base := string(baseYAML(t))
	types := slices.Clone(seedOtherTypes)
	var refused []string
	for _, op := range seedAPIOps {
		for _, p := range []string{"azuread", "scim"} {
			if slices.Contains(provision.BuiltProviders[p], op) {
				types = append(types, p+"_api_"+op)
			} else {
				refused = append(refused, p+"_api_"+op)
			}
		}
		refused = append(refused, "okta_api_"+op)
	}
	for _, op := range seedAPIOps { // every operation is done by some built connector, or named as not done
		if !slices.ContainsFunc(types, func(s string) bool { return strings.HasSuffix(s, "_api_"+op) }) && !slices.Contains(refused, "azuread_api_"+op) {
			t.Fatalf("operation %s neither applies nor is refused", op)
		}
	}
	forEachDriver(t, func(t *testing.T, s store.Store) {
		src := strings.Replace(base, salesforceAnchor, scriptYAML(types), 1)
		mustApply(t, s, []byte(src))
		tn, err := s.GetTenantBySlug(context.Background(), "acme")
		if err != nil {
			t.Fatal(err)
		}
		sf, err := s.GetApplicationByName(context.Background(), tn.ID, "Salesforce")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, sc := range sf.Provisioning["group"].Provision {
			got = append(got, sc.Type)
		}
		if !slices.Equal(got, types) {
			t.Fatalf("stored chain %v, want %v", got, types)
		}
	})
	for _, typ := range refused {
		t.Run(typ, func(t *testing.T) {
			_, err := Parse("tenant.yaml", []byte(strings.Replace(base, salesforceAnchor, scriptYAML([]string{typ}), 1)))
			provider, op, _ := strings.Cut(typ, "_api_")
			want := fmt.Sprintf("the %s connector does not do %s", provider, op)
			if provider == "okta" {
				want = `provider "okta" has no API connector`
			}
			if err == nil || !strings.Contains(err.Error(), "provisioning.group.provision[0].type: \""+typ+"\": "+want) {
				t.Fatalf("err = %v\nwant %q", err, want)
			}
		})
	}
}

// TestScriptsNeedTheirConnectors: when the file has a connectors: section
// (the tenant's complete set), a script no declared connector could run is
// refused at its type's line, instead of failing when a flow runs.
func TestScriptsNeedTheirConnectors(t *testing.T) {
	t.Parallel()
	base := string(baseYAML(t))
	conns := "connectors:\n" + playgroundHook +
		"  - {name: hooks, type: webhook, url: \"https://hooks.example.com/{endpoint}\"}\n" +
		"  - {name: git, type: gitlab, token_env: T}\n"
	for _, tc := range []struct{ name, typ, params, extra, want string }{
		{"declared webhook", "hooks_webhook_grant", "", "", ""},
		{"webhook typo", "hoks_webhook_grant", "", "", `"hoks_webhook_grant": connectors: declares no webhook connector named "hoks"`},
		{"webhook named like a gitlab one", "git_webhook_grant", "", "", `"git_webhook_grant": connector "git" is of type gitlab, not webhook`},
		{"gitlab", "gitlab_issue_create", "{title: x}", "", ""},
		{"gitlab by a name that is not one", "gitlab_issue_create", "{title: x, connector: gl}", "", `declares no gitlab connector named "gl"`},
		{"two gitlabs, none named", "gitlab_issue_close", "", "  - {name: git2, type: gitlab, token_env: T}\n", "declares 2 gitlab connectors: name one with params.connector"},
		{"two gitlabs, one named", "gitlab_issue_close", "{connector: git2}", "  - {name: git2, type: gitlab, token_env: T}\n", ""},
		{"email without an email connector", "email_notification", "", "", `"email_notification": connectors: declares no email connector`},
		{"azuread without one", "azuread_api_add_user_to_group", "", "", "declares no azuread connector"},
		{"slack needs none", "slack_notification", "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			script := "          - type: " + tc.typ + "\n"
			if tc.params != "" {
				script += "            params: " + tc.params + "\n"
			}
			src := strings.Replace(base, salesforceAnchor, salesforceAnchor+"    provisioning:\n      role:\n        provision:\n"+script, 1) + conns + tc.extra
			_, err := Parse("tenant.yaml", []byte(src))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), "applications[2].provisioning.role.provision[0].type: ") || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("err = %v\nwant %q at the script's type", err, tc.want)
			}
		})
	}
	// Without a connectors: section nothing is checked: the connectors
	// stored before (or added by the playground) stay.
	src := strings.Replace(base, salesforceAnchor, salesforceAnchor+"    provisioning:\n      role:\n        provision:\n          - type: hoks_webhook_grant\n", 1)
	if _, err := Parse("tenant.yaml", []byte(src)); err != nil {
		t.Fatalf("without connectors: %v", err)
	}
}
