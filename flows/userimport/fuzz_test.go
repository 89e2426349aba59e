package userimport

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/examples"
	"github.com/accessbot/accessbot/store/storetest"
)

// FuzzImportCSV imports any bytes as an employees CSV, strictly, into a
// tenant that keeps what earlier inputs wrote. A file-level problem is a
// *FileError; an import that is not written (rejected rows under --strict)
// leaves the users exactly as they were; nothing panics. The corpus is in
// testdata/fuzz/FuzzImportCSV; the example employees file is a seed.
func FuzzImportCSV(f *testing.F) {
	b, err := fs.ReadFile(examples.FS, "employees.csv")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte("email,name,manager_email\nbob@acme.com,Bob,alice@acme.com\nalice@acme.com,Alice,bob@acme.com\n"))
	f.Add([]byte("email,name,status,termination_date\n\"eve@acme.com\",\"Eve \"\"E\"\"\",terminated,2026-02-30\n"))
	ctx := context.Background()
	s := storetest.Open(f, "sqlite")
	tn := &accessbot.Tenant{Slug: "acme", Name: "Acme"}
	if err := s.CreateTenant(ctx, tn); err != nil {
		f.Fatal(err)
	}
	if err := s.CreateUser(ctx, &accessbot.User{TenantID: tn.ID, Email: "alice@acme.com", Name: "Alice",
		Role: accessbot.RoleAdmin, Status: accessbot.UserActive}); err != nil {
		f.Fatal(err)
	}
	im := NewImporter(s, testNow, zerolog.Nop())
	users := func(t *testing.T) string {
		us, err := s.ListUsers(ctx, tn.ID)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(us)
		return string(b)
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		before := users(t)
		res, err := im.Import(ctx, tn.ID, "fuzz.csv", strings.NewReader(string(data)), Options{Strict: true})
		var fe *FileError
		switch {
		case errors.As(err, &fe):
			if res != nil {
				t.Fatalf("a file error with a result: %+v", res)
			}
		case errors.Is(err, ErrRejected):
			if res == nil || res.Written || len(res.Rejected) == 0 {
				t.Fatalf("strict rejection without rejected rows, or written: %+v", res)
			}
			for _, r := range res.Rejected {
				if r.Line <= 0 || r.Error() == "" {
					t.Fatalf("rejected row without line or reason: %+v", r)
				}
			}
		case err != nil:
			t.Fatalf("import failed without a file or row error: %v", err)
		case !res.Written:
			t.Fatalf("no error and nothing written: %+v", res)
		}
		if (err != nil || !res.Written) && users(t) != before {
			t.Fatalf("an import that wrote nothing changed the users (err %v)", err)
		}
	})
}
