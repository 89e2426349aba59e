package tenantfile

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
)

func TestParseExample(t *testing.T) {
	f, err := ReadFile("../../examples/tenant.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if f.Tenant.Slug != "acme" || len(f.Users) != 20 || len(f.Applications) != 5 {
		t.Errorf("got slug %q, %d users, %d applications; want acme, 20, 5", f.Tenant.Slug, len(f.Users), len(f.Applications))
	}
	levels := map[int]bool{}
	for _, c := range f.Chains {
		levels[len(c.Levels)] = true
	}
	if !levels[1] || !levels[2] {
		t.Errorf("example needs chains of 1 and 2 levels, has %v", levels)
	}
	if f.Chains[0].Application != "" {
		t.Errorf("first chain should be the tenant default")
	}
	if got := f.Applications[0].MaxDuration; got != 90*24*time.Hour {
		t.Errorf("max_duration = %v", got)
	}
}

// base is a valid file; cases below break one line of it.
const base = `tenant:
  slug: acme
  name: Acme
users:
  - email: alice@acme.com
    name: Alice
    role: admin
  - email: bob@acme.com
    name: Bob
    manager: alice@acme.com
applications:
  - name: GitLab
    primary_owner: alice@acme.com
    max_duration: 30d
    connections:
      - name: devs
approval_chains:
  - name: default
    levels:
      - rule: any
        approvers: [manager]
`

func TestParseBase(t *testing.T) {
	f, err := Parse("tenant.yaml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	if f.Users[1].Manager != "alice@acme.com" || f.Users[1].Role != accessbot.RoleMember || f.Users[1].Status != accessbot.UserActive {
		t.Errorf("defaults not applied: %+v", f.Users[1])
	}
	if f.Applications[0].Connector != "manual" || f.Applications[0].Connections[0].Type != "group" {
		t.Errorf("defaults not applied: %+v", f.Applications[0])
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name    string
		old     string // replaced in base
		new     string
		want    string // substring of the error
		wantAll []string
	}{
		{"bad yaml", "  name: Acme\n", "  name: [Acme\n", "tenant.yaml:3: YAML syntax: did not find expected ',' or ']'", nil},
		{"unknown top key", "users:\n", "userz: []\nusers:\n", "tenant.yaml:4: userz: unknown key", nil},
		{"unknown user key", "    role: admin\n", "    role: admin\n    mail: x\n", "tenant.yaml:8: users[0].mail: unknown key", nil},
		{"duplicate key", "    role: admin\n", "    role: admin\n    role: member\n", "tenant.yaml:8: users[0].role: duplicate key (first at line 7)", nil},
		{"bad email", "bob@acme.com\n    name: Bob", "bob@\n    name: Bob", `tenant.yaml:8: users[1].email: "bob@": not a valid email address`, nil},
		{"missing email", "  - email: bob@acme.com\n", "  - emailx: bob@acme.com\n", "tenant.yaml:8: users[1].emailx: unknown key", nil},
		{"duplicate email case", "bob@acme.com\n    name: Bob", "ALICE@acme.com\n    name: Bob", `tenant.yaml:8: users[1].email: duplicate email "alice@acme.com" (also at line 5`, nil},
		{"unknown manager", "manager: alice@acme.com", "manager: carol@acme.com", `tenant.yaml:10: users[1].manager: no user with email "carol@acme.com" in this file`, nil},
		{"self manager", "manager: alice@acme.com", "manager: bob@acme.com", "tenant.yaml:10: users[1].manager: a user cannot be their own manager", nil},
		{"manager cycle", "    role: admin\n", "    role: admin\n    manager: bob@acme.com\n", "tenant.yaml:8: users[0].manager: manager cycle: alice@acme.com → bob@acme.com → alice@acme.com", nil},
		{"no admin", "    role: admin\n", "    role: member\n", "tenant.yaml:5: users: at least one active user needs role: admin", nil},
		{"bad role", "    role: admin\n", "    role: root\n", `tenant.yaml:7: users[0].role: "root" is not one of: admin, member`, nil},
		{"bad duration", "max_duration: 30d", "max_duration: 30 days", `tenant.yaml:14: applications[0].max_duration: "30 days": not a duration`, nil},
		{"zero duration", "max_duration: 30d", "max_duration: 0s", `tenant.yaml:14: applications[0].max_duration: "0s": must be at least 1m`, nil},
		{"bad rule", "rule: any", "rule: most", `tenant.yaml:20: approval_chains[0].levels[0].rule: "most" is not one of: any, all`, nil},
		{"bad approver", "[manager]", "[boss]", `tenant.yaml:21: approval_chains[0].levels[0].approvers[0]: "boss" is not an approver`, nil},
		{"unknown approver user", "[manager]", "[\"user:zed@acme.com\"]", `tenant.yaml:21: approval_chains[0].levels[0].approvers[0]: no user with email "zed@acme.com" in this file`, nil},
		{"unknown owner", "primary_owner: alice@acme.com", "primary_owner: x@y.com", `tenant.yaml:13: applications[0].primary_owner: no user with email "x@y.com" in this file`, nil},
		{"unknown app in chain", "  - name: default\n", "  - name: default\n    application: Jira\n", `tenant.yaml:19: approval_chains[0].application: no application "Jira" in this file`, nil},
		{"unknown connection in chain", "  - name: default\n", "  - name: default\n    application: gitlab\n    connection: admins\n", `tenant.yaml:20: approval_chains[0].connection: application "GitLab" has no connection "admins" in this file`, nil},
		{"bad connection type", "      - name: devs\n", "      - name: devs\n        type: team\n", `tenant.yaml:17: applications[0].connections[0].type: "team" is not one of: group, role, policy, account`, nil},
		{"terminated without date", "    name: Bob\n", "    name: Bob\n    status: terminated\n", "tenant.yaml:8: users[1].terminated_at: required when status is terminated", nil},
		{"bad date", "    name: Bob\n", "    name: Bob\n    status: terminated\n    terminated_at: 31/01/2025\n", `tenant.yaml:11: users[1].terminated_at: "31/01/2025": not a date`, nil},
		{"missing tenant name", "  name: Acme\n", "", "tenant.yaml:2: tenant.name: required", nil},
		{"list for a string", "  name: Acme\n", "  name: [a, b]\n", "tenant.yaml:3: tenant.name: want a single value, found a list", nil},
		{"quorum above approvers", "      - rule: any\n        approvers: [manager]", "      - quorum: 2\n        approvers: [manager]", `tenant.yaml:20: approval_chains[0].levels[0].quorum: 2 of 1: the level's approvers are at most 1 person`, nil},
		{"quorum of one", "      - rule: any\n", "      - quorum: 1\n", `tenant.yaml:20: approval_chains[0].levels[0].quorum: a quorum of 1 is rule: any`, nil},
		{"quorum not a number", "      - rule: any\n", "      - quorum: two\n", `tenant.yaml:20: approval_chains[0].levels[0].quorum: "two" is not a number of approvals`, nil},
		{"quorum with rule all", "      - rule: any\n", "      - rule: all\n        quorum: 2\n", `tenant.yaml:20: approval_chains[0].levels[0].rule: rule all with quorum: 2`, nil},
		{"rule quorum without k", "rule: any", "rule: quorum", `tenant.yaml:20: approval_chains[0].levels[0].quorum: required with rule: quorum`, nil},
		{"bad channel", "approvers: [manager]", "approvers: [manager]\n        channel: data-team", `tenant.yaml:22: approval_chains[0].levels[0].channel: "data-team" is not a Slack channel id`, nil},
		{"no DMs without channel", "approvers: [manager]", "approvers: [manager]\n        direct_messages: false", `tenant.yaml:22: approval_chains[0].levels[0].direct_messages: false needs a channel`, nil},
		{"several errors", "max_duration: 30d", "max_duration: forever\n    secondary_owner: nobody", "", []string{
			`tenant.yaml:14: applications[0].max_duration: "forever": not a duration`,
			`tenant.yaml:15: applications[0].secondary_owner: "nobody": not a valid email address`,
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(base, tc.old) {
				t.Fatalf("case does not apply: %q not in base", tc.old)
			}
			src := strings.Replace(base, tc.old, tc.new, 1)
			_, err := Parse("tenant.yaml", []byte(src))
			if err == nil {
				t.Fatalf("no error for:\n%s", src)
			}
			if !errors.Is(err, accessbot.ErrInvalid) {
				t.Errorf("error does not wrap ErrInvalid: %v", err)
			}
			want := tc.wantAll
			if tc.want != "" {
				want = append(want, tc.want)
			}
			for _, w := range want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\nwant it to contain\n%s", err, w)
				}
			}
		})
	}
}

func TestParseEmptyAndMultiDoc(t *testing.T) {
	for name, src := range map[string]string{
		"empty":     "",
		"comments":  "# nothing\n",
		"two docs":  base + "---\ntenant: {}\n",
		"top list":  "- a\n",
		"top value": "hello\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse("tenant.yaml", []byte(src))
			if err == nil || !strings.HasPrefix(err.Error(), "tenant.yaml") {
				t.Errorf("got %v, want an error naming the file", err)
			}
		})
	}
}

func TestReadFileMissing(t *testing.T) {
	_, err := ReadFile(t.TempDir() + "/nope.yaml")
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("got %v", err)
	}
}

func TestParseEmptyLists(t *testing.T) {
	for _, tc := range []struct{ old, new, want string }{
		{"    levels:\n      - rule: any\n        approvers: [manager]\n", "    levels: []\n", "tenant.yaml:19: approval_chains[0].levels: at least one level is required"},
		{"    levels:\n      - rule: any\n        approvers: [manager]\n", "", "tenant.yaml:18: approval_chains[0].levels: at least one level is required"},
		{"approvers: [manager]", "approvers: []", "tenant.yaml:21: approval_chains[0].levels[0].approvers: at least one approver is required"},
		{"approvers: [manager]", "approvers: manager", `tenant.yaml:21: approval_chains[0].levels[0].approvers: want a list, found the value "manager"`},
	} {
		_, err := Parse("tenant.yaml", []byte(strings.Replace(base, tc.old, tc.new, 1)))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want %q", err, tc.want)
		}
		if err != nil && strings.Count(err.Error(), "\n") != 0 {
			t.Errorf("want exactly one error, got:\n%v", err)
		}
	}
}
