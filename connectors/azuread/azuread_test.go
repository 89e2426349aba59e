package azuread_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot/connectors/azuread"
	"github.com/accessbot/accessbot/connectors/azuread/graphfake"
	"github.com/accessbot/accessbot/connectors/outbound"
	"github.com/accessbot/accessbot/flows/provision"
	"github.com/accessbot/accessbot/internal/secrets"
)

func newClient(t *testing.T, f *graphfake.Server) (*azuread.Client, *[]time.Duration) {
	t.Helper()
	al, err := outbound.ParseAllowlist([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	hc := outbound.New(outbound.Options{Allow: al, Timeout: 10 * time.Second, MaxResponseBytes: 8 << 20}).HTTPClient()
	c, err := azuread.New(azuread.Config{TenantID: f.TenantID, ClientID: f.ClientID, ClientSecret: secrets.Secret(f.ClientSecret),
		AuthorityURL: f.URL(), GraphURL: f.GraphURL()}, hc, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	var waits []time.Duration
	azuread.SetSleep(c, func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil })
	return c, &waits
}

func TestTokenErrorsNameTheAppAndHideTheSecret(t *testing.T) {
	f := graphfake.New()
	defer f.Close()
	al, _ := outbound.ParseAllowlist([]string{"127.0.0.1"})
	hc := outbound.New(outbound.Options{Allow: al}).HTTPClient()
	bad, err := azuread.New(azuread.Config{TenantID: f.TenantID, ClientID: f.ClientID, ClientSecret: "wrong-secret-value",
		AuthorityURL: f.URL(), GraphURL: f.GraphURL()}, hc, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	_, err = bad.UsersDelta(context.Background(), "", func([]azuread.User) error { return nil })
	var ge *azuread.Error
	if !errors.As(err, &ge) || ge.Status != 401 || ge.Code != "invalid_client" || !strings.Contains(err.Error(), "AADSTS7000215") ||
		!strings.Contains(err.Error(), f.ClientID) || strings.Contains(err.Error(), "wrong-secret-value") {
		t.Fatalf("err = %v", err)
	}
	if _, err := azuread.New(azuread.Config{TenantID: "t"}, hc, zerolog.Nop()); err == nil || !strings.Contains(err.Error(), "client_id, client_secret required") {
		t.Fatalf("missing config err = %v", err)
	}
}

func TestUsersDeltaPagesThenPicksOnlyChangesThenResyncsWhenExpired(t *testing.T) {
	f := graphfake.New()
	defer f.Close()
	f.PageSize = 100
	leave := time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC)
	var ids []string
	for i := range 250 {
		u := graphfake.User{DisplayName: fmt.Sprintf("User %d", i), UPN: fmt.Sprintf("u%d@contoso.com", i), Mail: fmt.Sprintf("u%d@contoso.com", i), AccountEnabled: true}
		if i == 7 {
			u.LeaveDate = &leave
		}
		ids = append(ids, f.PutUser(u))
	}
	c, _ := newClient(t, f)
	ctx := context.Background()
	var got []azuread.User
	pages := 0
	link, err := c.UsersDelta(ctx, "", func(us []azuread.User) error { pages++; got = append(got, us...); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if pages != 3 || len(got) != 250 || !strings.Contains(link, "$deltatoken=") {
		t.Fatalf("pages %d users %d link %q", pages, len(got), link)
	}
	for _, u := range got {
		if u.UserPrincipalName == "u7@contoso.com" && (u.EmployeeLeaveDateTime == nil || !u.EmployeeLeaveDateTime.Equal(leave)) {
			t.Fatalf("u7 leave = %v", u.EmployeeLeaveDateTime)
		}
	}

	u3 := f.User(ids[3])
	u3.AccountEnabled = false
	f.PutUser(*u3)
	f.DeleteUser(ids[4])
	var changes []azuread.User
	link2, err := c.UsersDelta(ctx, link, func(us []azuread.User) error { changes = append(changes, us...); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 2 || link2 == link {
		t.Fatalf("changes = %+v", changes)
	}
	for _, u := range changes {
		switch u.ID {
		case ids[3]:
			if u.Removed || !u.HasAccountEnabled || u.AccountEnabled {
				t.Errorf("disabled user = %+v", u)
			}
		case ids[4]:
			if !u.Removed {
				t.Errorf("deleted user = %+v", u)
			}
		default:
			t.Errorf("unexpected change %+v", u)
		}
	}

	f.ExpireDeltaTokens()
	_, err = c.UsersDelta(ctx, link2, func([]azuread.User) error { return nil })
	if !azuread.IsSyncStateNotFound(err) || !strings.Contains(err.Error(), "HTTP 410 syncStateNotFound") {
		t.Fatalf("expired delta err = %v", err)
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	f := graphfake.New()
	defer f.Close()
	f.PutUser(graphfake.User{UPN: "a@contoso.com", DisplayName: "A", AccountEnabled: true})
	c, waits := newClient(t, f)
	f.Throttle(2*time.Second, 3*time.Second)
	n := 0
	if _, err := c.UsersDelta(context.Background(), "", func(us []azuread.User) error { n += len(us); return nil }); err != nil {
		t.Fatal(err)
	}
	if n != 1 || !slices.Equal(*waits, []time.Duration{2 * time.Second, 3 * time.Second}) {
		t.Fatalf("users %d waits %v", n, *waits)
	}
	// Past the attempt budget the 429 comes back, retryable, with its wait.
	f.Throttle(1*time.Second, 1*time.Second, 1*time.Second, 1*time.Second, 1*time.Second)
	_, err := c.UsersDelta(context.Background(), "", func([]azuread.User) error { return nil })
	var ge *azuread.Error
	if !errors.As(err, &ge) || ge.Status != 429 || !ge.Retryable() || ge.RetryAfter != time.Second || ge.RequestID == "" {
		t.Fatalf("err = %#v", err)
	}
}

func TestDirectoryRolesUseBatchesOfTwenty(t *testing.T) {
	f := graphfake.New()
	defer f.Close()
	alice := f.PutUser(graphfake.User{UPN: "alice@contoso.com", DisplayName: "Alice", AccountEnabled: true})
	want := map[string]int{}
	for i := range 25 {
		var ms []string
		if i%2 == 0 {
			ms = []string{alice}
		}
		want[f.PutRole(fmt.Sprintf("Role %02d", i), ms...)] = len(ms)
	}
	c, _ := newClient(t, f)
	f.PageSize = 10 // the role list itself pages
	roles, err := c.DirectoryRoles(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(roles) != 25 || !slices.Equal(f.Batches, []int{20, 5}) {
		t.Fatalf("roles %d batches %v", len(roles), f.Batches)
	}
	for _, r := range roles {
		if len(r.Members) != want[r.ID] {
			t.Errorf("role %s members %v, want %d", r.DisplayName, r.Members, want[r.ID])
		}
	}
	if _, err := c.Batch(context.Background(), "too many", make([]azuread.BatchRequest, 21)); err == nil {
		t.Fatal("21 requests in a batch accepted")
	}
}

func TestLinksMustStayOnTheGraphHost(t *testing.T) {
	f := graphfake.New()
	defer f.Close()
	c, _ := newClient(t, f)
	_, err := c.UsersDelta(context.Background(), "https://evil.example/v1.0/users/delta?$deltatoken=1", func([]azuread.User) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "leaves the Graph host") {
		t.Fatalf("err = %v", err)
	}
}

// The fake's errors have the documented shapes (testdata/graph-shapes.json).
func TestFakeErrorsMatchDocumentedShapes(t *testing.T) {
	raw, err := os.ReadFile("testdata/graph-shapes.json")
	if err != nil {
		t.Fatal(err)
	}
	type shape struct {
		Status int               `json:"status"`
		Body   json.RawMessage   `json:"body"`
		Header map[string]string `json:"headers"`
	}
	var entries map[string]json.RawMessage
	if err := json.Unmarshal(raw, &entries); err != nil {
		t.Fatal(err)
	}
	doc := map[string]shape{}
	for k, v := range entries {
		var sh shape
		if strings.HasPrefix(k, "error_") {
			if err := json.Unmarshal(v, &sh); err != nil {
				t.Fatalf("%s: %v", k, err)
			}
			doc[k] = sh
		}
	}
	f := graphfake.New()
	defer f.Close()
	u := f.PutUser(graphfake.User{UPN: "a@contoso.com", DisplayName: "A", AccountEnabled: true})
	g := f.PutGroup(graphfake.Group{DisplayName: "Sales"})
	f.AddMember(g, u)
	tok := token(t, f)

	call := func(method, path, body string) (*http.Response, map[string]any) {
		req, _ := http.NewRequest(method, f.GraphURL()+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		b, _ := io.ReadAll(resp.Body)
		_ = json.Unmarshal(b, &m)
		return resp, m
	}
	check := func(name string, resp *http.Response, got map[string]any) {
		t.Helper()
		want := doc[name]
		var w map[string]any
		_ = json.Unmarshal(want.Body, &w)
		we, ge := w["error"].(map[string]any), got["error"].(map[string]any)
		if resp.StatusCode != want.Status || we["code"] != ge["code"] {
			t.Errorf("%s: status %d code %v; documented %d %v", name, resp.StatusCode, ge["code"], want.Status, we["code"])
		}
		if name != "error_not_found" && we["message"] != ge["message"] {
			t.Errorf("%s: message %q; documented %q", name, ge["message"], we["message"])
		}
		wi, gi := we["innerError"].(map[string]any), ge["innerError"].(map[string]any)
		for k := range wi {
			if _, ok := gi[k]; !ok {
				t.Errorf("%s: innerError lacks %q", name, k)
			}
		}
		for k := range want.Header {
			if resp.Header.Get(k) == "" {
				t.Errorf("%s: no %s header", name, k)
			}
		}
	}
	resp, m := call("POST", "/groups/"+g+"/members/$ref", `{"@odata.id":"`+f.GraphURL()+`/directoryObjects/`+u+`"}`)
	check("error_already_exist", resp, m)
	resp, m = call("DELETE", "/groups/"+g+"/members/"+f.NewID()+"/$ref", "")
	check("error_not_found", resp, m)
	resp, m = call("GET", "/users/delta?$deltatoken=0", "")
	check("error_sync_state_not_found", resp, m)
	f.Throttle(2 * time.Second)
	resp, m = call("GET", "/users", "")
	check("error_throttled", resp, m)
}

func token(t *testing.T, f *graphfake.Server) string {
	t.Helper()
	resp, err := http.PostForm(f.URL()+"/"+f.TenantID+"/oauth2/v2.0/token", map[string][]string{
		"grant_type": {"client_credentials"}, "client_id": {f.ClientID}, "client_secret": {f.ClientSecret}, "scope": {"https://graph.microsoft.com/.default"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.AccessToken == "" {
		t.Fatalf("token: %v", err)
	}
	return out.AccessToken
}

func step(op string, params map[string]string) provision.Step {
	s := provision.Step{TenantID: "t1", FlowID: "f1", Type: "azuread_api_" + op, Kind: provision.KindProviderAPI, Provider: "azuread", Op: op, Params: params}
	s.Fields.Target = provision.Person{Email: "alice@contoso.com", Name: "Alice"}
	s.Fields.Connection.Name = "Sales"
	s.Fields.Connection.Type = "group"
	return s
}

func TestRunnerIsIdempotentAndNamesObjectsInErrors(t *testing.T) {
	f := graphfake.New()
	defer f.Close()
	c, _ := newClient(t, f)
	alice := f.PutUser(graphfake.User{UPN: "alice@contoso.com", DisplayName: "Alice", AccountEnabled: true})
	sales := f.PutGroup(graphfake.Group{DisplayName: "Sales"})
	admins := f.PutRole("Helpdesk Administrator")
	r := azuread.Runner{Client: func(context.Context, provision.Step) (*azuread.Client, error) { return c, nil }}
	ctx := context.Background()
	run := func(s provision.Step) (provision.Result, error) { return r.Run(ctx, s) }

	for attempt := range 2 { // the second is a retried step: "already exist" is success
		if _, err := run(step("add_user_to_group", nil)); err != nil {
			t.Fatalf("add attempt %d: %v", attempt, err)
		}
		if !f.IsMember(sales, alice) {
			t.Fatal("alice not in Sales")
		}
	}
	if f.Count("POST /groups/{id}/members/$ref") != 2 {
		t.Fatalf("adds sent: %d", f.Count("POST /groups/{id}/members/$ref"))
	}
	for attempt := range 2 { // the second meets 404: success
		if _, err := run(step("remove_user_from_group", nil)); err != nil {
			t.Fatalf("remove attempt %d: %v", attempt, err)
		}
	}
	if f.IsMember(sales, alice) || f.User(alice) == nil || f.User(alice).AccountEnabled == false {
		t.Fatal("membership not removed, or the user itself touched")
	}
	for range 2 {
		if _, err := run(step("add_user_to_role", map[string]string{"role": "Helpdesk Administrator"})); err != nil {
			t.Fatal(err)
		}
	}
	if !f.IsMember(admins, alice) {
		t.Fatal("alice not in role")
	}
	if _, err := run(step("remove_user_from_role", map[string]string{"role": admins})); err != nil || f.IsMember(admins, alice) {
		t.Fatalf("remove from role: %v", err)
	}

	_, err := run(step("add_user_to_group", map[string]string{"group": "Nope"}))
	if !provision.IsPermanent(err) || !strings.Contains(err.Error(), "find group Nope: HTTP 404") {
		t.Fatalf("unknown group err = %v", err)
	}
	_, err = run(step("add_user_to_group", map[string]string{"user": "bob@contoso.com"}))
	if !provision.IsPermanent(err) || !strings.Contains(err.Error(), "find user bob@contoso.com: HTTP 404 Request_ResourceNotFound") || !strings.Contains(err.Error(), "request-id") {
		t.Fatalf("unknown user err = %v", err)
	}
	f.Throttle(time.Second, time.Second, time.Second, time.Second, time.Second)
	_, err = run(step("disable_user", nil))
	if err == nil || provision.IsPermanent(err) {
		t.Fatalf("throttled step err = %v; want a retryable error", err)
	}

	// Lifecycle: create (twice: the repeat finds the first), disable, delete (twice).
	s := step("create_user", map[string]string{"user_principal_name": "carol@contoso.com", "display_name": "Carol"})
	res, err := run(s)
	if err != nil {
		t.Fatal(err)
	}
	res2, err := run(s)
	if err != nil || res2.Outputs["azuread_user_id"] != res.Outputs["azuread_user_id"] {
		t.Fatalf("repeat create: %v %v %v", err, res.Outputs, res2.Outputs)
	}
	carol := res.Outputs["azuread_user_id"]
	if _, err := run(step("disable_user", map[string]string{"user": "carol@contoso.com"})); err != nil || f.User(carol).AccountEnabled {
		t.Fatalf("disable: %v", err)
	}
	for range 2 {
		if _, err := run(step("delete_user", map[string]string{"user": carol})); err != nil {
			t.Fatal(err)
		}
	}
	// Disabling a user who is gone (deleted above, or never there) is done:
	// a deprovisioning chain of a deleted account must not stall on it.
	for _, u := range []string{carol, "zed@contoso.com"} {
		if _, err := run(step("disable_user", map[string]string{"user": u})); err != nil {
			t.Fatalf("disable a user who is gone (%s): %v", u, err)
		}
	}
	g := step("create_group", map[string]string{"name": "Ops Team"})
	res, err = run(g)
	if err != nil {
		t.Fatal(err)
	}
	if res2, err = run(g); err != nil || res2.Outputs["azuread_group_id"] != res.Outputs["azuread_group_id"] || f.GroupByName("Ops Team") == "" {
		t.Fatalf("repeat create group: %v", err)
	}
	for range 2 {
		if _, err := run(step("delete_group", map[string]string{"group": res.Outputs["azuread_group_id"]})); err != nil {
			t.Fatal(err)
		}
	}
	if f.GroupByName("Ops Team") != "" {
		t.Fatal("group not deleted")
	}
	if _, err := run(step("allocate_license", nil)); !errors.Is(err, provision.ErrUnknownScript) || !provision.IsPermanent(err) {
		t.Fatalf("unknown op err = %v", err)
	}
}

// Every operation the runner does is one apply accepts, and the reverse:
// an azuread_api_* script apply accepts never meets "unknown operation".
func TestOpsMatchWhatApplyAccepts(t *testing.T) {
	if got, want := strings.Join(azuread.Ops, ","), strings.Join(provision.BuiltProviders[azuread.Provider], ","); got != want {
		t.Fatalf("azuread.Ops = %s\nprovision.BuiltProviders[azuread] = %s", got, want)
	}
}

// A step Graph refuses names the object both ways (display name and
// object id) and says what to check: here the registration may read
// groups but not change them.
func TestRefusedStepNamesTheObjectAndThePermission(t *testing.T) {
	f := graphfake.New()
	defer f.Close()
	f.SetRoles("User.Read.All", "Group.Read.All", "RoleManagement.Read.All")
	c, _ := newClient(t, f)
	f.PutUser(graphfake.User{UPN: "alice@contoso.com", DisplayName: "Alice", AccountEnabled: true})
	sales := f.PutGroup(graphfake.Group{DisplayName: "Sales"})
	helpdesk := f.PutRole("Helpdesk Administrator")
	r := azuread.Runner{Client: func(context.Context, provision.Step) (*azuread.Client, error) { return c, nil }}
	ctx := context.Background()
	for _, tt := range []struct {
		s    provision.Step
		want string
	}{
		{step("add_user_to_group", nil), "add user alice@contoso.com to group Sales (" + sales + "): HTTP 403 Authorization_RequestDenied"},
		{step("remove_user_from_group", nil), "remove user alice@contoso.com from group Sales (" + sales + "): HTTP 403"},
		{step("add_user_to_role", map[string]string{"role": "Helpdesk Administrator"}), "add user alice@contoso.com to directory role Helpdesk Administrator (" + helpdesk + "): HTTP 403"},
		{step("delete_group", nil), "delete group Sales (" + sales + "): HTTP 403"},
		// By object id, the id alone names it.
		{step("add_user_to_group", map[string]string{"group": sales}), "add user alice@contoso.com to group " + sales + ": HTTP 403"},
	} {
		_, err := r.Run(ctx, tt.s)
		if err == nil || !provision.IsPermanent(err) || !strings.Contains(err.Error(), tt.want) ||
			!strings.Contains(err.Error(), "accessbot connectors test APP") || strings.Contains(err.Error(), f.ClientSecret) {
			t.Errorf("%s: err = %v\nwant it to contain %q and the permission hint", tt.s.Op, err, tt.want)
		}
	}
}

// Graph's expired-delta answers, as the services spell them, all ask for
// a full resync; other refusals do not.
func TestIsSyncStateNotFound(t *testing.T) {
	for _, tt := range []struct {
		status int
		code   string
		want   bool
	}{
		{400, "syncStateNotFound", true},
		{400, "SyncStateNotFound", true},
		{410, "syncStateInvalid", true},
		{410, "resyncRequired", true},
		{400, "Request_BadRequest", false},
		{404, "syncStateNotFound", false},
		{429, "TooManyRequests", false},
	} {
		err := fmt.Errorf("wrapped: %w", &azuread.Error{Op: "read users", Status: tt.status, Code: tt.code})
		if got := azuread.IsSyncStateNotFound(err); got != tt.want {
			t.Errorf("HTTP %d %s: %v, want %v", tt.status, tt.code, got, tt.want)
		}
	}
}
