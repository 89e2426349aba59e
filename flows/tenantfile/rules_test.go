package tenantfile

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

const rulesYAML = `
rules:
  - name: sales-with-admin
    severity: high
    subject: identity
    filter:
      all:
        - {field: employee.department, op: eq, value: Sales}
        - any:
            - {field: entitlement.labels, op: contains, value: privileged}
            - {field: identity.status, op: in, value: [disabled]}
  - name: stale-accounts
    severity: low
    filter: {field: identity.last_seen_at, op: older_than, value: 30d}
`

func rulesSnapshot(t *testing.T, s store.Store) string {
	return tenantsJSON(t, s, func(ctx context.Context, id string) (any, error) { return s.ListTenantRules(ctx, id) })
}

func TestApplyRules(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		src := string(baseYAML(t)) + rulesYAML
		got := lines(mustApply(t, s, []byte(src)))
		for _, want := range []string{"+ rule sales-with-admin: severity high, subject identity", "+ rule stale-accounts: severity low, subject identity"} {
			if !strings.Contains(got, want+"\n") {
				t.Errorf("changes lack %q:\n%s", want, got)
			}
		}
		ten, err := s.GetTenantBySlug(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		rs, err := s.ListTenantRules(ctx, ten.ID)
		if err != nil || len(rs) != 2 || rs[0].Name != "sales-with-admin" || len(rs[0].Filter.All) != 2 || rs[0].Filter.All[1].Any[1].Value.([]any)[0] != "disabled" {
			t.Fatalf("rules = %+v, %v", rs, err)
		}
		if res := mustApply(t, s, []byte(src)); len(res.Changes) != 0 {
			t.Fatalf("second apply changed:\n%s", lines(res))
		}
		res := mustApply(t, s, []byte(strings.Replace(src, "severity: low", "severity: medium", 1)))
		if got := lines(res); got != "~ rule stale-accounts: severity low→medium\n" {
			t.Fatalf("changes:\n%s", got)
		}
		// No rules: key leaves them; an empty list deletes them.
		if res := mustApply(t, s, baseYAML(t)); len(res.Changes) != 0 {
			t.Fatalf("apply without rules: changed:\n%s", lines(res))
		}
		res = mustApply(t, s, []byte(string(baseYAML(t))+"rules: []\n"))
		if got := lines(res); got != "- rule sales-with-admin\n- rule stale-accounts\n" {
			t.Fatalf("changes:\n%s", got)
		}
	})
}

func TestBadRuleRefusedWithLineAndField(t *testing.T) {
	t.Parallel()
	example := string(baseYAML(t))
	base := example + rulesYAML
	first := strings.Count(example, "\n")
	lineOf := func(text string) int {
		for i, l := range strings.Split(rulesYAML, "\n") {
			if strings.Contains(l, text) {
				return first + i + 1
			}
		}
		return -1
	}
	cases := []struct {
		name, old, new, want string
	}{
		{"unknown field", "employee.department", "employee.dept", `rules[0].filter.all[0].field: unknown field "employee.dept"`},
		{"bad op", "op: eq", "op: equals", `rules[0].filter.all[0].op: unknown operator "equals"`},
		{"bad value type", "value: [disabled]", "value: disabled", `rules[0].filter.all[1].any[1].value: want a non-empty list`},
		{"op on wrong field type", "op: older_than", "op: contains", "rules[1].filter.op: contains works on text or list fields"},
		{"bad age", "value: 30d", "value: a month", `rules[1].filter.value: want an age`},
		{"unknown severity", "severity: high", "severity: urgent", `rules[0].severity: "urgent" is not one of: critical, high, medium, low`},
		{"built-in name", "name: stale-accounts", "name: orphan_identity", `rules[1].name: "orphan_identity" is a built-in rule`},
		{"bad subject", "subject: identity", "subject: application", `rules[0].subject: "application" is not one of: identity, employee`},
		{"Slack markup in the name", "name: stale-accounts", `name: "<!channel> <http://evil.example/reset|Reset>"`, `rules[1].name: "<!channel> <http://evil.example/reset|Reset>" is not a rule name`},
		{"name too long", "name: stale-accounts", "name: " + strings.Repeat("s", 64), `is not a rule name: use lower-case letters, digits, '.', '_' and '-', at most 63`},
	}
	var edits []badEdit
	for _, tc := range cases {
		edits = append(edits, badEdit{tc.name, tc.old, tc.new, tc.want, lineOf(tc.old)})
	}
	refuseEdits(t, base, rulesSnapshot, edits)
}

// TestDeletedRuleResolvesItsFindings: a rule dropped from the file takes its
// open and acknowledged findings with it (resolved by system, audited, in
// the apply's transaction); findings of the rules kept are left alone, and
// a dry run says what would be resolved and writes nothing.
func TestDeletedRuleResolvesItsFindings(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		src := string(baseYAML(t)) + rulesYAML
		mustApply(t, s, []byte(src))
		ten, err := s.GetTenantBySlug(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		at := testNow().Add(-time.Hour)
		match := func(id string) accessbot.FindingMatch {
			return accessbot.FindingMatch{Severity: accessbot.SeverityLow, Subject: accessbot.Subject{Kind: accessbot.SubjectIdentity, ID: id}}
		}
		for rule, ids := range map[string][]string{"stale-accounts": {"i1", "i2"}, "sales-with-admin": {"i3"}} {
			var ms []accessbot.FindingMatch
			for _, id := range ids {
				ms = append(ms, match(id))
			}
			if _, err := s.SyncFindings(ctx, ten.ID, rule, ms, at); err != nil {
				t.Fatal(err)
			}
		}
		stale, err := s.ListFindings(ctx, ten.ID, accessbot.FindingFilter{Rule: "stale-accounts"})
		if err != nil || len(stale) != 2 {
			t.Fatalf("findings = %v, %v", stale, err)
		}
		// One of them acknowledged by a person: it goes too.
		if err := s.SetFindingStatus(ctx, ten.ID, stale[0].ID, []accessbot.FindingStatus{accessbot.FindingOpen}, accessbot.FindingAcknowledged, "someone", at); err != nil {
			t.Fatal(err)
		}

		without := strings.Replace(src, rulesYAML[strings.Index(rulesYAML, "  - name: stale-accounts"):], "", 1)
		before := snapshot(t, s) + rulesSnapshot(t, s)
		dry, err := applyYAML(t, s, []byte(without), true)
		if err != nil {
			t.Fatal(err)
		}
		if got := lines(dry); got != "- rule stale-accounts: resolves 2 open finding(s)\n" {
			t.Fatalf("dry run changes:\n%s", got)
		}
		sameSnapshot(t, before, snapshot(t, s)+rulesSnapshot(t, s))

		mustApply(t, s, []byte(without))
		all, err := s.ListFindings(ctx, ten.ID, accessbot.FindingFilter{})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range all {
			want := accessbot.FindingResolved
			if f.Rule == "sales-with-admin" {
				want = accessbot.FindingOpen
			}
			if f.Status != want {
				t.Errorf("finding %s of %s is %s, want %s", f.Subject.ID, f.Rule, f.Status, want)
			}
			if f.Rule != "stale-accounts" {
				continue
			}
			if f.StatusBy != accessbot.ActorSystem || f.StatusAt == nil || !f.StatusAt.Equal(testNow()) {
				t.Errorf("finding %s resolved by %q at %v, want system at %v", f.Subject.ID, f.StatusBy, f.StatusAt, testNow())
			}
			audit, err := s.ListAudit(ctx, ten.ID, f.ID)
			if err != nil || len(audit) != 1 || audit[0].Action != "finding.resolved" || audit[0].ActorID != accessbot.ActorSystem ||
				!strings.Contains(string(audit[0].After), "rule stale-accounts deleted") {
				t.Errorf("audit of %s = %+v, %v", f.Subject.ID, audit, err)
			}
		}
		// Applying again: nothing left to resolve, no changes.
		if res := mustApply(t, s, []byte(without)); len(res.Changes) != 0 {
			t.Fatalf("second apply changed:\n%s", lines(res))
		}
	})
}

// TestRuleRefusedWhenExternalFindingsUseItsName: a new tenant rule may not
// take the rule name of open findings an external tool reported, since its
// first run would resolve them; the error names the line and field.
func TestRuleRefusedWhenExternalFindingsUseItsName(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		example := string(baseYAML(t))
		mustApply(t, s, []byte(example))
		ten, err := s.GetTenantBySlug(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.ReportFindings(ctx, ten.ID, "stale-accounts", []accessbot.FindingMatch{{Severity: accessbot.SeverityLow,
			Subject: accessbot.Subject{Kind: accessbot.SubjectIdentity, ID: "x"}}}, testNow()); err != nil {
			t.Fatal(err)
		}
		before := snapshot(t, s) + rulesSnapshot(t, s)
		_, err = applyYAML(t, s, []byte(example+rulesYAML), false)
		line := strings.Count(example, "\n") + strings.Count(rulesYAML[:strings.Index(rulesYAML, "  - name: stale-accounts")], "\n") + 1
		want := "tenant.yaml:" + itoa(line) + `: rules[1].name: "stale-accounts" names open findings reported by an external tool`
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("got %v\nwant %q", err, want)
		}
		sameSnapshot(t, before, snapshot(t, s)+rulesSnapshot(t, s))
	})
}
