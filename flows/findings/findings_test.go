package findings_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/findings"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/storetest"
)

var t0 = time.Date(2025, 6, 2, 9, 0, 0, 0, time.UTC)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func newTenant(t *testing.T, st store.Store, slug string) *accessbot.Tenant {
	t.Helper()
	ten := &accessbot.Tenant{Slug: slug, Name: slug}
	must(t, st.CreateTenant(context.Background(), ten))
	return ten
}

func count(t *testing.T, st store.Store, tenantID string) int {
	t.Helper()
	fs, err := st.ListFindings(context.Background(), tenantID, accessbot.FindingFilter{})
	must(t, err)
	return len(fs)
}

const goodBody = `[
 {"rule": "scanner.mfa_off", "severity": "high", "subject": {"kind": "employee", "id": "alice@acme.com", "display": "Alice"}, "details": {"since": "2025-05-01"}},
 {"rule": "scanner.mfa_off", "severity": "low", "subject": {"kind": "identity", "id": "gh:bob"}}
]`

func TestEndpoint(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			st := storetest.Open(t, driver)
			a, b := newTenant(t, st, "a"), newTenant(t, st, "b")
			tokA, err := findings.NewToken(ctx, st, a.ID, t0)
			must(t, err)
			tokB, err := findings.NewToken(ctx, st, b.ID, t0)
			must(t, err)
			srv := httptest.NewServer(findings.NewHandler(st, func() time.Time { return t0 }, zerolog.Nop()))
			defer srv.Close()

			cases := []struct {
				name, auth, body string
				ct               string // Content-Type; "" for application/json, "-" for none
				status           int
				wantA, wantB     int    // findings stored afterwards
				wantIn           string // in the response body
			}{
				{"no token", "", goodBody, "", 401, 0, 0, "missing bearer token"},
				{"bad token", "Bearer abf_" + a.ID + "_nope", goodBody, "", 401, 0, 0, "invalid token"},
				{"garbage token", "Bearer hello", goodBody, "", 401, 0, 0, "invalid token"},
				{"token with another tenant's id", "Bearer " + strings.Replace(tokB, b.ID, a.ID, 1), goodBody, "", 401, 0, 0, "invalid token"},
				{"unknown severity", "Bearer " + tokA, `[{"rule":"x","severity":"urgent","subject":{"kind":"identity","id":"1"}}]`, "", 400, 0, 0, `item 0: severity: \"urgent\" is not one of`},
				{"unknown field", "Bearer " + tokA, `[{"rule":"x","severity":"low","subject":{"kind":"identity","id":"1"},"colour":1}]`, "", 400, 0, 0, `unknown field`},
				{"not an array", "Bearer " + tokA, `{"rule":"x"}`, "", 400, 0, 0, "want a JSON array"},
				{"rule name with Slack markup", "Bearer " + tokA, `[{"rule":"<!channel> <http://evil.example/reset|Reset your SSO password>","severity":"critical","subject":{"kind":"identity","id":"1"}}]`,
					"", 400, 0, 0, `item 0: rule: may not contain`},
				{"too large", "Bearer " + tokA, "[" + strings.Repeat(" ", findings.MaxBodyBytes) + "]", "", 413, 0, 0, "over 1 MiB"},
				{"no content type", "Bearer " + tokA, goodBody, "-", 415, 0, 0, "want Content-Type: application/json"},
				{"text/plain", "Bearer " + tokA, goodBody, "text/plain", 415, 0, 0, "want Content-Type: application/json"},
				{"json lookalike", "Bearer " + tokA, goodBody, "application/jsonx", 415, 0, 0, "want Content-Type: application/json"},
				{"good", "Bearer " + tokA, goodBody, "", 200, 2, 0, `"opened":2`},
				{"again: de-duplicated", "Bearer " + tokA, goodBody, "", 200, 2, 0, `"seen":2`},
				{"other tenant's token posts to its own tenant", "Bearer " + tokB, goodBody, "", 200, 2, 2, `"opened":2`},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					req, _ := http.NewRequest("POST", srv.URL, strings.NewReader(tc.body))
					switch tc.ct {
					case "":
						req.Header.Set("Content-Type", "application/json; charset=utf-8")
					case "-":
					default:
						req.Header.Set("Content-Type", tc.ct)
					}
					if tc.auth != "" {
						req.Header.Set("Authorization", tc.auth)
					}
					resp, err := http.DefaultClient.Do(req)
					must(t, err)
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != tc.status || !strings.Contains(string(body), tc.wantIn) {
						t.Fatalf("status %d body %s; want %d containing %q", resp.StatusCode, body, tc.status, tc.wantIn)
					}
					if n := count(t, st, a.ID); n != tc.wantA {
						t.Fatalf("tenant a has %d findings, want %d", n, tc.wantA)
					}
					if n := count(t, st, b.ID); n != tc.wantB {
						t.Fatalf("tenant b has %d findings, want %d", n, tc.wantB)
					}
				})
			}
			// Rotating the token invalidates the old one.
			_, err = findings.NewToken(ctx, st, a.ID, t0)
			must(t, err)
			if _, err := findings.Authenticate(ctx, st, tokA); !errors.Is(err, findings.ErrBadToken) {
				t.Fatalf("old token after rotation: %v", err)
			}
		})
	}
}

func TestParseExternalNamesItemAndField(t *testing.T) {
	cases := []struct{ body, want string }{
		{`[{"rule":"x","severity":"low","subject":{"kind":"identity","id":"1"}}, {"rule":"x","severity":"LOW","subject":{"kind":"identity","id":"2"}}]`,
			`f.json: item 1: severity: "LOW" is not one of critical, high, medium, low`},
		{`[{"rule":"","severity":"low","subject":{"kind":"identity","id":"1"}}]`, `f.json: item 0: rule: required`},
		{`[{"rule":"x","severity":"low","subject":{"kind":"robot","id":"1"}}]`, `f.json: item 0: subject.kind: "robot" is not one of employee, identity, application`},
		{`[{"rule":"x","severity":"low","subject":{"kind":"identity"}}]`, `f.json: item 0: subject.id: required`},
		{`[{"rule":"orphan_identity","severity":"low","subject":{"kind":"identity","id":"1"}}]`, `f.json: item 0: rule: "orphan_identity" is a built-in rule`},
		{`[{"rule":"x","severity":"low","subject":{"kind":"identity","id":"1"},"details":[1]}]`, `f.json: item 0: details: want a JSON object`},
		{`[{"rule":"x","severity":3}]`, `f.json: item 0: severity: want accessbot.Severity, found a JSON number`},
		{`[`, `f.json: want a JSON array of findings`},
		{`[{"rule":"<!channel> <http://evil.example/reset|Reset your SSO password>","severity":"critical","subject":{"kind":"identity","id":"1"}}]`,
			`f.json: item 0: rule: may not contain "<", "!", ">", "|"; use letters, digits, spaces and _ - . : / # ( ) +`},
		{`[{"rule":"` + strings.Repeat("r", 101) + `","severity":"low","subject":{"kind":"identity","id":"1"}}]`,
			`f.json: item 0: rule: 101 characters; at most 100`},
		{`[{"rule":"-x","severity":"low","subject":{"kind":"identity","id":"1"}}]`, `f.json: item 0: rule: must start with a letter or digit`},
		{`[{"rule":"a\u0000b","severity":"low","subject":{"kind":"identity","id":"1"}}]`, `f.json: item 0: rule: may not contain "\x00"`},
	}
	for _, ok := range []string{"aws:iam/root-key-unused", "CIS 1.4 (root MFA)", "Überprüfung_2024", "C++ #7"} {
		body := `[{"rule":"` + ok + `","severity":"low","subject":{"kind":"identity","id":"1"}}]`
		if _, err := findings.ParseExternal("f.json", []byte(body)); err != nil {
			t.Errorf("rule %q refused: %v", ok, err)
		}
	}
	for _, tc := range cases {
		_, err := findings.ParseExternal("f.json", []byte(tc.body))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, accessbot.ErrInvalid) {
			t.Errorf("%s:\n got %v\nwant %q", tc.body, err, tc.want)
		}
	}
}

func TestConditions(t *testing.T) {
	cases := []struct {
		field, op string
		value     any
		want      string // "" = valid
	}{
		{"identity.status", "eq", "active", ""},
		{"identity.status", "in", []any{"active", "disabled"}, ""},
		{"entitlement.labels", "contains", "privileged", ""},
		{"identity.last_seen_at", "older_than", "90d", ""},
		{"employee.terminated_at", "gt", "2025-01-01", ""},
		{"employee.manager", "exists", true, `field: unknown field "employee.manager"`},
		{"identity.status", "like", "a%", `op: unknown operator "like"`},
		{"identity.status", "older_than", "90d", "op: older_than works on time fields"},
		{"identity.last_seen_at", "older_than", "soon", "value: want an age"},
		{"identity.status", "in", "active", "value: want a non-empty list"},
		{"identity.email", "exists", "yes", "value: want true or false"},
		{"entitlement.labels", "eq", "x", "op: eq works on text fields"},
	}
	for _, tc := range cases {
		err := findings.CheckCondition(tc.field, tc.op, tc.value)
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s %s %v: got %v, want %q", tc.field, tc.op, tc.value, err, tc.want)
		}
	}
}

func TestTenantRuleEvaluation(t *testing.T) {
	ctx := context.Background()
	st := storetest.Open(t, "sqlite")
	ten := newTenant(t, st, "acme")
	alice := &accessbot.User{TenantID: ten.ID, Email: "alice@acme.com", Name: "Alice", Department: "Sales"}
	must(t, st.CreateUser(ctx, alice))
	bob := &accessbot.User{TenantID: ten.ID, Email: "bob@acme.com", Name: "Bob", Department: "Eng"}
	must(t, st.CreateUser(ctx, bob))
	app := &accessbot.Application{TenantID: ten.ID, Name: "AWS", PrimaryOwnerID: alice.ID}
	must(t, st.CreateApplication(ctx, app))
	_, err := st.ReplaceIdentities(ctx, ten.ID, app.ID, []accessbot.Identity{
		{ExternalID: "a", Email: "alice@acme.com"}, {ExternalID: "b", Email: "bob@acme.com"}}, accessbot.SnapshotKeep{}, t0)
	must(t, err)
	_, err = st.ReplaceAppEntitlements(ctx, ten.ID, app.ID, []accessbot.AppEntitlement{
		{ExternalID: "root", Name: "Root", Labels: []string{"privileged"}}, {ExternalID: "ro", Name: "ReadOnly"}}, accessbot.SnapshotKeep{}, t0)
	must(t, err)
	_, err = st.ReplaceRelations(ctx, ten.ID, app.ID, []accessbot.RelationKey{
		{IdentityExternalID: "a", EntitlementExternalID: "root"}, {IdentityExternalID: "b", EntitlementExternalID: "ro"}}, accessbot.SnapshotKeep{}, t0)
	must(t, err)
	// Sales people holding privileged access; and employees in Eng.
	must(t, st.ReplaceTenantRules(ctx, ten.ID, []accessbot.TenantRule{
		{Name: "sales-privileged", Severity: accessbot.SeverityHigh, Subject: accessbot.SubjectIdentity, Filter: accessbot.Filter{All: []accessbot.Filter{
			{Field: "employee.department", Op: "eq", Value: "sales"},
			{Field: "entitlement.labels", Op: "contains", Value: "privileged"},
		}}},
		{Name: "eng-people", Severity: accessbot.SeverityLow, Subject: accessbot.SubjectEmployee, Filter: accessbot.Filter{Any: []accessbot.Filter{
			{Field: "employee.department", Op: "in", Value: []any{"Eng", "Ops"}},
		}}},
	}))
	res, err := findings.NewEngine(func() time.Time { return t0 }, zerolog.Nop()).RunTx(ctx, st, ten.ID)
	must(t, err)
	got := map[string]int{}
	for _, r := range res.Rules {
		got[r.Rule] = r.Matches
	}
	if got["sales-privileged"] != 1 || got["eng-people"] != 1 || got[findings.RulePrivileged] != 1 || got[findings.RuleOrphan] != 0 {
		t.Fatalf("matches: %v", got)
	}
	fs, err := st.ListFindings(ctx, ten.ID, accessbot.FindingFilter{Rule: "eng-people"})
	must(t, err)
	if len(fs) != 1 || fs[0].Subject.ID != bob.ID || fs[0].Subject.Kind != accessbot.SubjectEmployee {
		t.Fatalf("eng-people: %+v", fs)
	}
}

// TestExternalRulesKeepTheirOwnNamespace: an external finding naming one of
// the tenant's rules is refused, naming the item and field, and nothing of
// the document is recorded (by file or over the API); another tenant
// without that rule may use the name.
func TestExternalRulesKeepTheirOwnNamespace(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			st := storetest.Open(t, driver)
			a, b := newTenant(t, st, "a"), newTenant(t, st, "b")
			must(t, st.ReplaceTenantRules(ctx, a.ID, []accessbot.TenantRule{{Name: "sales-privileged", Severity: accessbot.SeverityHigh,
				Subject: accessbot.SubjectIdentity, Filter: accessbot.Filter{Field: "identity.status", Op: "eq", Value: "active"}}}))
			body := []byte(`[
 {"rule": "scanner.mfa_off", "severity": "high", "subject": {"kind": "identity", "id": "1"}},
 {"rule": "sales-privileged", "severity": "low", "subject": {"kind": "identity", "id": "2"}}
]`)
			fs, err := findings.ParseExternal("f.json", body)
			must(t, err)
			_, err = findings.RecordExternal(ctx, st, a.ID, "f.json", fs, t0)
			want := `f.json: item 1: rule: "sales-privileged" is one of the tenant's rules`
			if err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, accessbot.ErrInvalid) {
				t.Fatalf("got %v, want %q", err, want)
			}
			if n := count(t, st, a.ID); n != 0 {
				t.Fatalf("tenant a has %d findings after a refused document", n)
			}
			if _, err := findings.RecordExternal(ctx, st, b.ID, "f.json", fs, t0); err != nil {
				t.Fatalf("tenant b has no such rule: %v", err)
			}
			if n := count(t, st, b.ID); n != 2 {
				t.Fatalf("tenant b has %d findings, want 2", n)
			}

			tok, err := findings.NewToken(ctx, st, a.ID, t0)
			must(t, err)
			srv := httptest.NewServer(findings.NewHandler(st, func() time.Time { return t0 }, zerolog.Nop()))
			defer srv.Close()
			req, _ := http.NewRequest("POST", srv.URL, strings.NewReader(string(body)))
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			must(t, err)
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 400 || !strings.Contains(string(got), `body: item 1: rule: \"sales-privileged\" is one of the tenant's rules`) {
				t.Fatalf("status %d body %s", resp.StatusCode, got)
			}
			if n := count(t, st, a.ID); n != 0 {
				t.Fatalf("tenant a has %d findings after a refused POST", n)
			}
		})
	}
}
