package tenantfile

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/examples"
	"github.com/accessbot/accessbot/store/storetest"
)

// FuzzTenantFile parses any bytes as a tenant file. A bad file is refused
// with Errors, each naming the file and wrapping accessbot.ErrInvalid; a
// good one goes through a dry-run apply on an empty store, which may refuse
// it but must not panic nor leave anything behind. The corpus is in
// testdata/fuzz/FuzzTenantFile; the example tenant files are seeds.
func FuzzTenantFile(f *testing.F) {
	b, err := fs.ReadFile(examples.FS, examples.TenantFile)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	if b, err = os.ReadFile("../../examples/starter-tenant.yaml"); err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(base))
	st := storetest.Open(f, "sqlite")
	ap := NewApplier(st, func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }, zerolog.Nop())

	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("fuzz.yaml", data)
		if err != nil {
			var es Errors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("Parse error %T is not a non-empty Errors: %v", err, err)
			}
			for _, e := range es {
				if e.File != "fuzz.yaml" || e.Line < 0 || e.Msg == "" {
					t.Fatalf("error without file, line or message: %+v", e)
				}
			}
			if !errors.Is(err, accessbot.ErrInvalid) {
				t.Fatalf("Parse error does not wrap ErrInvalid: %v", err)
			}
			if file != nil {
				t.Fatalf("Parse returned a file with its error")
			}
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := ap.Apply(ctx, file, true); err != nil && ctx.Err() != nil {
			t.Fatalf("dry run did not finish: %v", err)
		}
		ts, err := st.ListTenants(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(ts) != 0 {
			t.Fatalf("a dry run left %d tenant(s) behind", len(ts))
		}
	})
}
