package catalog

import (
	"os"
	"strings"
	"testing"
)

// TestDocumented: every connector type, every setting and every script
// type a connector runs is in docs/connectors.md.
func TestDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/connectors.md")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"type: gitlab", "type: webhook", "type: email", "type: slack",
		"type: hooks_webhook_", "type: email_notification", "type: email_approval", "type: slack_notification", "type: slack_approval", "type: manual"}
	for _, op := range []string{"create", "add_comment", "add_label", "remove_label", "close", "assign_user", "unassign_user"} {
		want = append(want, "type: gitlab_issue_"+op)
	}
	for _, ty := range Types() {
		for _, k := range ty.Keys() {
			want = append(want, "`"+k+"`")
		}
	}
	for _, w := range want {
		if !strings.Contains(string(doc), w) {
			t.Errorf("docs/connectors.md does not mention %s", w)
		}
	}
}

func TestNames(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{{"hooks", true}, {"corp_hooks", true}, {"a", true}, {"Hooks", false}, {"my-hooks", false}, {"x_webhook_y", false},
		{"x_api_y", false}, {"x_api", false}, {"1x", false}, {strings.Repeat("a", 33), false}} {
		if err := CheckName(tc.name); (err == nil) != tc.ok {
			t.Errorf("CheckName(%q) = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
	if err := CheckEnvName("glpat-abc123"); err == nil || strings.Contains(err.Error(), "glpat") {
		t.Fatalf("CheckEnvName: %v", err)
	}
	if ty, ok := Lookup("smtp"); !ok || ty.Name != Email {
		t.Fatal("smtp is email")
	}
	for _, typ := range []string{"azuread", "scim"} {
		if ty, ok := Lookup(typ); !ok || len(ty.Fields) == 0 {
			t.Fatalf("%s is built", typ)
		}
	}
}
