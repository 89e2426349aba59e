package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/internal/report/pdftext"
)

var updateReports = flag.Bool("update-reports", false, "rewrite testdata/report_*.golden")

var rpT0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func at(d time.Duration) *time.Time { t := rpT0.Add(d); return &t }

// reportStore is tenant acme with one campaign (a keep, a revocation
// carried out by its deprovisioning flow, one left to the owner, a
// nominated item still pending at level 2, a delegated one) and three
// requests (approved and provisioned, denied, and one before --since).
func reportStore(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	dsn := "file:" + filepath.Join(t.TempDir(), "report.db")
	st := openSQLite(t, dsn)
	defer st.Close()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	ten := &accessbot.Tenant{ID: "t-acme", Slug: "acme", Name: "Acme Corp"}
	must(st.CreateTenant(ctx, ten))
	for _, u := range []struct{ id, name string }{{"u-ada", "Ada"}, {"u-mia", "Mia"}, {"u-bob", "Bob"}, {"u-olga", "Olga"}, {"u-walt", "Walt"}} {
		role := accessbot.RoleMember
		if u.id == "u-ada" {
			role = accessbot.RoleAdmin
		}
		must(st.CreateUser(ctx, &accessbot.User{ID: u.id, TenantID: ten.ID, Email: strings.ToLower(u.name) + "@acme.test", Name: u.name,
			Status: accessbot.UserActive, Role: role}))
	}
	app := &accessbot.Application{ID: "app-gitlab", TenantID: ten.ID, Name: "GitLab", Connector: "manual", PrimaryOwnerID: "u-olga"}
	must(st.CreateApplication(ctx, app))
	for _, c := range []string{"admins", "devs"} {
		must(st.CreateConnection(ctx, &accessbot.Connection{ID: "c-" + c, TenantID: ten.ID, AppID: app.ID, Name: c, Type: "group"}))
	}

	camp := &accessbot.Campaign{ID: "camp-q1", TenantID: ten.ID, Name: "Q1 GitLab review", Scope: accessbot.ReviewScope{AppIDs: []string{app.ID}},
		Levels: []accessbot.ReviewerRule{accessbot.ReviewerManager, accessbot.ReviewerAppOwner}, DueAt: rpT0.Add(30 * 24 * time.Hour),
		Status: accessbot.CampaignActive, CreatedBy: "u-ada", LaunchedAt: rpT0}
	must(st.CreateCampaign(ctx, camp))
	item := func(id string, level int, parent, subject, user, ent, reviewer string) accessbot.ReviewItem {
		return accessbot.ReviewItem{ID: id, TenantID: ten.ID, CampaignID: camp.ID, Level: level, ParentID: parent, AppID: app.ID, IdentityID: "id-" + user,
			EntitlementID: "e-" + ent, UserID: user, ReviewerID: reviewer, Subject: subject, AppName: "GitLab", EntitlementName: ent,
			Privileged: ent == "admins", Status: accessbot.ReviewPending, CreatedAt: rpT0}
	}
	must(st.CreateReviewItems(ctx, []accessbot.ReviewItem{
		item("it-1", 0, "", "Bob", "u-bob", "admins", "u-mia"),
		item("it-2", 0, "", "Bob", "u-bob", "devs", "u-mia"),
		item("it-3", 0, "", "Walt", "u-walt", "devs", "u-mia"),
	}))
	must(st.DecideReviewItem(ctx, ten.ID, "it-1", "u-mia", accessbot.ReviewKept, "needs it for releases", rpT0.Add(2*time.Hour)))
	must(st.DecideReviewItem(ctx, ten.ID, "it-2", "u-mia", accessbot.ReviewRevoked, "=cmd|' /C calc'!A0", rpT0.Add(3*time.Hour)))
	must(st.DecideReviewItem(ctx, ten.ID, "it-3", "u-mia", accessbot.ReviewRevoked, "left the team", rpT0.Add(4*time.Hour)))
	must(st.CreateReviewItems(ctx, []accessbot.ReviewItem{item("it-4", 1, "it-1", "Bob", "u-bob", "admins", "u-walt")}))
	must(st.AppendAudit(ctx, &accessbot.AuditEntry{TenantID: ten.ID, At: rpT0.Add(5 * time.Hour), ActorID: "u-walt", Action: "review.nominated",
		ObjectType: "review_item", ObjectID: "it-4", Before: []byte(`{"reviewer_id":"u-walt"}`), After: []byte(`{"reviewer_id":"u-olga","reason":"Olga owns GitLab"}`)}))
	must(st.ReassignReviewItem(ctx, ten.ID, "it-4", "u-walt", "u-olga", rpT0.Add(5*time.Hour)))
	must(st.AppendAudit(ctx, &accessbot.AuditEntry{TenantID: ten.ID, At: rpT0, ActorID: "system", Action: "review.delegated",
		ObjectType: "review_item", ObjectID: "it-3", Before: []byte(`{"reviewer_id":"u-ada"}`), After: []byte(`{"reviewer_id":"u-mia","reason":"delegate of the reviewer"}`)}))
	for _, id := range []string{"it-2", "it-3"} {
		must(st.CreateRevocation(ctx, &accessbot.Revocation{ID: "rv-" + id, TenantID: ten.ID, ItemID: id, CampaignID: camp.ID, AppID: app.ID,
			OwnerID: "u-olga", Status: accessbot.RevocationPending, CreatedAt: rpT0.Add(3 * time.Hour)}))
	}
	must(st.CreateActionFlow(ctx, &accessbot.ActionFlow{ID: "flow-dep-it2", TenantID: ten.ID, Key: "deprovision:g-bob-devs", AppID: app.ID,
		ConnectionID: "c-devs", UserID: "u-bob", Relationship: "group", Direction: "deprovision", Status: accessbot.FlowDone, ActorID: "u-mia",
		Reason: "revoked in access review camp-q1", CreatedAt: rpT0.Add(3 * time.Hour), FinishedAt: at(3*time.Hour + time.Minute),
		Steps: []accessbot.ActionFlowStep{{Type: "hooks_webhook_remove", Status: accessbot.FlowDone, FinishedAt: at(3*time.Hour + time.Minute)}}}))

	// Requests: one before --since, one approved and provisioned, one denied.
	lvl := []accessbot.ApprovalLevel{{Approvers: []accessbot.Approver{{Kind: accessbot.ApproverUser, UserID: "u-mia"}}, Rule: accessbot.RuleAny},
		{Approvers: []accessbot.Approver{{Kind: accessbot.ApproverUser, UserID: "u-olga"}}, Rule: accessbot.RuleAny}}
	req := func(id string, created time.Duration, conn string, status accessbot.RequestStatus, why string) {
		r := &accessbot.AccessRequest{ID: id, TenantID: ten.ID, Kind: accessbot.RequestUserAccess, RequesterID: "u-bob", TargetUserID: "u-bob",
			AppID: app.ID, ConnectionID: conn, Duration: 8 * time.Hour, Justification: why, Status: status, Levels: lvl,
			CreatedAt: rpT0.Add(created), UpdatedAt: rpT0.Add(created)}
		if status != accessbot.StatusPending {
			r.DecidedAt = at(created + time.Hour)
		}
		must(st.CreateRequest(ctx, r))
	}
	req("req-0", -48*time.Hour, "c-devs", accessbot.StatusCancelled, "too early for the report")
	req("req-1", 24*time.Hour, "c-admins", accessbot.StatusApproved, "release 4.2 needs a maintainer")
	req("req-2", 26*time.Hour, "c-devs", accessbot.StatusDenied, "@SUM(1+1) curious")
	must(st.AddDecision(ctx, &accessbot.Decision{TenantID: ten.ID, RequestID: "req-1", Level: 0, ApproverID: "u-mia", Decision: accessbot.DecisionApprove, DecidedAt: rpT0.Add(24*time.Hour + 10*time.Minute)}))
	must(st.AddDecision(ctx, &accessbot.Decision{TenantID: ten.ID, RequestID: "req-1", Level: 1, ApproverID: "u-olga", Decision: accessbot.DecisionApprove, DecidedAt: rpT0.Add(25 * time.Hour)}))
	must(st.AppendAudit(ctx, &accessbot.AuditEntry{TenantID: ten.ID, At: rpT0.Add(25 * time.Hour), ActorID: "u-olga", Action: "request.stepped_up",
		ObjectType: "access_request", ObjectID: "req-1", After: []byte(`{"approver_id":"u-olga","level":2,"issuer":"https://login.acme.test","auth_time":"2026-03-03T09:59:30Z"}`)}))
	must(st.AddDecision(ctx, &accessbot.Decision{TenantID: ten.ID, RequestID: "req-2", Level: 0, ApproverID: "u-mia", Decision: accessbot.DecisionDeny, Reason: "not needed", DecidedAt: rpT0.Add(27 * time.Hour)}))
	must(st.CreateActionFlow(ctx, &accessbot.ActionFlow{ID: "flow-prov-req1", TenantID: ten.ID, Key: "provision:req-1", RequestID: "req-1", AppID: app.ID,
		ConnectionID: "c-admins", UserID: "u-bob", Relationship: "group", Direction: "provision", Status: accessbot.FlowDone, ActorID: "system",
		CreatedAt: rpT0.Add(25 * time.Hour), FinishedAt: at(26 * time.Hour),
		Steps: []accessbot.ActionFlowStep{
			{Type: "hooks_webhook_add", Status: accessbot.FlowDone, Note: "webhook hooks/add delivered (HTTP 200)", FinishedAt: at(25*time.Hour + time.Minute)},
			{Type: "manual", Status: accessbot.FlowDone, AnsweredBy: "u-olga", FinishedAt: at(26 * time.Hour)}}}))
	must(st.CreateEntitlement(ctx, &accessbot.Entitlement{ID: "g-1", TenantID: ten.ID, UserID: "u-bob", ConnectionID: "c-admins", RequestID: "req-1",
		GrantedAt: rpT0.Add(26 * time.Hour), ExpiresAt: at(34 * time.Hour)}))
	// GitLab's inventory: Bob's account holds admins (also the grant g-1:
	// shown once) and releases; a second account, "svc-bob" without an
	// email, is mapped to him and holds devs; Walt's account is not his.
	inv := rpT0.Add(-90 * 24 * time.Hour)
	_, err := st.ReplaceIdentities(ctx, ten.ID, app.ID, []accessbot.Identity{
		{ExternalID: "bob", Email: "BOB@acme.test", Status: accessbot.IdentityActive},
		{ExternalID: "svc-bob", Status: accessbot.IdentityDisabled},
		{ExternalID: "walt", Email: "walt@acme.test", Status: accessbot.IdentityActive}}, accessbot.SnapshotKeep{}, inv)
	must(err)
	_, err = st.ReplaceAppEntitlements(ctx, ten.ID, app.ID, []accessbot.AppEntitlement{
		{ExternalID: "admins", Name: "admins", Type: "group"}, {ExternalID: "g-rel", Name: "releases", Type: "group"},
		{ExternalID: "devs", Name: "devs", Type: "group"}}, accessbot.SnapshotKeep{}, inv)
	must(err)
	_, err = st.ReplaceRelations(ctx, ten.ID, app.ID, []accessbot.RelationKey{{IdentityExternalID: "bob", EntitlementExternalID: "admins"},
		{IdentityExternalID: "bob", EntitlementExternalID: "g-rel"}, {IdentityExternalID: "walt", EntitlementExternalID: "devs"}}, accessbot.SnapshotKeep{}, inv)
	must(err)
	_, err = st.ReplaceRelations(ctx, ten.ID, app.ID, []accessbot.RelationKey{{IdentityExternalID: "bob", EntitlementExternalID: "admins"},
		{IdentityExternalID: "bob", EntitlementExternalID: "g-rel"}, {IdentityExternalID: "walt", EntitlementExternalID: "devs"},
		{IdentityExternalID: "svc-bob", EntitlementExternalID: "devs"}}, accessbot.SnapshotKeep{}, rpT0.Add(-24*time.Hour))
	must(err)
	idents, err := st.ListIdentities(ctx, ten.ID, app.ID, false)
	must(err)
	for _, id := range idents {
		if id.ExternalID == "svc-bob" {
			_, err := st.ReplaceIdentityMappings(ctx, ten.ID, []string{app.ID}, []accessbot.IdentityMapping{{TenantID: ten.ID, IdentityID: id.ID, UserID: "u-bob"}})
			must(err)
		}
	}
	return dsn
}

func reportGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "report_"+name+".golden")
	if *updateReports {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from %s:\n--- got\n%s\n--- want\n%s", name, path, got, want)
	}
}

// TestReports: `accessbot report campaign` and `report requests`, as CSV
// (exact content, formula-like cells neutralised) and as PDF (the text
// read back from the file, with the tenant, the period and the
// generation time); bad arguments are refused.
func TestReports(t *testing.T) {
	t.Parallel()
	dsn := reportStore(t)
	dir := t.TempDir()
	run := func(args ...string) (string, error) {
		m, stdout, stderr := testMain(map[string]string{"ACCESSBOT_STORE_DSN": dsn})
		m.Now = func() time.Time { return time.Date(2026, 4, 1, 8, 30, 0, 0, time.UTC) }
		err := m.Run(context.Background(), args)
		if err != nil {
			return stdout.String() + stderr.String(), err
		}
		return stdout.String(), nil
	}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"campaign", []string{"report", "campaign", "Q1 GitLab review"}},
		{"requests", []string{"report", "requests", "--since", "2026-03-01"}},
		{"access", []string{"report", "access", "--user", "BOB@acme.test"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := run(append(tc.args, "--format", "csv")...)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			reportGolden(t, tc.name+".csv", []byte(out))
			file := filepath.Join(dir, tc.name+".pdf")
			if out, err := run(append(tc.args, "--format", "pdf", "-o", file)...); err != nil || out != "" {
				t.Fatalf("pdf to a file: %v\n%s", err, out)
			}
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			doc, err := pdftext.Read(b)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(doc.Pages[0], "Tenant: Acme Corp") || !strings.Contains(doc.Pages[0], "Generated: 2026-04-01 08:30:00 UTC") {
				t.Fatalf("page 1 lacks the tenant or the generation time:\n%s", doc.Pages[0])
			}
			reportGolden(t, tc.name+".pdf.txt", []byte(doc.Text()))
		})
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"report", "campaign", "Nope"}, `no campaign named "Nope"`},
		{[]string{"report", "campaign", "Q1 GitLab review", "--format", "xls"}, "--format xls: want csv or pdf"},
		{[]string{"report", "requests"}, "--since is required"},
		{[]string{"report", "access"}, "--user is required"},
		{[]string{"report", "access", "--user", "nobody@acme.test"}, "no such person"},
		{[]string{"report", "requests", "--since", "last week"}, `--since "last week": want YYYY-MM-DD`},
		{[]string{"report", "requests", "--since", "2026-03-02", "--until", "2026-03-01"}, "is not after --since"},
	} {
		if out, err := run(tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v %s, want an error with %q", tc.args, err, out, tc.want)
		}
	}
}
