package provision

import (
	"strings"
	"testing"
	"time"
)

func TestCheckScript(t *testing.T) {
	tests := []struct {
		name  string
		s     Script
		field string // "" when the script is fine
		msg   string
	}{
		{name: "none", s: Script{Type: "none"}},
		{name: "manual with note", s: Script{Type: "manual", Params: map[string]string{"text": "Add {{.Target.Email}} to {{.Connection.Name}}"}}},
		{name: "outputs of earlier steps", s: Script{Type: "gitlab_issue_close", Params: map[string]string{"issue": "{{.Outputs.gitlab_issue_iid}}"}}},
		{name: "unknown type", s: Script{Type: "fax_send"}, field: "type", msg: "unknown script type"},
		{name: "unbuilt provider", s: Script{Type: "okta_api_add_user_to_group"}, field: "type", msg: `provider "okta" has no API connector in this accessbot (built: azuread, scim)`},
		{name: "op the built connector does not do", s: Script{Type: "scim_api_add_user_to_role"}, field: "type",
			msg: `"scim_api_add_user_to_role": the scim connector does not do add_user_to_role (it does: create_user,`},
		{name: "a seed op no connector does yet", s: Script{Type: "azuread_api_allocate_license"}, field: "type", msg: "the azuread connector does not do allocate_license"},
		{name: "a provider's extra endpoint", s: Script{Type: "scim_api_sync_now"}, field: "type", msg: "the scim connector does not do sync_now"},
		{name: "scim create_group is built", s: Script{Type: "scim_api_create_group"}},
		{name: "azuread roles", s: Script{Type: "azuread_api_add_user_to_role"}},
		{name: "scim is built", s: Script{Type: "scim_api_add_user_to_group", Params: map[string]string{"group": "{{.Connection.Name}}"}}},
		{name: "bad template", s: Script{Type: "none", Params: map[string]string{"x": "{{.Target.Email"}}, field: "params.x", msg: "not a template"},
		{name: "missing field", s: Script{Type: "none", Params: map[string]string{"x": "{{.Target.Phone}}"}}, field: "params.x", msg: "uses a field that does not exist"},
		{name: "sleep without duration", s: Script{Type: "sleep"}, field: "params.duration", msg: "needs params.duration"},
		{name: "sleep bad duration", s: Script{Type: "sleep", Params: map[string]string{"duration": "soon"}}, field: "params.duration", msg: "not a duration"},
		{name: "sleep", s: Script{Type: "sleep", Params: map[string]string{"duration": "5m"}}},
		{name: "negative timeout", s: Script{Type: "none", Timeout: -time.Second}, field: "timeout", msg: "positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := CheckScript(tt.s)
			if tt.field == "" {
				if len(ps) > 0 {
					t.Fatalf("problems %+v, want none", ps)
				}
				return
			}
			if len(ps) != 1 || ps[0].Field != tt.field || !strings.Contains(ps[0].Msg, tt.msg) {
				t.Fatalf("problems %+v, want one in %s containing %q", ps, tt.field, tt.msg)
			}
		})
	}
}

func TestRenderMissingKeyIsAnError(t *testing.T) {
	f := SampleFields()
	got, err := Render("{{.Target.Email}} {{.Outputs.iid}}", f)
	if err == nil {
		t.Fatalf("rendered %q with a missing output, want an error", got)
	}
	f.Outputs["iid"] = "42"
	got, err = Render("{{.Target.Email}} #{{.Outputs.iid}}", f)
	if err != nil || got != "ada@example.com #42" {
		t.Fatalf("Render = %q, %v", got, err)
	}
}
