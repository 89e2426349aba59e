package userimport

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/storetest"
)

var testNow = func() time.Time { return time.Date(2026, 11, 26, 15, 30, 0, 0, time.UTC) }

type fixture struct {
	s      store.Store
	tenant string
	im     *Importer
}

// setup opens a store with tenant acme and two users: alice (dave's manager) and dave.
func setup(t *testing.T, s store.Store) *fixture {
	t.Helper()
	ctx := context.Background()
	tn := &accessbot.Tenant{Slug: "acme", Name: "Acme"}
	if err := s.CreateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	alice := &accessbot.User{TenantID: tn.ID, Email: "alice@acme.com", Name: "Alice", Role: accessbot.RoleAdmin, Status: accessbot.UserActive, Department: "IT"}
	if err := s.CreateUser(ctx, alice); err != nil {
		t.Fatal(err)
	}
	dave := &accessbot.User{TenantID: tn.ID, Email: "dave@acme.com", Name: "Dave", ManagerID: alice.ID, Role: accessbot.RoleMember, Status: accessbot.UserActive, Department: "IT"}
	if err := s.CreateUser(ctx, dave); err != nil {
		t.Fatal(err)
	}
	return &fixture{s: s, tenant: tn.ID, im: NewImporter(s, testNow, zerolog.Nop())}
}

func (f *fixture) run(t *testing.T, csv string, opt Options) (*Result, error) {
	t.Helper()
	return f.im.Import(context.Background(), f.tenant, "users.csv", strings.NewReader(csv), opt)
}

func (f *fixture) user(t *testing.T, email string) *accessbot.User {
	t.Helper()
	u, err := f.s.GetUserByEmail(context.Background(), f.tenant, email)
	if err != nil {
		t.Fatalf("user %s: %v", email, err)
	}
	return u
}

func (f *fixture) managerOf(t *testing.T, email string) string {
	t.Helper()
	u := f.user(t, email)
	if u.ManagerID == "" {
		return ""
	}
	m, err := f.s.GetUser(context.Background(), f.tenant, u.ManagerID)
	if err != nil {
		t.Fatal(err)
	}
	return m.Email
}

// snapshot is every user and audit entry of the tenant.
func (f *fixture) snapshot(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	users, err := f.s.ListUsers(ctx, f.tenant)
	if err != nil {
		t.Fatal(err)
	}
	audit, err := f.s.ListAudit(ctx, f.tenant, "")
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal([]any{users, audit})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func forEachDriver(t *testing.T, fn func(t *testing.T, f *fixture)) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			fn(t, setup(t, storetest.Open(t, driver)))
		})
	}
}

const mixed = `Email,Name,Manager_Email,Department,Status,Termination_Date
bob@acme.com,Bob,alice@acme.com,Sales,active,
carol@acme.com,Carol,erin@acme.com,Sales,,
erin@acme.com,Erin,,Sales,,
bob@,Bad,,,,
frank@acme.com,,,,,
gina@acme.com,Gina,nobody@acme.com,,,
hank@acme.com,Hank,,,retired,
ivan@acme.com,Ivan,,,terminated,31/12/2025
BOB@acme.com,Bob Two,,,,
jo@acme.com,Jo,,,active,2025-01-01
kim@acme.com,Kim,frank@acme.com,,,
"x@acme.com","X"
DAVE@ACME.COM,Dave D,,Finance,terminated,
lee@acme.com,Lee,mo@acme.com,,,
mo@acme.com,Mo,lee@acme.com,,,
,,,,,
`

var mixedRejected = []string{
	`users.csv:2: email "bob@acme.com": also on line 10 (emails are compared ignoring case): both rows skipped`,
	`users.csv:5: email "bob@": not a valid email address`,
	`users.csv:6: name is empty`,
	`users.csv:7: manager_email "nobody@acme.com": no user with this email in the file or in the tenant`,
	`users.csv:8: status "retired": want active or terminated`,
	`users.csv:9: termination_date "31/12/2025": not a date`,
	`users.csv:10: email "BOB@acme.com": already on line 2 (emails are compared ignoring case): both rows skipped`,
	`users.csv:11: termination_date "2025-01-01": set, but status is active`,
	`users.csv:12: manager_email "frank@acme.com": that user's row (line 6) was rejected, and the tenant has no such user`,
	`users.csv:13: 2 fields, but the header has 6`,
	`users.csv:15: manager_email "mo@acme.com": manager cycle: lee@acme.com → mo@acme.com → lee@acme.com`,
	`users.csv:16: manager_email "lee@acme.com": manager cycle: mo@acme.com → lee@acme.com → mo@acme.com`,
}

func TestImportMixedRows(t *testing.T) {
	forEachDriver(t, func(t *testing.T, f *fixture) {
		res, err := f.run(t, mixed, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Created != 2 || res.Updated != 1 || res.Unchanged != 0 || len(res.Rejected) != len(mixedRejected) {
			t.Errorf("summary %q, changes %q", res.Summary(), res.Changes)
		}
		for i, want := range mixedRejected {
			if i >= len(res.Rejected) {
				t.Errorf("missing rejection %s", want)
				continue
			}
			if got := res.Rejected[i].Error(); !strings.HasPrefix(got, want) {
				t.Errorf("rejection %d:\n got %s\nwant %s", i, got, want)
			}
		}
		if got := f.managerOf(t, "carol@acme.com"); got != "erin@acme.com" {
			t.Errorf("carol's manager = %q (a manager later in the file)", got)
		}
		dave := f.user(t, "dave@acme.com")
		wantDate := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
		if dave.Name != "Dave D" || dave.Department != "Finance" || dave.ManagerID != "" || dave.Status != accessbot.UserTerminated ||
			dave.TerminatedAt == nil || !dave.TerminatedAt.Equal(wantDate) || dave.Role != accessbot.RoleMember {
			t.Errorf("dave = %+v (terminated without a date: today from the clock)", dave)
		}
		for _, email := range []string{"gina@acme.com", "lee@acme.com", "frank@acme.com", "bob@acme.com"} {
			if _, err := f.s.GetUserByEmail(context.Background(), f.tenant, email); !errors.Is(err, accessbot.ErrNotFound) {
				t.Errorf("rejected %s was imported (err %v)", email, err)
			}
		}
		audit, _ := f.s.ListAudit(context.Background(), f.tenant, "")
		if len(audit) != 3 || audit[0].ActorID != "import" {
			t.Errorf("audit: %d entries, want 3 by import", len(audit))
		}
	})
}

func TestImportStrictWritesNothing(t *testing.T) {
	forEachDriver(t, func(t *testing.T, f *fixture) {
		before := f.snapshot(t)
		res, err := f.run(t, mixed, Options{Strict: true})
		if !errors.Is(err, ErrRejected) {
			t.Fatalf("got %v, want ErrRejected", err)
		}
		if res == nil || len(res.Rejected) != len(mixedRejected) || res.Written || !strings.Contains(res.Summary(), "nothing was written") {
			t.Fatalf("result %+v", res)
		}
		if f.snapshot(t) != before {
			t.Error("strict import with bad rows changed the store")
		}
		// Strict with only good rows imports.
		if _, err := f.run(t, "email,name\nzoe@acme.com,Zoe\n", Options{Strict: true}); err != nil {
			t.Fatal(err)
		}
		f.user(t, "zoe@acme.com")
	})
}

func TestImportDryRun(t *testing.T) {
	forEachDriver(t, func(t *testing.T, f *fixture) {
		before := f.snapshot(t)
		res, err := f.run(t, mixed, Options{DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		if res.Created != 2 || res.Updated != 1 || res.Written {
			t.Errorf("dry run: %s", res.Summary())
		}
		if f.snapshot(t) != before {
			t.Error("dry run changed the store")
		}
	})
}

func TestReimportUpdatesInPlace(t *testing.T) {
	forEachDriver(t, func(t *testing.T, f *fixture) {
		first := "email,name,manager_email,department,status,termination_date\n" +
			"bob@acme.com,Bob,alice@acme.com,Sales,active,\n" +
			"carol@acme.com,Carol,bob@acme.com,Sales,terminated,2026-10-01\n" +
			"dave@acme.com,Dave,alice@acme.com,IT,active,\n"
		res, err := f.run(t, first, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Created != 2 || res.Unchanged != 1 || res.Updated != 0 {
			t.Fatalf("first import: %s %q", res.Summary(), res.Changes)
		}
		bobID := f.user(t, "bob@acme.com").ID

		// The same file again changes nothing, whatever the letter case.
		before := f.snapshot(t)
		res, err = f.run(t, strings.ToUpper(first[:strings.Index(first, "\n")])+strings.ReplaceAll(first[strings.Index(first, "\n"):], "@acme.com", "@ACME.com"), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Created != 0 || res.Updated != 0 || res.Unchanged != 3 {
			t.Fatalf("re-import: %s %q", res.Summary(), res.Changes)
		}
		if f.snapshot(t) != before {
			t.Error("re-importing the same file changed the store")
		}

		// A changed row updates that user in place; a terminated row with no
		// date keeps the date on record.
		second := "EMAIL,Name,Department,Status\n" +
			"Bob@Acme.com,Bob,Marketing,active\n" +
			"carol@acme.com,Carol,Sales,terminated\n"
		res, err = f.run(t, second, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Created != 0 || res.Updated != 1 || res.Unchanged != 1 {
			t.Fatalf("second import: %s %q", res.Summary(), res.Changes)
		}
		if want := `~ user bob@acme.com: department Sales→Marketing`; len(res.Changes) != 1 || res.Changes[0] != want {
			t.Errorf("changes %q, want %q", res.Changes, want)
		}
		bob := f.user(t, "bob@acme.com")
		if bob.ID != bobID || bob.Department != "Marketing" || f.managerOf(t, "bob@acme.com") != "alice@acme.com" {
			t.Errorf("bob = %+v: want same id, new department, manager kept (no manager_email column)", bob)
		}
		carol := f.user(t, "carol@acme.com")
		if carol.TerminatedAt == nil || !carol.TerminatedAt.Equal(time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)) {
			t.Errorf("carol terminated at %v, want the date on record", carol.TerminatedAt)
		}

		// A blank status cell keeps what is on record; only "active" reactivates.
		res, err = f.run(t, "email,name,status\ncarol@acme.com,Carol,\nnew@acme.com,New,\n", Options{})
		if err != nil {
			t.Fatal(err)
		}
		if c := f.user(t, "carol@acme.com"); c.Status != accessbot.UserTerminated || res.Updated != 0 {
			t.Errorf("blank status: carol %s, %s %q; want still terminated, nothing updated", c.Status, res.Summary(), res.Changes)
		}
		if n := f.user(t, "new@acme.com"); n.Status != accessbot.UserActive {
			t.Errorf("a new user with a blank status is %s, want active", n.Status)
		}
		if _, err = f.run(t, "email,name,status\ncarol@acme.com,Carol,Active\n", Options{}); err != nil {
			t.Fatal(err)
		}
		if c := f.user(t, "carol@acme.com"); c.Status != accessbot.UserActive || c.TerminatedAt != nil {
			t.Errorf("explicit active: carol %s %v, want active with no end date", c.Status, c.TerminatedAt)
		}
	})
}

func TestImportManagerSwap(t *testing.T) {
	forEachDriver(t, func(t *testing.T, f *fixture) {
		// The store has dave reporting to alice; the file turns it around.
		res, err := f.run(t, "email,name,manager_email\nalice@acme.com,Alice,dave@acme.com\ndave@acme.com,Dave,\n", Options{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Updated != 2 || len(res.Rejected) != 0 {
			t.Fatalf("%s %v", res.Summary(), res.Rejected)
		}
		if f.managerOf(t, "alice@acme.com") != "dave@acme.com" || f.managerOf(t, "dave@acme.com") != "" {
			t.Error("managers not swapped")
		}
		// A row that would close a cycle through a user only in the store is refused.
		res, err = f.run(t, "email,name,manager_email\ndave@acme.com,Dave,alice@acme.com\n", Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Rejected) != 1 || !strings.Contains(res.Rejected[0].Error(), "manager cycle: dave@acme.com → alice@acme.com → dave@acme.com") {
			t.Errorf("rejected %v", res.Rejected)
		}
	})
}

func TestImportFileErrors(t *testing.T) {
	cases := []struct{ name, csv, want string }{
		{"empty", "", "users.csv:1: the file is empty"},
		{"unknown column", "email,name,title\n", `users.csv:1: unknown column "title"`},
		{"duplicate column", "email,name,Email\n", `users.csv:1: column "email" appears twice`},
		{"missing name", "email,department\n", `users.csv:1: missing column "name"`},
		{"unbalanced quote", "email,name\na@acme.com,A\nb@acme.com,\"B\nc@acme.com,C\n", `users.csv:3: malformed CSV: extraneous or missing " in quoted-field`},
		{"bare quote", "email,name\na@acme.com,A\"x\n", `users.csv:2: malformed CSV: bare " in non-quoted-field`},
	}
	forEachDriver(t, func(t *testing.T, f *fixture) {
		before := f.snapshot(t)
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				_, err := f.run(t, tc.csv, Options{})
				var fe *FileError
				if !errors.As(err, &fe) || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("got %v, want a file error containing %q", err, tc.want)
				}
				if !errors.Is(err, accessbot.ErrInvalid) {
					t.Error("file errors wrap ErrInvalid")
				}
				if f.snapshot(t) != before {
					t.Error("store changed")
				}
			})
		}
	})
}

func TestCheckEmail(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"alice@acme.com", true}, {"a.b+c@sub.acme.co.uk", true}, {"ALICE@ACME.COM", true},
		{"", false}, {"bob@", false}, {"@acme.com", false}, {"bob", false}, {"Bob <bob@acme.com>", false},
		{" bob@acme.com", false}, {"bob@acme.com ", false}, {"bo b@acme.com", false}, {"a@b@c.com", false},
	} {
		if err := CheckEmail(tc.in); (err == nil) != tc.ok {
			t.Errorf("CheckEmail(%q) = %v", tc.in, err)
		}
	}
}

func TestParseDate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2025-01-31", time.Date(2025, 1, 31, 0, 0, 0, 0, time.UTC), true},
		{"2025-01-31T17:00:00+02:00", time.Date(2025, 1, 31, 15, 0, 0, 0, time.UTC), true},
		{"31/01/2025", time.Time{}, false},
		{"2025-02-30", time.Time{}, false},
	} {
		got, err := ParseDate(tc.in)
		if (err == nil) != tc.ok || (tc.ok && !got.Equal(tc.want)) {
			t.Errorf("ParseDate(%q) = %v, %v", tc.in, got, err)
		}
	}
}

// An email on two lines: which row is right cannot be told, so neither
// applies and the stored user stays as it was (a rejected row never changes
// what it names); a reference to it resolves to the stored user.
func TestRepeatedEmailKeepsStoredUser(t *testing.T) {
	forEachDriver(t, func(t *testing.T, f *fixture) {
		before := *f.user(t, "dave@acme.com")
		res, err := f.run(t, "email,name,manager_email,department,status\n"+
			"dave@acme.com,Dave,,Finance,terminated\n"+
			"erin@acme.com,Erin,dave@acme.com,,\n"+
			"DAVE@acme.com,Dave,alice@acme.com,IT,active\n"+
			"new@acme.com,New,,,\n"+
			"new@acme.com,New Two,,,\n", Options{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range res.Rejected {
			got = append(got, r.Error())
		}
		want := []string{
			`users.csv:2: email "dave@acme.com": also on line 4 (emails are compared ignoring case): both rows skipped`,
			`users.csv:4: email "DAVE@acme.com": already on line 2 (emails are compared ignoring case): both rows skipped`,
			`users.csv:5: email "new@acme.com": also on line 6 (emails are compared ignoring case): both rows skipped`,
			`users.csv:6: email "new@acme.com": already on line 5 (emails are compared ignoring case): both rows skipped`,
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("rejected:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		after := f.user(t, "dave@acme.com")
		if after.Status != before.Status || after.Department != before.Department || after.ManagerID != before.ManagerID || after.TerminatedAt != nil {
			t.Errorf("dave changed: %+v, was %+v", after, before)
		}
		if _, err := f.s.GetUserByEmail(context.Background(), f.tenant, "new@acme.com"); !errors.Is(err, accessbot.ErrNotFound) {
			t.Errorf("new@ was created from a repeated row (err %v)", err)
		}
		if got := f.managerOf(t, "erin@acme.com"); got != "dave@acme.com" {
			t.Errorf("erin's manager = %q, want the stored dave", got)
		}
		if res.Created != 1 || res.Updated != 0 {
			t.Errorf("summary %s", res.Summary())
		}
	})
}
