package tenantfile

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/storetest"
)

var testNow = func() time.Time { return time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC) }

func exampleYAML(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile("../../examples/tenant.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// applyYAML parses and applies, the way the CLI does.
func applyYAML(t *testing.T, tx Transactor, src []byte, dryRun bool) (*Result, error) {
	t.Helper()
	f, err := Parse("tenant.yaml", src)
	if err != nil {
		return nil, err
	}
	return NewApplier(tx, testNow, zerolog.Nop()).Apply(context.Background(), f, dryRun)
}

func mustApply(t *testing.T, tx Transactor, src []byte) *Result {
	t.Helper()
	res, err := applyYAML(t, tx, src, false)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	return res
}

func lines(res *Result) string {
	var b bytes.Buffer
	for _, c := range res.Changes {
		b.WriteString(c.String() + "\n")
	}
	return b.String()
}

// snapshot renders everything the store holds, audit log included, so two
// snapshots are equal exactly when nothing was written in between.
func snapshot(t *testing.T, s store.Store) string {
	t.Helper()
	ctx := context.Background()
	out := map[string]any{}
	tenants, err := s.ListTenants(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out["tenants"] = tenants
	for _, tn := range tenants {
		id := tn.ID
		add := func(key string, v any, err error) {
			if err != nil && !errors.Is(err, accessbot.ErrNotFound) {
				t.Fatalf("snapshot %s: %v", key, err)
			}
			out[tn.Slug+"/"+key] = v
		}
		w, err := s.WorkspaceByTenant(ctx, id)
		add("workspace", w, err)
		users, err := s.ListUsers(ctx, id)
		add("users", users, err)
		apps, err := s.ListApplications(ctx, id, "", 0)
		add("applications", apps, err)
		for _, a := range apps {
			conns, err := s.ListConnections(ctx, id, a.ID)
			add("connections/"+a.Name, conns, err)
			res, err := s.ListResources(ctx, id, a.ID)
			add("resources/"+a.Name, res, err)
		}
		chains, err := s.ListApprovalChains(ctx, id)
		add("chains", chains, err)
		audit, err := s.ListAudit(ctx, id, "")
		add("audit", audit, err)
	}
	data, err := json.MarshalIndent(out, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func sameSnapshot(t *testing.T, before, after string) {
	t.Helper()
	if before == after {
		return
	}
	b, a := strings.Split(before, "\n"), strings.Split(after, "\n")
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			t.Fatalf("store changed; first difference at snapshot line %d:\nbefore: %s\nafter:  %s", i+1, b[i], a[i])
		}
	}
	t.Fatalf("store changed: snapshot had %d lines, now %d", len(b), len(a))
}

func forEachDriver(t *testing.T, fn func(t *testing.T, s store.Store)) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			fn(t, storetest.Open(t, driver))
		})
	}
}

func TestApplyExampleTwice(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		first := mustApply(t, s, exampleYAML(t))
		// 1 tenant + 1 workspace + 20 users + 5 apps + 19 connections + 5 resources + 8 chains
		// + alerts + 2 schedules + 3 rules + 1 campaign + reviews + request policies
		if got := len(first.Changes); got != 69 {
			t.Errorf("first apply: %d changes, want 69:\n%s", got, lines(first))
		}
		for _, c := range first.Changes {
			if c.Op != OpCreate {
				t.Errorf("first apply on an empty store should only create: %s", c)
			}
		}

		before := snapshot(t, s)
		second := mustApply(t, s, exampleYAML(t))
		if len(second.Changes) != 0 {
			t.Errorf("second apply changed things:\n%s", lines(second))
		}
		var out bytes.Buffer
		if err := second.Write(&out); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "tenant acme: no changes") {
			t.Errorf("second apply printed %q", out.String())
		}
		sameSnapshot(t, before, snapshot(t, s))

		// Spot-check what landed.
		tn, err := s.GetTenantBySlug(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		lena, err := s.GetUserByEmail(ctx, tn.ID, "lena.fischer@acme.com")
		if err != nil {
			t.Fatal(err)
		}
		omar, err := s.GetUserByEmail(ctx, tn.ID, "omar.haddad@acme.com")
		if err != nil {
			t.Fatal(err)
		}
		if lena.ManagerID != omar.ID || lena.Role != accessbot.RoleAdmin || lena.Department != "IT" {
			t.Errorf("lena = %+v", lena)
		}
		lucas, _ := s.GetUserByEmail(ctx, tn.ID, "lucas.martin@acme.com")
		sofia, _ := s.GetUserByEmail(ctx, tn.ID, "sofia.rossi@acme.com")
		if lucas.DelegateID != sofia.ID || lucas.DelegateUntil == nil {
			t.Errorf("lucas's delegate = %q until %v, want sofia", lucas.DelegateID, lucas.DelegateUntil)
		}
		entra, err := s.GetApplicationByName(ctx, tn.ID, "Microsoft Entra ID")
		if err != nil {
			t.Fatal(err)
		}
		if entra.PrimaryOwnerID != omar.ID || entra.SecondaryOwnerID != lena.ID || entra.MaxDuration != 90*24*time.Hour || len(entra.ConnectionSchema) != 4 {
			t.Errorf("entra = %+v", entra)
		}
		chains, err := s.ListApprovalChains(ctx, tn.ID)
		if err != nil {
			t.Fatal(err)
		}
		var ga *accessbot.ApprovalChain
		for i := range chains {
			if chains[i].Name == "entra-global-admin" {
				ga = &chains[i]
			}
		}
		if ga == nil || ga.AppID != entra.ID || ga.ConnectionID == "" || len(ga.Levels) != 2 ||
			ga.Levels[1].Rule != accessbot.RuleAll || ga.Levels[1].Approvers[1].Kind != accessbot.ApproverUser {
			t.Fatalf("entra-global-admin = %+v", ga)
		}
		maya, _ := s.GetUserByEmail(ctx, tn.ID, "maya.chen@acme.com")
		if ga.Levels[1].Approvers[1].UserID != maya.ID {
			t.Errorf("level 2 user approver = %q, want maya %q", ga.Levels[1].Approvers[1].UserID, maya.ID)
		}
		audit, err := s.ListAudit(ctx, tn.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(audit) != 69 || audit[0].ActorID != "apply" {
			t.Errorf("audit: %d entries (want 69), first %+v", len(audit), audit[0])
		}
	})
}

func TestDryRunWritesNothing(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, s store.Store) {
		before := snapshot(t, s)
		res, err := applyYAML(t, s, exampleYAML(t), true)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Changes) != 69 || !res.DryRun {
			t.Errorf("dry run reported %d changes", len(res.Changes))
		}
		sameSnapshot(t, before, snapshot(t, s))

		// And on a populated store, with a change to report.
		mustApply(t, s, exampleYAML(t))
		before = snapshot(t, s)
		edited := strings.Replace(string(exampleYAML(t)), "name: Acme Analytics\n", "name: Acme Analytics Ltd\n", 1)
		res, err = applyYAML(t, s, []byte(edited), true)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := lines(res), "~ tenant acme: name \"Acme Analytics\"→\"Acme Analytics Ltd\"\n"; got != want {
			t.Errorf("dry run diff:\n%s\nwant:\n%s", got, want)
		}
		sameSnapshot(t, before, snapshot(t, s))
	})
}

func TestMalformedFileLeavesStoreUnchanged(t *testing.T) {
	t.Parallel()
	example := string(exampleYAML(t))
	cases := []struct {
		name     string
		old, new string
		want     string
	}{
		{"bad yaml", "  slug: acme\n", "  slug: [acme\n", "tenant.yaml:8: YAML syntax:"},
		{"unknown key", "    department: Executive\n", "    departement: Executive\n", "tenant.yaml:20: users[0].departement: unknown key"},
		{"bad email", "  - email: tom.baker@acme.com\n", "  - email: tom.baker@\n", `tenant.yaml:33: users[3].email: "tom.baker@": not a valid email address`},
		{"unknown manager", "    manager: priya.nair@acme.com\n", "    manager: priya@acme.com\n", `users[5].manager: no user with email "priya@acme.com" in this file`},
		{"bad duration", "max_duration: 90d", "max_duration: 90days", `applications[0].max_duration: "90days": not a duration`},
		{"bad rule", "      - rule: all\n", "      - rule: every\n", `approval_chains[2].levels[1].rule: "every" is not one of: any, all`},
	}
	forEachDriver(t, func(t *testing.T, s store.Store) {
		mustApply(t, s, exampleYAML(t))
		before := snapshot(t, s)
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				if !strings.Contains(example, tc.old) {
					t.Fatalf("%q not in the example", tc.old)
				}
				src := strings.Replace(example, tc.old, tc.new, 1)
				// A valid change elsewhere in the file must not land either.
				src = strings.Replace(src, "name: Acme Analytics\n", "name: Changed\n", 1)
				_, err := applyYAML(t, s, []byte(src), false)
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("got error %v\nwant it to contain %q", err, tc.want)
				}
				sameSnapshot(t, before, snapshot(t, s))
			})
		}
	})
}

// failing injects an error into one store method inside the transaction.
type failing struct {
	store.Store
	failChains bool
}

func (f failing) InTx(ctx context.Context, fn func(q store.Queries) error) error {
	return f.Store.InTx(ctx, func(q store.Queries) error { return fn(failingQueries{q, f.failChains}) })
}

type failingQueries struct {
	store.Queries
	failChains bool
}

func (q failingQueries) UpsertApprovalChain(ctx context.Context, c *accessbot.ApprovalChain) error {
	if q.failChains && c.Name == "aws-administrator" {
		return fmt.Errorf("upsert approval chain %s: forced: %w", c.Name, accessbot.ErrConflict)
	}
	return q.Queries.UpsertApprovalChain(ctx, c)
}

func TestFailureMidApplyRollsBack(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, s store.Store) {
		// On an empty store: the tenant, users and applications were
		// already written when the chain fails, and none of them stay.
		empty := snapshot(t, s)
		_, err := applyYAML(t, failing{s, true}, exampleYAML(t), false)
		if !errors.Is(err, accessbot.ErrConflict) {
			t.Fatalf("got %v, want a conflict", err)
		}
		if !strings.Contains(err.Error(), "tenant.yaml:") || !strings.Contains(err.Error(), "approval_chain aws-administrator") {
			t.Errorf("error should name the file, line and change: %v", err)
		}
		sameSnapshot(t, empty, snapshot(t, s))

		// On a populated store, with updates before the failure.
		mustApply(t, s, exampleYAML(t))
		before := snapshot(t, s)
		edited := strings.ReplaceAll(string(exampleYAML(t)), "department: Sales", "department: Revenue")
		const chainApprovers = `[primary_owner, secondary_owner, "user:maya.chen@acme.com"]`
		if !strings.Contains(edited, chainApprovers) {
			t.Fatalf("examples/tenant.yaml no longer has the aws-administrator approvers %s this test edits", chainApprovers)
		}
		edited = strings.Replace(edited, chainApprovers, "[primary_owner, secondary_owner]", 1)
		if _, err := applyYAML(t, failing{s, true}, []byte(edited), false); !errors.Is(err, accessbot.ErrConflict) {
			t.Fatalf("got %v, want a conflict", err)
		}
		sameSnapshot(t, before, snapshot(t, s))
	})
}

func TestUpdateAppliesOnlyThatChange(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		mustApply(t, s, exampleYAML(t))
		tn, _ := s.GetTenantBySlug(ctx, "acme")
		gitlab, err := s.GetApplicationByName(ctx, tn.ID, "GitLab")
		if err != nil {
			t.Fatal(err)
		}
		usersBefore, _ := s.ListUsers(ctx, tn.ID)
		appsBefore, _ := s.ListApplications(ctx, tn.ID, "", 0)
		auditBefore, _ := s.ListAudit(ctx, tn.ID, "")

		edited := strings.Replace(string(exampleYAML(t)), "primary_owner: james.okafor@acme.com", "primary_owner: priya.nair@acme.com", 1)
		res := mustApply(t, s, []byte(edited))
		want := "~ application GitLab: primary_owner james.okafor@acme.com→priya.nair@acme.com\n"
		if got := lines(res); got != want {
			t.Fatalf("diff:\n%s\nwant:\n%s", got, want)
		}

		usersAfter, _ := s.ListUsers(ctx, tn.ID)
		appsAfter, _ := s.ListApplications(ctx, tn.ID, "", 0)
		auditAfter, _ := s.ListAudit(ctx, tn.ID, "")
		if a, b := mustJSON(t, usersBefore), mustJSON(t, usersAfter); a != b {
			t.Errorf("users changed")
		}
		priya, _ := s.GetUserByEmail(ctx, tn.ID, "priya.nair@acme.com")
		for i := range appsAfter {
			b, a := appsBefore[i], appsAfter[i]
			if a.ID == gitlab.ID {
				if a.PrimaryOwnerID != priya.ID {
					t.Errorf("GitLab primary owner = %q, want priya", a.PrimaryOwnerID)
				}
				a.PrimaryOwnerID, a.UpdatedAt = b.PrimaryOwnerID, b.UpdatedAt
			}
			if mustJSON(t, a) != mustJSON(t, b) {
				t.Errorf("application %s changed:\n%s\n%s", a.Name, mustJSON(t, b), mustJSON(t, a))
			}
		}
		if len(auditAfter) != len(auditBefore)+1 {
			t.Fatalf("audit grew by %d, want 1", len(auditAfter)-len(auditBefore))
		}
		last := auditAfter[len(auditAfter)-1]
		if last.Action != "application.updated" || last.ObjectID != gitlab.ID || last.ActorID != "apply" || len(last.Before) == 0 || len(last.After) == 0 {
			t.Errorf("audit entry = %+v", last)
		}
	})
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
