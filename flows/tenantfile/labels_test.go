package tenantfile

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/findings"
	"github.com/accessbot/accessbot/flows/inventory"
	"github.com/accessbot/accessbot/flows/reviews"
	"github.com/accessbot/accessbot/store"
)

// Salesforce's upload, as an export gives it: no labels column.
var salesforceCSV = map[inventory.Kind]string{
	inventory.Entitlements: "entitlement_id,name,type\nsales-user,Sales User,role\nreport-export,Report Export,policy\n",
	inventory.Identities:   "identity_id,email\nhannah,hannah.lee@acme.com\nryan,ryan.walsh@acme.com\n",
	inventory.Relations:    "identity_id,entitlement_id\nhannah,sales-user\nryan,report-export\n",
}

// Privilege declared in the tenant file, on a connection or a whole
// application, is what a privileged-only review covers when the upload
// does not label anything.
func TestDeclaredPrivilegeCoversPrivilegedOnlyReview(t *testing.T) {
	t.Parallel()
	const connLabel = "      - name: Report Export\n        type: policy\n"
	const appLabel = "    connector: manual\n    primary_owner: carlos.mendez@acme.com\n"
	forEachDriver(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		base := string(baseYAML(t))
		if !strings.Contains(base, connLabel) || !strings.Contains(base, appLabel) {
			t.Fatal("examples/tenant.yaml's Salesforce changed: update this test")
		}
		mustApply(t, s, []byte(base))
		tn, err := s.GetTenantBySlug(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		im := inventory.NewImporter(s, findings.NewEngine(testNow, zerolog.Nop()), testNow, zerolog.Nop())
		for _, k := range []inventory.Kind{inventory.Entitlements, inventory.Identities, inventory.Relations} {
			if _, err := im.Import(ctx, tn.ID, k, "Salesforce", string(k)+".csv", strings.NewReader(salesforceCSV[k]), inventory.Options{}); err != nil {
				t.Fatalf("import %s: %v", k, err)
			}
		}
		sf, err := s.GetApplicationByName(ctx, tn.ID, "Salesforce")
		if err != nil {
			t.Fatal(err)
		}
		admin, err := s.GetUserByEmail(ctx, tn.ID, "omar.haddad@acme.com")
		if err != nil {
			t.Fatal(err)
		}
		svc := reviews.New(s, reviews.NopNotifier{}, testNow, reviews.DefaultPolicy(), zerolog.Nop())
		review := func(name string) []accessbot.ReviewItem {
			t.Helper()
			res, err := svc.Launch(ctx, reviews.LaunchInput{TenantID: tn.ID, ActorID: admin.ID, Name: name,
				Scope:  accessbot.ReviewScope{AppIDs: []string{sf.ID}, PrivilegedOnly: true},
				Levels: []accessbot.ReviewerRule{accessbot.ReviewerAppOwner}, DueAt: testNow().Add(7 * 24 * time.Hour)})
			if err != nil {
				t.Fatalf("launch %s: %v", name, err)
			}
			items, err := s.ListReviewItems(ctx, tn.ID, accessbot.ReviewItemFilter{CampaignID: res.Campaign.ID})
			if err != nil {
				t.Fatal(err)
			}
			return items
		}
		covered := func(items []accessbot.ReviewItem) string {
			var out []string
			for _, it := range items {
				if !it.Privileged {
					t.Errorf("item %s/%s is not marked privileged", it.Subject, it.EntitlementName)
				}
				out = append(out, it.Subject+"/"+it.EntitlementName)
			}
			return strings.Join(out, ",")
		}

		if got := covered(review("nothing labelled")); got != "" {
			t.Fatalf("privileged-only review without any label covers %q", got)
		}

		labelled := strings.Replace(base, connLabel, connLabel+"        labels: [Privileged]\n", 1)
		if got, want := lines(mustApply(t, s, []byte(labelled))), "~ connection Salesforce/Report Export: labels (none)→privileged\n"; got != want {
			t.Fatalf("apply diff:\n%s\nwant:\n%s", got, want)
		}
		if got := covered(review("connection labelled")); got != "Ryan Walsh/Report Export" {
			t.Fatalf("privileged-only review covers %q, want Ryan Walsh/Report Export", got)
		}

		whole := strings.Replace(base, appLabel, appLabel+"    labels: [privileged]\n", 1)
		if got, want := lines(mustApply(t, s, []byte(whole))),
			"~ application Salesforce: labels (none)→privileged\n~ connection Salesforce/Report Export: labels privileged→(none)\n"; got != want {
			t.Fatalf("apply diff:\n%s\nwant:\n%s", got, want)
		}
		if got := covered(review("application labelled")); got != "Hannah Lee/Sales User,Ryan Walsh/Report Export" {
			t.Fatalf("privileged-only review covers %q, want both of Salesforce's holders", got)
		}

		// The findings rules see it too, at their next run.
		res, err := findings.NewEngine(testNow, zerolog.Nop()).RunTx(ctx, s, tn.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res.Rules {
			if r.Rule == findings.RulePrivileged && r.Matches < 2 {
				t.Errorf("privileged_entitlement matched %d identities, want Salesforce's 2 at least", r.Matches)
			}
		}
	})
}

// A bad label is refused with its file, line and field.
func TestBadLabelsRefused(t *testing.T) {
	t.Parallel()
	base := string(baseYAML(t))
	at := strings.Index(base, "      - name: Report Export\n")
	line := strings.Count(base[:at], "\n") + 3 // the labels line below name and type
	refuseEdits(t, base, func(*testing.T, store.Store) string { return "" }, []badEdit{
		{"not a list", "      - name: Report Export\n        type: policy\n", "      - name: Report Export\n        type: policy\n        labels: privileged\n",
			`applications[2].connections[2].labels: want a list, found the value "privileged"`, line},
		{"empty label", "      - name: Report Export\n        type: policy\n", "      - name: Report Export\n        type: policy\n        labels: [privileged, \"\"]\n",
			`applications[2].connections[2].labels[1]: want a label such as privileged`, line},
		{"several in one", "      - name: Report Export\n        type: policy\n", "      - name: Report Export\n        type: policy\n        labels: [\"privileged;ops\"]\n",
			`applications[2].connections[2].labels[0]: "privileged;ops" is several labels`, line},
	})
}
