package inventory_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot/flows/findings"
	"github.com/accessbot/accessbot/flows/inventory"
	"github.com/accessbot/accessbot/store/storetest"
)

// The bulk API and the CLI's import path take the same data to the same
// result: the same rows stored, the same rows rejected (a CSV line there,
// the JSON item's index here), the same summary counts.
func TestBulkAPIMatchesCLI(t *testing.T) {
	const identitiesCSV = "identity_id,email,display_name,status\n" +
		"u1,alice@acme.com,Alice,active\n" +
		"u2,bob@acme.com,Bob,disabled\n" +
		"u3,not-an-email,Carol,active\n" +
		"u4,dave@acme.com,Dave,retired\n"
	identitiesJSON := `[
		{"identity_id":"u1","email":"alice@acme.com","display_name":"Alice","status":"active"},
		{"identity_id":"u2","email":"bob@acme.com","display_name":"Bob","status":"disabled"},
		{"identity_id":"u3","email":"not-an-email","display_name":"Carol","status":"active"},
		{"identity_id":"u4","email":"dave@acme.com","display_name":"Dave","status":"retired"}]`
	ctx := context.Background()
	cli := setup(t, storetest.Drivers(t)[0])
	cliRes, err := cli.upload(t, inventory.Identities, identitiesCSV, inventory.Options{})
	must(t, err)

	api := setup(t, storetest.Drivers(t)[0])
	tok, err := findings.NewToken(ctx, api.st, api.tenant.ID, t0)
	must(t, err)
	mux := http.NewServeMux()
	mux.Handle("POST /api/v1/inventory/{application}/{kind}", inventory.NewHandler(api.im, api.st, zerolog.Nop()))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	post := func(path, ctype, body, token string) (int, inventory.Response) {
		req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		must(t, err)
		defer resp.Body.Close()
		var out inventory.Response
		must(t, json.NewDecoder(resp.Body).Decode(&out))
		return resp.StatusCode, out
	}
	if code, _ := post("/api/v1/inventory/GitLab/identities", "application/json", identitiesJSON, ""); code != 401 {
		t.Fatalf("no token: %d", code)
	}
	// A dry run writes nothing.
	code, out := post("/api/v1/inventory/GitLab/identities?dry_run=true", "application/json", identitiesJSON, tok)
	if code != 200 || out.Written || out.Counts["created"] != 2 {
		t.Fatalf("dry run: %d %+v", code, out)
	}
	if ids, _ := api.st.ListIdentities(ctx, api.tenant.ID, api.app.ID, false); len(ids) != 0 {
		t.Fatalf("dry run wrote %d identities", len(ids))
	}
	code, out = post("/api/v1/inventory/GitLab/identities", "application/json", identitiesJSON, tok)
	if code != 200 || !out.Written {
		t.Fatalf("upload: %d %+v", code, out)
	}
	if out.Counts["created"] != cliRes.Created || out.Counts["removed"] != cliRes.Removed || len(out.Rejected) != len(cliRes.Rejected) {
		t.Fatalf("api %+v; cli %s", out, cliRes.Summary())
	}
	for i, p := range out.Rejected {
		c := cliRes.Rejected[i]
		if p.Index == nil || *p.Index != c.Line-2 || p.Field != c.Field || p.Msg != c.Msg {
			t.Errorf("rejected %d: api %+v (index %v); cli line %d %s %q", i, p, p.Index, c.Line, c.Field, c.Msg)
		}
	}
	a, _ := cli.st.ListIdentities(ctx, cli.tenant.ID, cli.app.ID, false)
	b, _ := api.st.ListIdentities(ctx, api.tenant.ID, api.app.ID, false)
	show := func(xs any) string { return fmt.Sprintf("%v", xs) }
	var as, bs []string
	for _, x := range a {
		as = append(as, show([]string{x.ExternalID, x.Email, x.DisplayName, string(x.Status)}))
	}
	for _, x := range b {
		bs = append(bs, show([]string{x.ExternalID, x.Email, x.DisplayName, string(x.Status)}))
	}
	if strings.Join(as, ",") != strings.Join(bs, ",") || len(as) != 2 {
		t.Fatalf("cli stored %v; api stored %v", as, bs)
	}
	// CSV too, with line numbers; a size limit and a wrong type are refused.
	code, out = post("/api/v1/inventory/GitLab/identities?strict=true", "text/csv", identitiesCSV, tok)
	if code != 422 || out.Written || len(out.Rejected) != 2 || out.Rejected[0].Line != 4 {
		t.Fatalf("strict csv: %d %+v", code, out)
	}
	if code, _ := post("/api/v1/inventory/GitLab/identities", "text/plain", identitiesCSV, tok); code != 415 {
		t.Fatalf("text/plain: %d", code)
	}
	if code, _ := post("/api/v1/inventory/GitLab/identities", "text/csv", strings.Repeat("x", inventory.MaxUploadBytes+1), tok); code != 413 {
		t.Fatalf("too large: %d", code)
	}
	if code, out := post("/api/v1/inventory/Nope/identities", "text/csv", identitiesCSV, tok); code != 404 || !strings.Contains(out.Error, "no such application") {
		t.Fatalf("unknown app: %d %+v", code, out)
	}
}

// JSON numbers are ids as often as not: they reach the importer with the
// text they were sent in (no 1.234567e+06, no lost digits), and labels
// may be a list.
func TestBulkAPIKeepsJSONNumbersAsSent(t *testing.T) {
	ctx := context.Background()
	api := setup(t, storetest.Drivers(t)[0])
	tok, err := findings.NewToken(ctx, api.st, api.tenant.ID, t0)
	must(t, err)
	h := inventory.NewHandler(api.im, api.st, zerolog.Nop())
	post := func(kind, body string) (int, inventory.Response) {
		req := httptest.NewRequest("POST", "/api/v1/inventory/GitLab/"+kind, strings.NewReader(body))
		req.SetPathValue("application", "GitLab")
		req.SetPathValue("kind", kind)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		var out inventory.Response
		must(t, json.NewDecoder(w.Body).Decode(&out))
		return w.Code, out
	}
	code, out := post("identities", `[{"identity_id":1234567,"email":"a@acme.com","display_name":"A","status":"active"},
		{"identity_id":12345678901234567890,"email":"b@acme.com","display_name":"B","status":"active"}]`)
	if code != 200 || !out.Written || len(out.Rejected) != 0 {
		t.Fatalf("identities: %d %+v", code, out)
	}
	code, out = post("entitlements", `[{"entitlement_id":42,"name":"Admins","type":"group","labels":["privileged",7]}]`)
	if code != 200 || !out.Written {
		t.Fatalf("entitlements: %d %+v", code, out)
	}
	ids, err := api.st.ListIdentities(ctx, api.tenant.ID, api.app.ID, false)
	must(t, err)
	var got []string
	for _, i := range ids {
		got = append(got, i.ExternalID)
	}
	if strings.Join(got, ",") != "1234567,12345678901234567890" && strings.Join(got, ",") != "12345678901234567890,1234567" {
		t.Fatalf("identity ids = %v", got)
	}
	ents, err := api.st.ListAppEntitlements(ctx, api.tenant.ID, api.app.ID, false)
	must(t, err)
	if len(ents) != 1 || ents[0].ExternalID != "42" || strings.Join(ents[0].Labels, ",") != "7,privileged" {
		t.Fatalf("entitlements = %+v", ents)
	}
	for body, want := range map[string]string{
		`[{"identity_id":"u1"}] [{"identity_id":"u2"}]`: "found more after it",
		`[{"entitlement_id":"g1","labels":[{"a":1}]}]`:  "a list holds strings or numbers",
	} {
		if code, out := post("entitlements", body); code != 400 || !strings.Contains(out.Error, want) {
			t.Errorf("%s: %d %+v; want 400 %q", body, code, out, want)
		}
	}
}
