package tenantfile

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/accessbot/accessbot/store"
)

const purposesYAML = `
purposes:
  - name: oncall-db
    description: On-call database access
    entitlements:
      - GitLab/platform-maintainers
      - Microsoft Entra ID/Engineering
    max_session: 4h
    assignment_chain: default
    start_chain: gitlab
    channel: C0ONCALL
`

func storedPurposes(t *testing.T, s store.Store) string {
	t.Helper()
	return tenantsJSON(t, s, func(ctx context.Context, tenantID string) (any, error) {
		ps, err := s.ListPurposes(ctx, tenantID)
		var out []string
		for _, p := range ps {
			out = append(out, fmt.Sprintf("%s %q %d conns %s %s/%s %s", p.Name, p.Description, len(p.Connections), p.MaxSession, p.AssignChain, p.StartChain, p.Channel))
		}
		return out, err
	})
}

func TestApplyPurposes(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, s store.Store) {
		src := string(baseYAML(t)) + purposesYAML
		want := "+ purpose oncall-db: entitlements [GitLab/platform-maintainers Microsoft Entra ID/Engineering], max_session 4h, assignment_chain default, start_chain gitlab, channel C0ONCALL\n"
		if got := lines(mustApply(t, s, []byte(src))); !strings.Contains(got, want) {
			t.Fatalf("changes:\n%s\nwant a line %s", got, want)
		}
		if got := storedPurposes(t, s); got != `{"acme":["oncall-db \"On-call database access\" 2 conns 4h0m0s default/gitlab C0ONCALL"]}` {
			t.Fatalf("stored %s", got)
		}
		ctx := context.Background()
		ten, err := s.GetTenantBySlug(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		p, err := s.GetPurposeByName(ctx, ten.ID, "oncall-db")
		if err != nil {
			t.Fatal(err)
		}
		gl, err := s.GetApplicationByName(ctx, ten.ID, "GitLab")
		if err != nil {
			t.Fatal(err)
		}
		c, err := s.GetConnectionByName(ctx, ten.ID, gl.ID, "platform-maintainers")
		if err != nil {
			t.Fatal(err)
		}
		if p.Connections[0].AppID != gl.ID || p.Connections[0].ConnectionID != c.ID {
			t.Fatalf("first entitlement %+v, want GitLab/platform-maintainers (%s/%s)", p.Connections[0], gl.ID, c.ID)
		}
		if res := mustApply(t, s, []byte(src)); len(res.Changes) != 0 {
			t.Fatalf("second apply changed:\n%s", lines(res))
		}
		if res := mustApply(t, s, baseYAML(t)); len(res.Changes) != 0 {
			t.Fatalf("apply without purposes: changed:\n%s", lines(res))
		}
		edited := strings.Replace(src, "max_session: 4h", "max_session: 8h", 1)
		if got := lines(mustApply(t, s, []byte(edited))); got != "~ purpose oncall-db: max_session 4h→8h\n" {
			t.Fatalf("changes:\n%s", got)
		}
		if got := lines(mustApply(t, s, []byte(string(baseYAML(t))+"purposes: []\n"))); got != "- purpose oncall-db: with its assignments; open sessions still end\n" {
			t.Fatalf("changes:\n%s", got)
		}
	})
}

func TestApplyPurposesRefused(t *testing.T) {
	t.Parallel()
	base := string(baseYAML(t)) + purposesYAML
	line := strings.Count(string(baseYAML(t)), "\n") + 1 // the blank line before purposes:
	refuseEdits(t, base, storedPurposes, []badEdit{
		{"bad name", "name: oncall-db", "name: On Call", "is not a purpose name", line + 2},
		{"unknown application", "- GitLab/platform-maintainers", "- GitLub/platform-maintainers", `no application "GitLub" in this file or in tenant acme`, line + 5},
		{"unknown connection", "- GitLab/platform-maintainers", "- GitLab/owners", `application GitLab in this file has no connection "owners"`, line + 5},
		{"not APP/CONN", "- GitLab/platform-maintainers", "- GitLab", "want APPLICATION/CONNECTION", line + 5},
		{"no entitlements", "    entitlements:\n      - GitLab/platform-maintainers\n      - Microsoft Entra ID/Engineering\n", "    entitlements: []\n", "at least one entitlement", line + 4},
		{"bad max", "max_session: 4h", "max_session: soon", `"soon" is not a duration`, line + 7},
		{"too long", "max_session: 4h", "max_session: 60d", "at most 30d", line + 7},
		{"unknown chain", "assignment_chain: default", "assignment_chain: nobody", `no approval chain "nobody"`, line + 8},
		{"unknown start chain", "start_chain: gitlab", "start_chain: nobody", `no approval chain "nobody"`, line + 9},
		{"bad channel", "channel: C0ONCALL", "channel: '#oncall'", "is not a Slack channel id", line + 10},
		{"unknown key", "    channel: C0ONCALL\n", "    channel: C0ONCALL\n    owner: ada\n", "owner", line + 11},
	})
}
