package requests_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/requests"
)

func TestConnectionRequestsStoreExactJSON(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver, requests.Policy{})
		f.chain("default", false, "", level(accessbot.RuleAny, kind(accessbot.ApproverManager)))
		base := func() (string, string, string) { return f.tenant.ID, f.u["alice"].ID, f.app.ID }
		tn, req, app := base()
		cases := []struct {
			name     string
			in       requests.Input
			kind     accessbot.RequestKind
			conn     string
			wantJSON string
		}{
			{
				name: "creation",
				in: requests.ConnectionCreate{TenantID: tn, RequesterID: req, AppID: app, Name: " release-managers ",
					Type: "group", Description: "Can tag releases",
					Fields: map[string]string{"visibility": "internal", "notes": " Q3 rollout "}},
				kind:     accessbot.RequestConnectionCreate,
				wantJSON: `{"name":"release-managers","type":"group","description":"Can tag releases","fields":{"notes":"Q3 rollout","visibility":"internal"}}`,
			},
			{
				name: "assignment",
				in: requests.ConnectionAssign{TenantID: tn, RequesterID: req, AppID: app, ConnectionID: f.conn["developers"].ID,
					Grants:  []requests.Grant{{Type: "project", SourceName: "repo-api"}, {Type: "role", SourceName: "auditor"}},
					Revokes: []requests.Grant{{Type: "group", SourceName: "maintainers"}}},
				kind:     accessbot.RequestConnectionAssign,
				conn:     "developers",
				wantJSON: `{"grants":[{"type":"project","source_name":"repo-api"},{"type":"role","source_name":"auditor"}],"revokes":[{"type":"group","source_name":"maintainers"}]}`,
			},
			{
				name: "assignment with only revokes",
				in: requests.ConnectionAssign{TenantID: tn, RequesterID: req, AppID: app, ConnectionID: f.conn["maintainers"].ID,
					Revokes: []requests.Grant{{Type: "project", SourceName: "repo-api"}}},
				kind:     accessbot.RequestConnectionAssign,
				conn:     "maintainers",
				wantJSON: `{"grants":[],"revokes":[{"type":"project","source_name":"repo-api"}]}`,
			},
			{
				name:     "deletion",
				in:       requests.ConnectionDelete{TenantID: tn, RequesterID: req, AppID: app, ConnectionID: f.conn["auditor"].ID},
				kind:     accessbot.RequestConnectionDelete,
				conn:     "auditor",
				wantJSON: `{"name":"auditor","type":"role"}`,
			},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r := f.create(c.in)
				got := f.get(r.ID)
				eq(t, "kind", got.Kind, c.kind)
				eq(t, "payload", string(got.Payload), c.wantJSON)
				if c.conn != "" {
					eq(t, "connection", got.ConnectionID, f.conn[c.conn].ID)
				}
				// "manager" on a connection request means the requester's manager.
				eq(t, "levels", fmtLevels(f.levelNames(got)), "[[mgr]]")
				f.approve(got, "mgr", 0)
				eq(t, "status", f.get(r.ID).Status, accessbot.StatusApproved)
				if c.kind == accessbot.RequestConnectionAssign {
					p, err := requests.DecodeAssignment(got)
					f.must(err)
					if len(p.Grants)+len(p.Revokes) == 0 {
						t.Error("decoded assignment is empty")
					}
				}
			})
		}
	})
}

func TestFieldErrors(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver, requests.Policy{})
		f.chain("default", false, "", level(accessbot.RuleAny, kind(accessbot.ApproverOwners)))
		tn, alice, app := f.tenant.ID, f.u["alice"].ID, f.app.ID
		dev := f.conn["developers"].ID
		ua := func(mod func(*requests.UserAccess)) requests.Input {
			in := f.userAccess()
			mod(&in)
			return in
		}
		cases := []struct {
			name  string
			in    requests.Input
			field string
		}{
			{"empty justification", ua(func(in *requests.UserAccess) { in.Justification = "   " }), requests.FieldJustification},
			{"short justification", ua(func(in *requests.UserAccess) { in.Justification = " too short " }), requests.FieldJustification},
			{"long justification", ua(func(in *requests.UserAccess) { in.Justification = strings.Repeat("é", 2001) }), requests.FieldJustification},
			{"duration over max", ua(func(in *requests.UserAccess) { in.Duration = 8 * 24 * time.Hour }), requests.FieldDuration},
			{"permanent on a time-bound app", ua(func(in *requests.UserAccess) { in.Duration = 0 }), requests.FieldDuration},
			{"negative duration", ua(func(in *requests.UserAccess) { in.Duration = -time.Hour }), requests.FieldDuration},
			{"unknown app", ua(func(in *requests.UserAccess) { in.AppID = "nope" }), requests.FieldApp},
			{"missing connection", ua(func(in *requests.UserAccess) { in.ConnectionID = "nope" }), requests.FieldConnection},
			{"not my report", ua(func(in *requests.UserAccess) { in.TargetUserID = f.u["carol"].ID }), requests.FieldTarget},
			{"peer is not my report", ua(func(in *requests.UserAccess) { in.TargetUserID = f.u["bob"].ID }), requests.FieldTarget},
			{"name taken", requests.ConnectionCreate{TenantID: tn, RequesterID: alice, AppID: app, Name: "Developers", Type: "group",
				Fields: map[string]string{"visibility": "private"}}, requests.FieldName},
			{"empty name", requests.ConnectionCreate{TenantID: tn, RequesterID: alice, AppID: app, Type: "group",
				Fields: map[string]string{"visibility": "private"}}, requests.FieldName},
			{"bad type", requests.ConnectionCreate{TenantID: tn, RequesterID: alice, AppID: app, Name: "x", Type: "team",
				Fields: map[string]string{"visibility": "private"}}, requests.FieldType},
			{"required schema field", requests.ConnectionCreate{TenantID: tn, RequesterID: alice, AppID: app, Name: "x", Type: "group"},
				"fields.visibility"},
			{"select option", requests.ConnectionCreate{TenantID: tn, RequesterID: alice, AppID: app, Name: "x", Type: "group",
				Fields: map[string]string{"visibility": "public"}}, "fields.visibility"},
			{"unknown schema field", requests.ConnectionCreate{TenantID: tn, RequesterID: alice, AppID: app, Name: "x", Type: "group",
				Fields: map[string]string{"visibility": "private", "color": "red"}}, "fields.color"},
			{"grant also revoke", requests.ConnectionAssign{TenantID: tn, RequesterID: alice, AppID: app, ConnectionID: dev,
				Grants:  []requests.Grant{{Type: "project", SourceName: "repo-api"}},
				Revokes: []requests.Grant{{Type: "project", SourceName: "repo-api"}}}, requests.FieldRevokes},
			{"no grant nor revoke", requests.ConnectionAssign{TenantID: tn, RequesterID: alice, AppID: app, ConnectionID: dev},
				requests.FieldGrants},
			{"grant not of this app", requests.ConnectionAssign{TenantID: tn, RequesterID: alice, AppID: app, ConnectionID: dev,
				Grants: []requests.Grant{{Type: "group", SourceName: "payroll"}}}, requests.FieldGrants},
			{"grant to itself", requests.ConnectionAssign{TenantID: tn, RequesterID: alice, AppID: app, ConnectionID: dev,
				Grants: []requests.Grant{{Type: "group", SourceName: "developers"}}}, requests.FieldGrants},
			{"assignment to a missing connection", requests.ConnectionAssign{TenantID: tn, RequesterID: alice, AppID: app, ConnectionID: "nope",
				Grants: []requests.Grant{{Type: "project", SourceName: "repo-api"}}}, requests.FieldConnection},
			{"deletion of a missing connection", requests.ConnectionDelete{TenantID: tn, RequesterID: alice, AppID: app, ConnectionID: "nope"},
				requests.FieldConnection},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				_, err := f.svc.Prepare(f.ctx, c.in)
				fields := fieldErrors(t, err)
				if fields[c.field] == "" {
					t.Fatalf("no error on %q: %v", c.field, fields)
				}
				_, err = f.svc.Create(f.ctx, c.in)
				fieldErrors(t, err)
			})
		}
		rs, err := f.st.ListRequestsByStatus(f.ctx, tn, accessbot.StatusPending, 0)
		f.must(err)
		eq(t, "requests stored after refusals", len(rs), 0)
	})
}

func TestDuplicateOpenRequestPointsToExisting(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver, requests.Policy{})
		f.chain("default", false, "", level(accessbot.RuleAny, kind(accessbot.ApproverOwners)))
		first := f.create(f.userAccess())
		create := requests.ConnectionCreate{TenantID: f.tenant.ID, RequesterID: f.u["alice"].ID, AppID: f.app.ID,
			Name: "ops", Type: "group", Fields: map[string]string{"visibility": "private"}}
		firstCreate := f.create(create)
		// Another person asking for the same new connection, differently cased, is the same thing.
		sameCreate := create
		sameCreate.RequesterID, sameCreate.Name = f.u["bob"].ID, "OPS"
		for name, c := range map[string]struct {
			in   requests.Input
			want string
		}{
			"user access":         {f.userAccess(), first.ID},
			"connection creation": {sameCreate, firstCreate.ID},
		} {
			_, err := f.svc.Create(f.ctx, c.in)
			var dup *requests.DuplicateRequestError
			if !errors.As(err, &dup) || dup.ExistingID != c.want {
				t.Errorf("%s: want duplicate of %s, got %v", name, c.want, err)
			}
			if !errors.Is(err, accessbot.ErrConflict) {
				t.Errorf("%s: should unwrap to ErrConflict", name)
			}
		}
		// For someone else, or another entitlement, it is a different thing.
		other := f.userAccess()
		other.ConnectionID = f.conn["maintainers"].ID
		f.create(other)
		forBob := f.userAccess()
		forBob.RequesterID, forBob.TargetUserID = f.u["mgr"].ID, f.u["bob"].ID
		f.create(forBob)
	})
}

func TestApproverResolution(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver, requests.Policy{})
		f.chain("default", false, "", level(accessbot.RuleAny, f.named("carol")))
		f.chain("gitlab", true, "", level(accessbot.RuleAll, kind(accessbot.ApproverPrimary)),
			level(accessbot.RuleAny, kind(accessbot.ApproverSecondary), kind(accessbot.ApproverManager)))
		f.chain("gitlab-auditor", true, f.conn["auditor"].ID, level(accessbot.RuleAny, f.named("dave")))

		in := f.userAccess()
		eq(t, "app chain", fmtLevels(f.levelNames(f.create(in))), "[[owner1] [mgr owner2]]")
		in.ConnectionID = f.conn["auditor"].ID
		eq(t, "connection chain", fmtLevels(f.levelNames(f.create(in))), "[[dave]]")

		// mgr asking for a report: "manager" is mgr, the requester, so that level keeps only owner2.
		// (alice's own open request for developers would make this a duplicate: use maintainers.)
		in = f.userAccess()
		in.ConnectionID = f.conn["maintainers"].ID
		in.RequesterID, in.TargetUserID = f.u["mgr"].ID, f.u["alice"].ID
		d, err := f.svc.Prepare(f.ctx, in)
		f.must(err)
		eq(t, "manager for a report", fmtLevels(f.levelNames(&d.Request)), "[[owner1] [owner2]]")
		eq(t, "target", d.Request.TargetUserID, f.u["alice"].ID)

		// A terminated owner is skipped; a level with nobody left goes to the admins.
		owner1 := f.u["owner1"]
		owner1.Status = accessbot.UserTerminated
		f.must(f.st.UpdateUser(f.ctx, owner1))
		in = f.userAccess()
		in.ConnectionID = f.conn["maintainers"].ID
		r := f.create(in)
		eq(t, "terminated owner", fmtLevels(f.levelNames(r)), "[[admin1 admin2] [mgr owner2]]")
		eq(t, "fallback rule", r.Levels[0].Rule, accessbot.RuleAny)

		// Delegation: owner2 is away until tomorrow, carol stands in; an expired delegation does nothing.
		owner2 := f.u["owner2"]
		owner2.DelegateID = f.u["carol"].ID
		until := t0.Add(24 * time.Hour)
		owner2.DelegateUntil = &until
		f.must(f.st.UpdateUser(f.ctx, owner2))
		in = f.userAccess()
		in.ConnectionID = f.conn["maintainers"].ID
		in.RequesterID, in.TargetUserID = f.u["mgr"].ID, f.u["bob"].ID
		r = f.create(in)
		eq(t, "delegation", fmtLevels(f.levelNames(r)), "[[admin1 admin2] [carol]]")
		f.approve(r, "admin1", 0)
		f.approve(r, "carol", 1)
		eq(t, "approved by the delegate", f.get(r.ID).Status, accessbot.StatusApproved)

		f.clock.Advance(25 * time.Hour)
		d, err = f.svc.Prepare(f.ctx, in)
		f.must(err)
		eq(t, "expired delegation", fmtLevels(f.levelNames(&d.Request)), "[[admin1 admin2] [owner2]]")

		// The default chain when the app has none: through another app.
		app2 := &accessbot.Application{TenantID: f.tenant.ID, Name: "Jira"}
		f.must(f.st.CreateApplication(f.ctx, app2))
		conn2 := &accessbot.Connection{TenantID: f.tenant.ID, AppID: app2.ID, Name: "users", Type: "group"}
		f.must(f.st.CreateConnection(f.ctx, conn2))
		in = requests.UserAccess{TenantID: f.tenant.ID, RequesterID: f.u["alice"].ID, AppID: app2.ID, ConnectionID: conn2.ID,
			Justification: "Need to file tickets for the release."}
		d, err = f.svc.Prepare(f.ctx, in)
		f.must(err)
		eq(t, "default chain", fmtLevels(f.levelNames(&d.Request)), "[[carol]]")
		eq(t, "permanent allowed when MaxDuration is 0", d.Request.Duration, time.Duration(0))
	})
}

func TestNoOneToApprove(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver, requests.Policy{})
		if _, err := f.svc.Create(f.ctx, f.userAccess()); !errors.Is(err, requests.ErrNoChain) {
			t.Fatalf("no chain: %v", err)
		}
		// Only the requester can approve, and the requester is the only admin.
		f.chain("default", false, "", level(accessbot.RuleAny, f.named("admin1")))
		in := f.userAccess()
		in.RequesterID = f.u["admin1"].ID
		admin2 := f.u["admin2"]
		admin2.Role = accessbot.RoleMember
		f.must(f.st.UpdateUser(f.ctx, admin2))
		if _, err := f.svc.Create(f.ctx, in); !errors.Is(err, requests.ErrNoApprovers) {
			t.Fatalf("nobody but the requester: %v", err)
		}
		// A terminated requester cannot ask.
		alice := f.u["alice"]
		alice.Status = accessbot.UserTerminated
		f.must(f.st.UpdateUser(f.ctx, alice))
		if _, err := f.svc.Create(f.ctx, f.userAccess()); !errors.Is(err, requests.ErrForbidden) {
			t.Fatalf("terminated requester: %v", err)
		}
	})
}

func TestSelectChain(t *testing.T) {
	lv := []accessbot.ApprovalLevel{{Rule: accessbot.RuleAny}}
	chains := []accessbot.ApprovalChain{
		{Name: "z-default", Levels: lv},
		{Name: "a-default", Levels: lv},
		{Name: "app", AppID: "A", Levels: lv},
		{Name: "conn", AppID: "A", ConnectionID: "C", Levels: lv},
		{Name: "other-app", AppID: "B", Levels: lv},
		{Name: "empty", AppID: "E"},
	}
	cases := []struct {
		app, conn, want string
		err             error
	}{
		{"A", "C", "conn", nil},
		{"A", "D", "app", nil},
		{"A", "", "app", nil},
		{"B", "C", "other-app", nil},
		{"X", "", "a-default", nil},
		{"E", "", "", requests.ErrNoChain},
	}
	for _, c := range cases {
		got, err := requests.SelectChain(chains, c.app, c.conn)
		if c.err != nil {
			if !errors.Is(err, c.err) {
				t.Errorf("(%s,%s): err %v, want %v", c.app, c.conn, err, c.err)
			}
			continue
		}
		if err != nil || got.Name != c.want {
			t.Errorf("(%s,%s) = %v, %v; want %s", c.app, c.conn, got, err, c.want)
		}
	}
	if _, err := requests.SelectChain(chains[2:3], "X", ""); !errors.Is(err, requests.ErrNoChain) {
		t.Errorf("no default: %v", err)
	}
}
