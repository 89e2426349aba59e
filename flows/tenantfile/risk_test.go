package tenantfile

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

// The example marks AWS/AdministratorAccess high-risk with its step-up
// provider; both are stored with the request policies.
func TestApplyStoresRiskAndStepUp(t *testing.T) {
	forEachDriver(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		res := mustApply(t, s, exampleYAML(t))
		p, err := s.GetRequestPolicy(ctx, res.TenantID)
		if err != nil {
			t.Fatal(err)
		}
		aws, err := s.GetApplicationByName(ctx, res.TenantID, "AWS")
		if err != nil {
			t.Fatal(err)
		}
		admin, err := s.GetConnectionByName(ctx, res.TenantID, aws.ID, "AdministratorAccess")
		if err != nil {
			t.Fatal(err)
		}
		if p.Risk.TierOf(aws.ID, admin.ID) != accessbot.RiskHigh || p.Risk.TierOf(aws.ID, "") == accessbot.RiskHigh {
			t.Fatalf("risk %+v: want AdministratorAccess high, AWS itself not", p.Risk)
		}
		if p.Risk.HighMinWords != 12 || p.Risk.HighMaxDuration != 8*time.Hour {
			t.Fatalf("high-risk limits %+v", p.Risk)
		}
		if p.StepUp == nil || p.StepUp.Issuer != "https://login.acme.com" || p.StepUp.ClientID != "accessbot" || p.StepUp.HasSecret {
			t.Fatalf("step-up provider %+v", p.StepUp)
		}
	})
}

func TestBadRiskRefusedWithLineAndField(t *testing.T) {
	t.Parallel()
	base := string(exampleYAML(t))
	lineOf := func(needle string) int {
		i := strings.Index(base, needle)
		if i < 0 {
			t.Fatalf("%q not in the example", needle)
		}
		return strings.Count(base[:i], "\n") + 1
	}
	tier := "        risk: high                     # low | medium | high: high needs step_up: below"
	stepUp := "step_up:\n  issuer: https://login.acme.com       # the provider's issuer URL\n  client_id: accessbot\n"
	refuseEdits(t, base, storedPolicy, []badEdit{
		{"unknown tier", tier, "        risk: extreme", `applications[3].connections[2].risk: "extreme" is not one of: low, medium, high`, lineOf(tier)},
		{"high without step_up", stepUp, "", "applications[3].connections[2].risk: risk: high needs step_up:", lineOf(tier)},
		{"issuer not https", "  issuer: https://login.acme.com", "  issuer: http://login.acme.com", `step_up.issuer: "http://login.acme.com" is not an https URL`, lineOf("  issuer: https://login.acme.com")},
		{"no client id", "  client_id: accessbot\n", "", "step_up.client_id: required", lineOf("\nstep_up:") + 2},
		{"secret env unset", "  # client_secret_env: ACME_STEPUP_SECRET", "  client_secret_env: ACME_STEPUP_SECRET", "step_up.client_secret_env: environment variable ACME_STEPUP_SECRET is not set", lineOf("  # client_secret_env")},
		{"words not a number", "    min_justification_words: 12", "    min_justification_words: many", `risk.high.min_justification_words: "many": want a whole number of words`, lineOf("    min_justification_words: 12")},
		{"duration too long", "    max_duration: 8h ", "    max_duration: 90d", `risk.high.max_duration: "90d": want a duration from 1m to 30d`, lineOf("    max_duration: 8h ")},
	})
}
