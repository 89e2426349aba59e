package scim_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot/connectors/outbound"
	"github.com/accessbot/accessbot/connectors/scim"
	"github.com/accessbot/accessbot/connectors/scim/scimfake"
	"github.com/accessbot/accessbot/flows/provision"
	"github.com/accessbot/accessbot/internal/secrets"
)

func newClient(t *testing.T, f *scimfake.Server, token string) (*scim.Client, *[]time.Duration) {
	t.Helper()
	al, err := outbound.ParseAllowlist([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	hc := outbound.New(outbound.Options{Allow: al, Timeout: 10 * time.Second}).HTTPClient()
	c, err := scim.New(scim.Config{BaseURL: f.URL(), Token: secrets.Secret(token), PageSize: 7}, hc, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	var waits []time.Duration
	scim.SetSleep(c, func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil })
	return c, &waits
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func step(op string, params map[string]string) provision.Step {
	s := provision.Step{TenantID: "t1", FlowID: "f1", Type: "scim_api_" + op, Kind: provision.KindProviderAPI, Provider: "scim", Op: op, Params: params}
	s.Fields.Target = provision.Person{Email: "alice@example.com", Name: "Alice"}
	s.Fields.Connection.Name = "Engineering"
	s.Fields.Connection.Type = "group"
	return s
}

func TestConfigNamesWhatIsMissing(t *testing.T) {
	for _, tc := range []struct {
		cfg  scim.Config
		want string
	}{
		{scim.Config{}, "base_url, token required"},
		{scim.Config{BaseURL: "https://x.example.com/scim/v2"}, "token required"},
		{scim.Config{BaseURL: "ftp://x", Token: "t"}, "want an absolute http(s) URL"},
		{scim.Config{BaseURL: "https://x.example.com/scim/v2", Token: "t"}, ""},
	} {
		err := tc.cfg.Check()
		if (tc.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v; want %q", tc.cfg, err, tc.want)
		}
	}
}

// Users and Groups are read a page at a time (count 7, the server caps
// at 5): every resource once, in order.
func TestListPagesWithStartIndexAndCount(t *testing.T) {
	f := scimfake.New()
	defer f.Close()
	f.MaxPage = 5
	var ids []string
	for i := range 12 {
		ids = append(ids, f.PutUser(scimfake.User{UserName: "user" + string(rune('a'+i)) + "@example.com", Active: true}))
	}
	g := f.PutGroup("Engineering")
	for _, id := range ids[:9] {
		f.AddMember(g, id)
	}
	c, _ := newClient(t, f, f.Token)
	var got []string
	pages := 0
	must(t, c.Users(context.Background(), func(us []scim.User) error {
		pages++
		for _, u := range us {
			got = append(got, u.ID)
		}
		return nil
	}))
	if strings.Join(got, ",") != strings.Join(ids, ",") || pages != 3 || f.Count("GET /Users") != 3 {
		t.Fatalf("users %v in %d pages (%d requests)", got, pages, f.Count("GET /Users"))
	}
	var members int
	must(t, c.Groups(context.Background(), func(gs []scim.Group) error {
		for _, g := range gs {
			members += len(g.Members)
		}
		return nil
	}))
	if members != 9 {
		t.Fatalf("members = %d", members)
	}
}

// Each scimType comes back as a message that says what it means.
func TestErrorsMapScimTypes(t *testing.T) {
	ctx := context.Background()
	f := scimfake.New()
	defer f.Close()
	alice := f.PutUser(scimfake.User{UserName: "alice@example.com", Active: true})
	g := f.PutGroup("Engineering")
	c, _ := newClient(t, f, f.Token)
	bad, _ := newClient(t, f, "wrong-token")

	f.DuplicateConflict = true
	_, err := c.GroupID(ctx, "Engineering")
	must(t, err)
	for _, tc := range []struct {
		name string
		err  error
		want []string
	}{
		{"unauthorized", bad.CheckRead(ctx), []string{"read users: HTTP 401", "bearer token was refused"}},
		{"invalidValue", c.AddMember(ctx, g, "u-nobody"), []string{"add user u-nobody to group", "HTTP 400 invalidValue", "not valid", "not a user of this service provider"}},
		{"missing group", c.RemoveMember(ctx, "g-none", alice), []string{"HTTP 404", "no such resource"}},
		{"user not found", func() error { _, err := c.UserID(ctx, "bob@example.com"); return err }(), []string{"find user bob@example.com: HTTP 404", "no user has this userName or id"}},
		{"group not found", func() error { _, err := c.GroupID(ctx, "Nope"); return err }(), []string{"find group Nope: HTTP 404"}},
		{"mutability", &scim.Error{Op: "replace id", Status: 400, ScimType: "mutability", Detail: "Attribute 'id' is readOnly."}, []string{"HTTP 400 mutability (the change tries to modify a read-only or immutable attribute): Attribute 'id' is readOnly."}},
		{"noTarget", &scim.Error{Op: "remove", Status: 400, ScimType: "noTarget"}, []string{"noTarget (the PATCH path matched nothing"}},
		{"uniqueness", &scim.Error{Op: "create user a", Status: 409, ScimType: "uniqueness"}, []string{"uniqueness (a value that must be unique is already in use"}},
		{"invalidValue on create", func() error { _, err := c.CreateUser(ctx, scim.NewUser{}); return err }(), []string{"create user : HTTP 400 invalidValue", "no userName"}},
	} {
		if tc.err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(tc.err.Error(), w) {
				t.Errorf("%s: %q lacks %q", tc.name, tc.err, w)
			}
		}
		if strings.Contains(tc.err.Error(), f.Token) || strings.Contains(tc.err.Error(), "wrong-token") {
			t.Errorf("%s: the token is in %q", tc.name, tc.err)
		}
	}
	var se *scim.Error
	if err := c.SetActive(ctx, "u-none", false); !errors.As(err, &se) || se.Status != 404 || se.Retryable() {
		t.Fatalf("deactivate a missing user: %v", err)
	}
}

// The runner's steps are idempotent: a retried add after "already
// exists" (409 uniqueness or a no-op), a remove of a member who is gone
// (noTarget), a repeated create (uniqueness: the same id), a lost answer.
func TestRunnerIsIdempotent(t *testing.T) {
	for _, conflict := range []bool{false, true} {
		f := scimfake.New()
		f.DuplicateConflict = conflict
		alice := f.PutUser(scimfake.User{UserName: "alice@example.com", Active: true})
		eng := f.PutGroup("Engineering")
		c, waits := newClient(t, f, f.Token)
		r := scim.Runner{Client: func(context.Context, provision.Step) (*scim.Client, error) { return c, nil }}
		ctx := context.Background()

		for attempt := range 2 {
			res, err := r.Run(ctx, step("add_user_to_group", nil))
			if err != nil || !f.IsMember(eng, alice) || res.Outputs["scim_user_id"] != alice {
				t.Fatalf("conflict=%v add attempt %d: %v %+v", conflict, attempt, err, res)
			}
		}
		for attempt := range 2 {
			if _, err := r.Run(ctx, step("remove_user_from_group", nil)); err != nil || f.IsMember(eng, alice) {
				t.Fatalf("conflict=%v remove attempt %d: %v", conflict, attempt, err)
			}
		}
		// A lost answer: the add is applied, the step sees a 500 (retryable),
		// and its retry meets the member already there.
		f.LoseResponses(1)
		_, err := r.Run(ctx, step("add_user_to_group", nil))
		if err == nil || provision.IsPermanent(err) || !f.IsMember(eng, alice) {
			t.Fatalf("lost answer: %v (member %v)", err, f.IsMember(eng, alice))
		}
		if _, err := r.Run(ctx, step("add_user_to_group", nil)); err != nil {
			t.Fatalf("retry after a lost answer: %v", err)
		}

		s := step("create_user", map[string]string{"user_name": "carol@example.com", "display_name": "Carol"})
		res, err := r.Run(ctx, s)
		must(t, err)
		res2, err := r.Run(ctx, s)
		if err != nil || res2.Outputs["scim_user_id"] != res.Outputs["scim_user_id"] || f.User("carol@example.com") == nil {
			t.Fatalf("repeat create: %v %v %v", err, res.Outputs, res2.Outputs)
		}
		for range 2 {
			if _, err := r.Run(ctx, step("disable_user", map[string]string{"user": "carol@example.com"})); err != nil || f.User("carol@example.com").Active {
				t.Fatalf("disable: %v", err)
			}
		}
		for range 2 {
			if _, err := r.Run(ctx, step("delete_user", map[string]string{"user": "carol@example.com"})); err != nil || f.User("carol@example.com") != nil {
				t.Fatalf("delete: %v", err)
			}
		}
		// Removing someone with no account at all is done, too.
		if _, err := r.Run(ctx, step("remove_user_from_group", map[string]string{"user": "nobody@example.com"})); err != nil {
			t.Fatalf("remove a user with no account: %v", err)
		}
		// A busy server is waited out.
		f.Throttle(2)
		if _, err := r.Run(ctx, step("remove_user_from_group", nil)); err != nil || len(*waits) != 2 || (*waits)[0] != time.Second {
			t.Fatalf("throttled: %v waits %v", err, *waits)
		}
		_, err = r.Run(ctx, step("add_user_to_group", map[string]string{"group": "Nope"}))
		if !provision.IsPermanent(err) || !strings.Contains(err.Error(), "find group Nope") {
			t.Fatalf("unknown group: %v", err)
		}
		if _, err := r.Run(ctx, step("add_user_to_role", nil)); !errors.Is(err, provision.ErrUnknownScript) || !provision.IsPermanent(err) {
			t.Fatalf("unknown op: %v", err)
		}
		f.Close()
	}
}

// create_group and delete_group (the seed's connection create and delete
// relationships) are idempotent: a repeat or a retry after a lost answer
// meets the group (409 uniqueness, or found first) and makes no second
// one; deleting a group that is gone is done.
func TestRunnerCreatesAndDeletesGroups(t *testing.T) {
	f := scimfake.New()
	defer f.Close()
	c, _ := newClient(t, f, f.Token)
	r := scim.Runner{Client: func(context.Context, provision.Step) (*scim.Client, error) { return c, nil }}
	ctx := context.Background()

	s := step("create_group", map[string]string{"name": "Payroll"})
	res, err := r.Run(ctx, s)
	must(t, err)
	ids := f.GroupIDs("Payroll")
	if len(ids) != 1 || res.Outputs["scim_group_id"] != ids[0] || f.Count("POST /Groups") != 1 {
		t.Fatalf("create: %+v, groups %v", res, ids)
	}
	if res2, err := r.Run(ctx, s); err != nil || res2.Outputs["scim_group_id"] != ids[0] || len(f.GroupIDs("Payroll")) != 1 {
		t.Fatalf("repeat create: %v %+v groups %v", err, res2, f.GroupIDs("Payroll"))
	}
	// The connection's name is the default; a lost answer is retried and
	// finds the group the first attempt made.
	d := step("create_group", nil)
	d.Fields.Connection.Name = "Auditors"
	f.LoseResponses(1)
	if _, err := r.Run(ctx, d); err == nil || provision.IsPermanent(err) {
		t.Fatalf("lost answer: %v", err)
	}
	res, err = r.Run(ctx, d)
	if err != nil || len(f.GroupIDs("Auditors")) != 1 || res.Outputs["scim_group_id"] != f.GroupIDs("Auditors")[0] {
		t.Fatalf("retry after a lost answer: %v %+v groups %v", err, res, f.GroupIDs("Auditors"))
	}
	if _, err := c.CreateGroup(ctx, " "); err == nil || !strings.Contains(err.Error(), "create group") || !strings.Contains(err.Error(), "no displayName") {
		t.Fatalf("empty name: %v", err)
	}

	for attempt := range 2 {
		if _, err := r.Run(ctx, step("delete_group", map[string]string{"group": "Payroll"})); err != nil || len(f.GroupIDs("Payroll")) != 0 {
			t.Fatalf("delete attempt %d: %v groups %v", attempt, err, f.GroupIDs("Payroll"))
		}
	}
	// By id, with the answer lost: the retry's 404 is success.
	id := f.GroupIDs("Auditors")[0]
	f.LoseResponses(1)
	if _, err := r.Run(ctx, step("delete_group", map[string]string{"group": id})); err == nil {
		t.Fatal("lost delete answer: no error")
	}
	if _, err := r.Run(ctx, step("delete_group", map[string]string{"group": id})); err != nil || len(f.GroupIDs("Auditors")) != 0 {
		t.Fatalf("delete retry: %v", err)
	}
	if err := c.DeleteGroup(ctx, id); err != nil {
		t.Fatalf("DeleteGroup of a gone group: %v", err)
	}
}

// Every operation the runner does is one apply accepts, and the reverse:
// a scim_api_* script apply accepts never meets "unknown operation".
func TestOpsMatchWhatApplyAccepts(t *testing.T) {
	if got, want := strings.Join(scim.Ops, ","), strings.Join(provision.BuiltProviders[scim.Provider], ","); got != want {
		t.Fatalf("scim.Ops = %s\nprovision.BuiltProviders[scim] = %s", got, want)
	}
}

func TestServiceProviderConfig(t *testing.T) {
	f := scimfake.New()
	defer f.Close()
	c, _ := newClient(t, f, f.Token)
	sp, err := c.Config(context.Background())
	must(t, err)
	if !sp.Patch.Supported || !sp.Filter.Supported || len(sp.AuthenticationSchemes) != 1 || sp.AuthenticationSchemes[0].Type != "oauthbearertoken" {
		t.Fatalf("config = %+v", sp)
	}
}
