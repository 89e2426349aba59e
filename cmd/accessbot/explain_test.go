package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// explain request on the example tenant: an entitlement's own chain with a
// quorum, an approvers' channel and step-up; a channel route whose chain
// names the person the access is for (left out, admins fill in); and the
// tenant default outside the channel.
func TestExplainRequest(t *testing.T) {
	t.Parallel()
	env := map[string]string{"ACCESSBOT_STORE_DSN": "file:" + filepath.Join(t.TempDir(), "a.db")}
	run := func(args ...string) (string, error) {
		m, stdout, _ := testMain(env)
		// Before Lucas Martin's delegation to Sofia Rossi ends (2027-02-01).
		m.Now = func() time.Time { return time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC) }
		err := m.Run(context.Background(), args)
		return stdout.String(), err
	}
	if _, err := run("apply", "-f", "../../examples/tenant.yaml"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want []string
		not  []string
	}{
		{"quorum, channel and step-up", []string{"--app", "AWS", "--entitlement", "AdministratorAccess", "--for", "sofia.rossi@acme.com"}, []string{
			"request: AdministratorAccess in AWS for Sofia Rossi <sofia.rossi@acme.com>",
			"risk: high: each approval counts only after the approver signs in again at https://login.acme.com (step-up)",
			"chain: aws-administrator: the entitlement's own chain",
			"level 1: any one of 1",
			"manager: James Okafor <james.okafor@acme.com> (manager of Sofia Rossi) → asked",
			"level 2: 2 of 3 must approve (quorum); card also posted in approvers' channel C0SECAPPROVE",
			"user: Maya Chen <maya.chen@acme.com> (named in the chain) → asked",
		}, nil},
		{"channel route, target left out", []string{"--app", "Slack", "--for", "tom.baker@acme.com", "--by", "lena.fischer@acme.com", "--channel", "C0ITHELP"}, []string{
			"asked by Lena Fischer <lena.fischer@acme.com>, made in channel C0ITHELP",
			"chain: it-help: the chain of channel C0ITHELP, where the request was made (the application has no chain of its own)",
			"manager: Omar Haddad <omar.haddad@acme.com> (manager of Tom Baker) → asked",
			"user: Tom Baker <tom.baker@acme.com> (named in the chain) is left out: the person the access is for never approves",
			"nobody named by the chain can approve: fallback to the tenant admins",
		}, []string{"asked: Omar Haddad <omar.haddad@acme.com>, Lena Fischer"}}, // the admins but Lena, who asks
		{"outside the channel", []string{"--app", "Slack", "--for", "tom.baker@acme.com"}, []string{
			"chain: default: the tenant default chain",
		}, []string{"on behalf:"}},
		{"a delegate stands in", []string{"--app", "Slack", "--for", "emma.johansson@acme.com"}, []string{
			"manager: Lucas Martin <lucas.martin@acme.com> (manager of Emma Johansson) is away until 2027-02-01 → asked: their delegate Sofia Rossi <sofia.rossi@acme.com>",
			"asked: Sofia Rossi <sofia.rossi@acme.com>",
		}, nil},
		// --by is checked against the on_behalf: policy, as a request is.
		{"skip-level manager", []string{"--app", "Slack", "--for", "sofia.rossi@acme.com", "--by", "priya.nair@acme.com"}, []string{
			"on behalf: allowed: Sofia Rossi is in Priya Nair's reporting line",
		}, nil},
		{"group member for the group's application", []string{"--app", "Slack", "--for", "sofia.rossi@acme.com", "--by", "tom.baker@acme.com"}, []string{
			"on behalf: allowed: Tom Baker is in group it-helpdesk",
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := run(append([]string{"explain", "request"}, tc.args...)...)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tc.not {
				if strings.Contains(out, w) {
					t.Errorf("output has %q:\n%s", w, out)
				}
			}
		})
	}
	// Nobody would be asked for a request the policy refuses: it says so.
	for _, args := range [][]string{
		{"--app", "Slack", "--for", "daniel.kim@acme.com", "--by", "sofia.rossi@acme.com"}, // a peer
		{"--app", "GitLab", "--for", "sofia.rossi@acme.com", "--by", "tom.baker@acme.com"}, // not the group's application
	} {
		out, err := run(append([]string{"explain", "request"}, args...)...)
		if err == nil || !strings.Contains(err.Error(), "may not request") || !strings.Contains(err.Error(), "nobody would be asked") || strings.Contains(out, "chain:") {
			t.Fatalf("%v: err %v, output %q; want a refusal", args, err, out)
		}
	}
	if _, err := run("explain", "request", "--app", "Nope", "--for", "tom.baker@acme.com"); err == nil || !strings.Contains(err.Error(), "--app Nope: no such application") {
		t.Fatalf("unknown app: %v", err)
	}
}
