package tenantfile

import (
	"context"
	"strings"
	"testing"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

// The example's on_behalf: section is stored with ids, and re-applying
// changes nothing; changing it is one request_policy update.
func TestApplyStoresOnBehalfPolicy(t *testing.T) {
	forEachDriver(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		res := mustApply(t, s, exampleYAML(t))
		p, err := s.GetRequestPolicy(ctx, res.TenantID)
		if err != nil {
			t.Fatal(err)
		}
		tom, err := s.GetUserByEmail(ctx, res.TenantID, "tom.baker@acme.com")
		if err != nil {
			t.Fatal(err)
		}
		slack, err := s.GetApplicationByName(ctx, res.TenantID, "Slack")
		if err != nil {
			t.Fatal(err)
		}
		want := accessbot.OnBehalf{Managers: accessbot.ReachReportingLine, Admins: true,
			Groups: []accessbot.OnBehalfGroup{{Name: "it-helpdesk", MemberIDs: []string{tom.ID}, AppIDs: []string{slack.ID}}}}
		if g, w := mustJSON(t, p.OnBehalf), mustJSON(t, want); g != w {
			t.Fatalf("on_behalf = %s, want %s", g, w)
		}
		if again := mustApply(t, s, exampleYAML(t)); len(again.Changes) != 0 {
			t.Fatalf("re-apply changed %d things: %v", len(again.Changes), again.Changes)
		}
		edited := strings.Replace(string(exampleYAML(t)), "  admins: true ", "  admins: false", 1)
		res = mustApply(t, s, []byte(edited))
		if len(res.Changes) != 1 || !strings.Contains(res.Changes[0].String(), "~ request_policy acme: on_behalf managers reporting_line, admins true, groups [it-helpdesk(tom.baker@acme.com → Slack)]→managers reporting_line, admins false") {
			t.Fatalf("changes %v", res.Changes)
		}
	})
}

func TestBadOnBehalfRefusedWithLineAndField(t *testing.T) {
	t.Parallel()
	base := string(exampleYAML(t))
	lineOf := func(needle string) int {
		i := strings.Index(base, needle)
		if i < 0 {
			t.Fatalf("%q not in the example", needle)
		}
		return strings.Count(base[:i], "\n") + 1
	}
	managers := "  managers: reporting_line"
	members := "      members: [tom.baker@acme.com]"
	apps := "      applications: [Slack]\n"
	refuseEdits(t, base, storedPolicy, []badEdit{
		{"unknown reach", managers, "  managers: everyone", `on_behalf.managers: "everyone" is not one of: direct_reports, reporting_line, none`, lineOf(managers)},
		{"admins not a bool", "  admins: true ", "  admins: maybe", `on_behalf.admins: want true or false`, lineOf("  admins: true ")},
		{"unknown member", members, "      members: [nobody@acme.com]", `on_behalf.groups[0].members[0]: no user with email "nobody@acme.com" in this file`, lineOf(members)},
		{"no members", members, "      members: []", "on_behalf.groups[0].members: at least one member is required", lineOf(members)},
		{"unknown application", apps, "      applications: [Slack, Jira]\n", `on_behalf.groups[0].applications[1]: no application "Jira" in this file`, lineOf(apps)},
		{"duplicate group", apps, apps + "    - name: IT-Helpdesk\n      members: [tom.baker@acme.com]\n      applications: [Slack]\n", `on_behalf.groups[1].name: duplicate group "IT-Helpdesk"`, lineOf(apps) + 1},
		{"unknown key", "  groups:  ", "  teams:   ", "on_behalf.teams: unknown key", lineOf("  groups:  ")},
	})
}
