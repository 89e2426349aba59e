package provision

import (
	"errors"
	"testing"
)

func TestParseType(t *testing.T) {
	tests := []struct {
		in           string
		kind         Kind
		provider, op string
		bad          bool
	}{
		{in: "none", kind: KindNone},
		{in: "sleep", kind: KindSleep},
		{in: "manual", kind: KindManual},
		{in: "slack_approval", kind: KindSlack, op: "approval"},
		{in: "email_notification", kind: KindEmail, op: "notification"},
		{in: "gitlab_issue_add_label", kind: KindGitLabIssue, op: "issue_add_label"},
		{in: "gitlab_issue_reopen", bad: true},
		{in: "azuread_api_add_user_to_group", kind: KindProviderAPI, provider: "azuread", op: "add_user_to_group"},
		{in: "scim_api_create_user", kind: KindProviderAPI, provider: "scim", op: "create_user"},
		{in: "hr_webhook_offboard", kind: KindWebhook, provider: "hr", op: "offboard"},
		{in: "hr_webhook_", bad: true},
		{in: "Bad_api_create_user", bad: true},
		{in: "", bad: true},
		{in: "slack_dm", bad: true},
	}
	for _, tt := range tests {
		k, p, op, err := ParseType(tt.in)
		if tt.bad {
			if !errors.Is(err, ErrUnknownScript) {
				t.Errorf("ParseType(%q) err = %v, want ErrUnknownScript", tt.in, err)
			}
			continue
		}
		if err != nil || k != tt.kind || p != tt.provider || op != tt.op {
			t.Errorf("ParseType(%q) = %q %q %q %v, want %q %q %q", tt.in, k, p, op, err, tt.kind, tt.provider, tt.op)
		}
	}
}

func TestPermanent(t *testing.T) {
	base := errors.New("boom")
	if !IsPermanent(Permanent(base)) || !errors.Is(Permanent(base), base) {
		t.Fatal("Permanent lost its mark or its cause")
	}
	if IsPermanent(base) || Permanent(nil) != nil {
		t.Fatal("IsPermanent true for a plain error, or Permanent(nil) not nil")
	}
}
