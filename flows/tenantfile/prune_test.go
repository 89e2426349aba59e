package tenantfile

import (
	"context"
	"strings"
	"testing"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

// small is a tenant file with room to edit.
const small = `tenant: {slug: beta, name: Beta}
slack: {team_id: T0BETA, team_name: Beta}
users:
  - {email: ann@beta.io, name: Ann, role: admin}
  - {email: ben@beta.io, name: Ben, manager: ann@beta.io}
applications:
  - name: Jira
    primary_owner: ann@beta.io
    connections:
      - {name: users, type: group}
      - {name: admins, type: role}
    resources:
      - {name: PROJ, type: project}
approval_chains:
  - name: default
    levels: [{rule: any, approvers: [manager]}]
  - name: jira-admins
    application: Jira
    connection: admins
    levels: [{rule: all, approvers: [owners, "user:ben@beta.io"]}]
`

func TestApplyEdits(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		edit   func(string) string
		want   string // the diff, one change per line
		notes  []string
		errSub string
	}{
		{
			name:  "connection left out is kept by default",
			edit:  func(s string) string { return strings.Replace(s, "      - {name: users, type: group}\n", "", 1) },
			want:  "",
			notes: []string{"connection Jira/users is not in this file: kept (prune.connections: true deletes it)"},
		},
		{
			name: "connection left out is deleted with prune",
			edit: func(s string) string {
				return strings.Replace(s, "      - {name: admins, type: role}\n", "", 1) + "prune: {connections: true, approval_chains: true}\n"
			},
			errSub: `approval_chains[1].connection: application "Jira" has no connection "admins" in this file`,
		},
		{
			name: "pruning a connection deletes the chain scoped to it",
			edit: func(s string) string {
				s = strings.Replace(s, "      - {name: admins, type: role}\n", "", 1)
				s = s[:strings.Index(s, "  - name: jira-admins")]
				return s + "prune: {connections: true}\n"
			},
			want: "- connection Jira/admins: with its entitlements\n" +
				"- approval_chain jira-admins: for connection Jira/admins, because connection Jira/admins is deleted\n",
		},
		{
			name: "chain left out is kept, one with prune is deleted",
			edit: func(s string) string {
				return s[:strings.Index(s, "  - name: jira-admins")] + "prune: {approval_chains: true}\n"
			},
			want: "- approval_chain jira-admins: for connection Jira/admins\n",
		},
		{
			name: "a kept chain may not compete for the same target",
			edit: func(s string) string {
				return strings.Replace(s, "  - name: jira-admins\n", "  - name: jira-admins-2\n", 1)
			},
			errSub: `tenant.yaml:17: approval_chains[1]: the store has approval chain "jira-admins" for the same connection Jira/admins`,
		},
		{
			name: "manager relation reversed",
			edit: func(s string) string {
				s = strings.Replace(s, "{email: ann@beta.io, name: Ann, role: admin}", "{email: ann@beta.io, name: Ann, role: admin, manager: ben@beta.io}", 1)
				return strings.Replace(s, ", manager: ann@beta.io}", "}", 1)
			},
			want: "~ user ann@beta.io: manager (none)→ben@beta.io\n~ user ben@beta.io: manager ann@beta.io→(none)\n",
		},
		{
			name: "resource type change replaces it",
			edit: func(s string) string { return strings.Replace(s, "type: project", "type: space", 1) },
			want: "~ resource Jira/PROJ: type project→space\n",
		},
		{
			name: "workspace renamed",
			edit: func(s string) string { return strings.Replace(s, "team_name: Beta}", "team_name: Beta Inc}", 1) },
			want: "~ slack_workspace T0BETA: team_name \"Beta\"→\"Beta Inc\"\n",
		},
		{
			name: "chain levels and attributes",
			edit: func(s string) string {
				s = strings.Replace(s, "[{rule: any, approvers: [manager]}]", "[{rule: any, approvers: [manager]}, {approvers: [owners]}]", 1)
				return strings.Replace(s, "{name: users, type: group}", "{name: users, type: group, attributes: {id: \"42\"}}", 1)
			},
			want: "~ connection Jira/users: attributes.id (none)→\"42\"\n" +
				"~ approval_chain default: levels any(manager)→any(manager) then any(owners)\n",
		},
		{
			name: "user left out is never deleted",
			edit: func(s string) string {
				s = strings.Replace(s, "  - {email: ben@beta.io, name: Ben, manager: ann@beta.io}\n", "", 1)
				return strings.Replace(s, `, "user:ben@beta.io"`, "", 1)
			},
			want:  "~ approval_chain jira-admins: levels all(owners, user:ben@beta.io)→all(owners)\n",
			notes: []string{"1 user(s) in the store are not in this file: left unchanged"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			forEachDriver(t, func(t *testing.T, s store.Store) {
				mustApply(t, s, []byte(small))
				before := snapshot(t, s)
				res, err := applyYAML(t, s, []byte(tc.edit(small)), false)
				if tc.errSub != "" {
					if err == nil || !strings.Contains(err.Error(), tc.errSub) {
						t.Fatalf("got %v, want an error containing %q", err, tc.errSub)
					}
					sameSnapshot(t, before, snapshot(t, s))
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if got := lines(res); got != tc.want {
					t.Errorf("diff:\n%s\nwant:\n%s", got, tc.want)
				}
				for _, n := range tc.notes {
					if !strings.Contains(strings.Join(res.Notes, "\n"), n) {
						t.Errorf("notes %q lack %q", res.Notes, n)
					}
				}
				// Applying the edited file again is a no-op.
				again, err := applyYAML(t, s, []byte(tc.edit(small)), false)
				if err != nil || len(again.Changes) != 0 {
					t.Errorf("second apply: %v, changes:\n%s", err, lines(again))
				}
			})
		})
	}
}

func TestWorkspaceOfAnotherTenantIsRefused(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		other := &accessbot.Tenant{Slug: "other", Name: "Other"}
		if err := s.CreateTenant(ctx, other); err != nil {
			t.Fatal(err)
		}
		if err := s.BindWorkspace(ctx, &accessbot.Workspace{TenantID: other.ID, TeamID: "T0BETA", TeamName: "x"}); err != nil {
			t.Fatal(err)
		}
		before := snapshot(t, s)
		_, err := applyYAML(t, s, []byte(small), false)
		want := `tenant.yaml:2: slack.team_id: Slack workspace T0BETA is already bound to tenant "other"`
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("got %v, want %q", err, want)
		}
		sameSnapshot(t, before, snapshot(t, s))
	})
}

func TestWorkspaceRenameKeepsInstall(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		mustApply(t, s, []byte(small))
		tn, _ := s.GetTenantBySlug(ctx, "beta")
		w, err := s.WorkspaceByTenant(ctx, tn.ID)
		if err != nil {
			t.Fatal(err)
		}
		w.BotTokenSecret, w.BotUserID = "slack/bot-token", "U0BOT"
		if err := s.BindWorkspace(ctx, w); err != nil {
			t.Fatal(err)
		}
		mustApply(t, s, []byte(strings.Replace(small, "team_name: Beta}", "team_name: Beta Inc}", 1)))
		got, err := s.WorkspaceByTenant(ctx, tn.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.TeamName != "Beta Inc" || got.BotTokenSecret != "slack/bot-token" || got.BotUserID != "U0BOT" {
			t.Errorf("workspace = %+v: renamed, with the install kept", got)
		}
	})
}
