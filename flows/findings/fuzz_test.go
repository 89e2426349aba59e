package findings_test

import (
	"context"
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/examples"
	"github.com/accessbot/accessbot/flows/findings"
	"github.com/accessbot/accessbot/store/storetest"
)

// FuzzFindingsBody posts any body to POST /api/v1/findings with a valid
// token. The answer is 200 with counts, or a 4xx JSON error; never a 5xx
// nor a panic, and a refused body records nothing. The corpus is in
// testdata/fuzz/FuzzFindingsBody; the example findings file is a seed.
func FuzzFindingsBody(f *testing.F) {
	b, err := fs.ReadFile(examples.FS, "findings.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`[{"rule":"x","severity":"low","subject":{"kind":"employee","id":"a@b.c"},"details":{"a":[1,{"b":null}]}}]`))
	f.Add([]byte(`[{"rule":"mfa_disabled","severity":"urgent","subject":{"kind":"planet","id":""}}, 7, null]`))
	f.Add([]byte(`{"rule":"not an array"}`))
	ctx := context.Background()
	st := storetest.Open(f, "sqlite")
	ten := &accessbot.Tenant{Slug: "acme", Name: "Acme"}
	if err := st.CreateTenant(ctx, ten); err != nil {
		f.Fatal(err)
	}
	tok, err := findings.NewToken(ctx, st, ten.ID, t0)
	if err != nil {
		f.Fatal(err)
	}
	h := findings.NewHandler(st, func() time.Time { return t0 }, zerolog.Nop())
	open := func(t *testing.T) int {
		fs, err := st.ListFindings(ctx, ten.ID, accessbot.FindingFilter{})
		if err != nil {
			t.Fatal(err)
		}
		return len(fs)
	}

	f.Fuzz(func(t *testing.T, body []byte) {
		before := open(t)
		req := httptest.NewRequest(http.MethodPost, "/api/v1/findings", strings.NewReader(string(body)))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var answer map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil {
			t.Fatalf("status %d, answer is not JSON: %q", rec.Code, rec.Body.String())
		}
		switch {
		case rec.Code == http.StatusOK:
		case rec.Code >= 400 && rec.Code < 500:
			if answer["error"] == nil {
				t.Fatalf("status %d without an error: %s", rec.Code, rec.Body.String())
			}
			if after := open(t); after != before {
				t.Fatalf("a refused body (%d) changed the findings from %d to %d", rec.Code, before, after)
			}
		default:
			t.Fatalf("status %d: %s", rec.Code, rec.Body.String())
		}
	})
}
