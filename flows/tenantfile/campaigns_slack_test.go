package tenantfile

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

// slackRepeat stores a recurring review the way /access review new with
// Repeat does (source slack), beside whatever the file has applied.
func slackRepeat(t *testing.T, s store.Store, name string) string {
	t.Helper()
	ctx := context.Background()
	ten, err := s.GetTenantBySlug(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	defs, err := s.ListCampaignDefinitions(ctx, ten.ID)
	if err != nil {
		t.Fatal(err)
	}
	defs = append(defs, accessbot.CampaignDefinition{Name: name, Levels: []accessbot.ReviewerRule{accessbot.ReviewerManager},
		Cron: "0 9 * * 1", TimeZone: "UTC", DueAfter: 7 * 24 * time.Hour, Source: accessbot.CampaignSourceSlack})
	if err := s.ReplaceCampaignDefinitions(ctx, ten.ID, defs); err != nil {
		t.Fatal(err)
	}
	return ten.ID
}

// TestApplyLeavesSlackRepeatAlone: a campaigns: section manages only the
// file's definitions; a repeat started in Slack survives every apply, even
// one that empties the section.
func TestApplyLeavesSlackRepeatAlone(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		src := string(baseYAML(t)) + campaignsYAML
		mustApply(t, s, []byte(src))
		tid := slackRepeat(t, s, "Weekly Slack")
		if res := mustApply(t, s, []byte(src)); len(res.Changes) != 0 {
			t.Fatalf("unchanged file after a Slack repeat changed:\n%s", lines(res))
		}
		one := string(baseYAML(t)) + campaignsYAML[:strings.Index(campaignsYAML, "  - name: Salesforce")]
		if got := lines(mustApply(t, s, []byte(one))); got != "- campaign Salesforce clean-up\n" {
			t.Fatalf("dropping a file campaign: changes\n%s", got)
		}
		if got := lines(mustApply(t, s, []byte(string(baseYAML(t))+"\ncampaigns: []\n"))); got != "- campaign Quarterly GitLab\n" {
			t.Fatalf("emptying campaigns: changes\n%s", got)
		}
		defs, err := s.ListCampaignDefinitions(ctx, tid)
		if err != nil || len(defs) != 1 || defs[0].Name != "Weekly Slack" || !defs[0].FromSlack() || defs[0].Cron != "0 9 * * 1" {
			t.Fatalf("definitions after applies: %+v, %v", defs, err)
		}
	})
}

// TestFileCampaignNamedLikeSlackRepeatRefused: the file may not take over a
// Slack-started repeat by naming it; apply refuses with the name's line and
// field and changes nothing.
func TestFileCampaignNamedLikeSlackRepeatRefused(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, s store.Store) {
		base := string(baseYAML(t))
		mustApply(t, s, []byte(base+campaignsYAML))
		slackRepeat(t, s, "Weekly Slack")
		src := base + strings.Replace(campaignsYAML, "name: Salesforce clean-up", "name: weekly slack", 1)
		line := strings.Count(base, "\n") + 1
		for i, l := range strings.Split(campaignsYAML, "\n") {
			if strings.Contains(l, "name: Salesforce clean-up") {
				line += i
			}
		}
		before := snapshot(t, s) + campaignSnapshot(t, s)
		_, err := applyYAML(t, s, []byte(src), false)
		want := `tenant.yaml:` + itoa(line) + `: campaigns[1].name: "Weekly Slack" is a recurring review started in Slack`
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("apply: got %v\nwant it to contain %q", err, want)
		}
		sameSnapshot(t, before, snapshot(t, s)+campaignSnapshot(t, s))
	})
}
