package tenantfile

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/storetest"
)

// storedPolicy is the tenants' request policies as JSON, for comparing.
func storedPolicy(t *testing.T, s store.Store) string {
	return tenantsJSON(t, s, func(ctx context.Context, tenantID string) (any, error) {
		p, err := s.GetRequestPolicy(ctx, tenantID)
		if errors.Is(err, accessbot.ErrNotFound) {
			return nil, nil
		}
		return p, err
	})
}

// The example's channels: section routes #it-help to the channels-only
// chain it-help with Slack and GitLab; that chain is not the tenant
// default; re-applying changes nothing.
func TestApplyStoresChannelRoutes(t *testing.T) {
	forEachDriver(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		res := mustApply(t, s, exampleYAML(t))
		var found bool
		for _, c := range res.Changes {
			if c.Kind == "request_policy" && c.Op == OpCreate && strings.Contains(c.String(), "channels (none)→C0ITHELP→it-help[Slack GitLab]") {
				found = true
			}
		}
		if !found {
			t.Fatalf("no request_policy change routing C0ITHELP: %v", res.Changes)
		}
		p, err := s.GetRequestPolicy(ctx, res.TenantID)
		if err != nil {
			t.Fatal(err)
		}
		chains, err := s.ListApprovalChains(ctx, res.TenantID)
		if err != nil {
			t.Fatal(err)
		}
		ids := map[string]string{}
		for _, c := range chains {
			ids[c.Name] = c.ID
		}
		slack, err := s.GetApplicationByName(ctx, res.TenantID, "Slack")
		if err != nil {
			t.Fatal(err)
		}
		gitlab, err := s.GetApplicationByName(ctx, res.TenantID, "GitLab")
		if err != nil {
			t.Fatal(err)
		}
		want := []accessbot.ChannelRoute{{ChannelID: "C0ITHELP", ChainID: ids["it-help"], AppIDs: []string{slack.ID, gitlab.ID}}}
		if g, w := mustJSON(t, p.Channels), mustJSON(t, want); g != w {
			t.Fatalf("routes = %s, want %s", g, w)
		}
		if !slices.Equal(p.ChannelChains, []string{ids["it-help"]}) {
			t.Fatalf("channel chains = %v, want [%s]", p.ChannelChains, ids["it-help"])
		}
		if again := mustApply(t, s, exampleYAML(t)); len(again.Changes) != 0 {
			t.Fatalf("re-apply changed %d things: %v", len(again.Changes), again.Changes)
		}
		// Dropping the section leaves the routes alone; an empty one removes them.
		noRoutes := strings.Replace(string(exampleYAML(t)), "channels:\n  - channel: C0ITHELP                  # #it-help: the channel id\n    chain: it-help                     # a chain of this file without application\n    applications: [Slack, GitLab]\n", "", 1)
		noRoutes = strings.Replace(noRoutes, "    channels_only: true\n", "", 1)
		noRoutes = strings.Replace(noRoutes, "  - name: it-help\n", "  - name: it-help\n    application: Slack\n", 1)
		res2 := mustApply(t, s, []byte(noRoutes))
		p, err = s.GetRequestPolicy(ctx, res.TenantID)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Channels) != 1 || len(p.ChannelChains) != 0 {
			t.Fatalf("without channels: the routes stay and channels_only is recomputed: %+v (changes %v)", p, res2.Changes)
		}
		mustApply(t, s, []byte(noRoutes+"\nchannels: []\n"))
		if p, _ = s.GetRequestPolicy(ctx, res.TenantID); len(p.Channels) != 0 {
			t.Fatalf("channels: [] kept routes %+v", p.Channels)
		}
	})
}

func TestBadChannelRoutesRefusedWithLineAndField(t *testing.T) {
	t.Parallel()
	base := string(exampleYAML(t))
	lineOf := func(needle string) int {
		i := strings.Index(base, needle)
		if i < 0 {
			t.Fatalf("%q not in the example", needle)
		}
		return strings.Count(base[:i], "\n") + 1
	}
	route := "  - channel: C0ITHELP"
	chain := "    chain: it-help                     # a chain of this file without application"
	apps := "    applications: [Slack, GitLab]"
	refuseEdits(t, base, storedPolicy, []badEdit{
		{"not a channel id", "channel: C0ITHELP", "channel: it-help", `channels[0].channel: "it-help" is not a Slack channel id`, lineOf(route)},
		{"unknown chain", chain, "    chain: helpdesk", `channels[0].chain: no approval chain "helpdesk" in this file`, lineOf(chain)},
		{"an application's chain", chain, "    chain: gitlab", `channels[0].chain: chain "gitlab" is application GitLab's own`, lineOf(chain)},
		{"unknown application", apps, "    applications: [Slack, Jira]", `channels[0].applications[1]: no application "Jira" in this file`, lineOf(apps)},
		{"neither chain nor applications", chain + "\n" + apps, "", "channels[0]: say chain:, applications: or both", lineOf(route)},
		{"channel routed twice", apps, apps + "\n  - channel: C0ITHELP\n    applications: [Slack]", "channels[1].channel: channel C0ITHELP is routed twice (first at line " + itoa(lineOf(route)), lineOf(route) + 3},
		{"channels_only chain no route names", chain, "    chain: default", `approval_chains[7].channels_only: no entry of channels: names chain "it-help"`, lineOf("    channels_only: true")},
		{"channels_only with application", "    channels_only: true", "    channels_only: true\n    application: Slack", "approval_chains[7].channels_only: a channels_only chain has no application", lineOf("    channels_only: true")},
	})
}

// A routed channel the checker refuses is an error at its line; nothing is
// applied.
func TestApplyRefusesUnknownRoutedChannel(t *testing.T) {
	s := storetest.Open(t, "sqlite")
	f, err := Parse("tenant.yaml", exampleYAML(t))
	if err != nil {
		t.Fatal(err)
	}
	checker := channelsFunc(func(_ context.Context, id string) (string, error) {
		if id == "C0ITHELP" {
			return "", errors.New("channel " + id + " not found in the Slack workspace")
		}
		return "", nil
	})
	_, err = NewApplier(s, testNow, zerolog.Nop()).WithChannels(checker).Apply(context.Background(), f, false)
	line := strings.Count(string(exampleYAML(t))[:strings.Index(string(exampleYAML(t)), "  - channel: C0ITHELP")], "\n") + 1
	if err == nil || !strings.Contains(err.Error(), "tenant.yaml:"+itoa(line)+": channels[0].channel: channel C0ITHELP not found in the Slack workspace") {
		t.Fatalf("got %v", err)
	}
	if tn, err := s.ListTenants(context.Background()); err != nil || len(tn) != 0 {
		t.Fatalf("something was applied: %v %v", tn, err)
	}
}
