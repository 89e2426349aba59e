package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/findings"
	"github.com/accessbot/accessbot/flows/inventory"
	"github.com/accessbot/accessbot/store"
)

// TestBulkAPIAndImportCommandAgree feeds the same inventory (identities,
// entitlements, relations, one bad row each) to `accessbot import` in one
// store and to the bulk upload API (the handler run mounts) in another:
// the stored rows, what was rejected and the findings are the same.
func TestBulkAPIAndImportCommandAgree(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	const tenantFile = `tenant: {slug: acme, name: Acme}
users:
  - {email: ada@acme.test, name: Ada, role: admin}
  - {email: bob@acme.test, name: Bob, status: terminated, terminated_at: 2026-01-01}
applications:
  - {name: Wiki, primary_owner: ada@acme.test}
`
	files := map[inventory.Kind]string{
		inventory.Identities:   "identity_id,email,display_name,status\nu1,ada@acme.test,Ada,active\nu2,bob@acme.test,Bob,active\nu3,not-an-email,Carol,active\n",
		inventory.Entitlements: "entitlement_id,name,type,labels\ng1,Admins,group,privileged\ng2,Readers,group,\n,No id,group,\n",
		inventory.Relations:    "identity_id,entitlement_id\nu1,g1\nu2,g2\nu2,g9\n",
	}
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tf := write("tenant.yaml", tenantFile)
	kinds := []inventory.Kind{inventory.Identities, inventory.Entitlements, inventory.Relations}

	// The CLI.
	cliEnv := map[string]string{"ACCESSBOT_STORE_DSN": "file:" + filepath.Join(dir, "cli.db"), "ACCESSBOT_LOG_LEVEL": "warn"}
	var cliRejected []string
	if m, _, _ := testMain(cliEnv); m.Run(ctx, []string{"apply", "-f", tf}) != nil {
		t.Fatal("apply")
	}
	for _, k := range kinds {
		m, _, stderr := testMain(cliEnv)
		if err := m.Run(ctx, []string{"import", string(k), "Wiki", write(string(k)+".csv", files[k])}); err != nil {
			t.Fatalf("import %s: %v", k, err)
		}
		for _, l := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
			if i := strings.Index(l, ".csv:"); i > 0 { // "DIR/identities.csv:4: email ...": drop the directory
				cliRejected = append(cliRejected, filepath.Base(l[:i])+":"+l[i+len(".csv:"):])
			}
		}
	}

	// The bulk API, on a second store.
	apiEnv := map[string]string{"ACCESSBOT_STORE_DSN": "file:" + filepath.Join(dir, "api.db"), "ACCESSBOT_LOG_LEVEL": "warn"}
	m, _, _ := testMain(apiEnv)
	if err := m.Run(ctx, []string{"apply", "-f", tf}); err != nil {
		t.Fatal(err)
	}
	st := openSQLite(t, apiEnv["ACCESSBOT_STORE_DSN"])
	defer st.Close()
	ten, err := st.GetTenantBySlug(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now
	tok, err := findings.NewToken(ctx, st, ten.ID, now())
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux() // as run mounts it
	mux.Handle("POST /api/v1/inventory/{application}/{kind}", inventory.NewHandler(inventory.NewImporter(st, findings.NewEngine(now, zerolog.Nop()), now, zerolog.Nop()), st, zerolog.Nop()))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	var apiRejected []string
	for _, k := range kinds {
		req, _ := http.NewRequest("POST", srv.URL+"/api/v1/inventory/Wiki/"+string(k), strings.NewReader(files[k]))
		req.Header.Set("Content-Type", "text/csv")
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var out inventory.Response
		if err := jsonDecode(resp, &out); err != nil || resp.StatusCode != 200 || !out.Written {
			t.Fatalf("upload %s: %d %+v %v", k, resp.StatusCode, out, err)
		}
		for _, p := range out.Rejected {
			if p.Field == "" {
				apiRejected = append(apiRejected, fmt.Sprintf("%s:%d: %s", k, p.Line, p.Msg))
			} else {
				apiRejected = append(apiRejected, fmt.Sprintf("%s:%d: %s %q: %s", k, p.Line, p.Field, p.Value, p.Msg))
			}
		}
	}

	cli := openSQLite(t, cliEnv["ACCESSBOT_STORE_DSN"])
	defer cli.Close()
	a, b := inventorySnapshot(t, cli), inventorySnapshot(t, st)
	t.Logf("stored:\n%s", a)
	if a != b || !strings.Contains(a, "finding ") || !strings.Contains(a, "identity u1 ada@acme.test") || !strings.Contains(a, "relation u2→g2") || strings.Contains(a, "u3") {
		t.Fatalf("cli stored:\n%s\napi stored:\n%s", a, b)
	}
	if len(cliRejected) != 3 || strings.Join(cliRejected, "\n") != strings.Join(apiRejected, "\n") {
		t.Fatalf("cli rejected:\n%s\napi rejected:\n%s", strings.Join(cliRejected, "\n"), strings.Join(apiRejected, "\n"))
	}
}

func jsonDecode(resp *http.Response, v any) error {
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}

// inventorySnapshot is Wiki's stored inventory and open findings of tenant
// acme, one sorted line each.
func inventorySnapshot(t *testing.T, st store.Store) string {
	t.Helper()
	ctx := context.Background()
	ten, err := st.GetTenantBySlug(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	app, err := st.GetApplicationByName(ctx, ten.ID, "Wiki")
	if err != nil {
		t.Fatal(err)
	}
	ids, err1 := st.ListIdentities(ctx, ten.ID, app.ID, false)
	ents, err2 := st.ListAppEntitlements(ctx, ten.ID, app.ID, false)
	rels, err3 := st.ListRelations(ctx, ten.ID, app.ID, false)
	fs, err4 := st.ListFindings(ctx, ten.ID, accessbot.FindingFilter{})
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		t.Fatal(err)
	}
	var out []string
	in, en := map[string]string{}, map[string]string{}
	for _, i := range ids {
		in[i.ID] = i.ExternalID
		out = append(out, fmt.Sprintf("identity %s %s %s %s", i.ExternalID, i.Email, i.DisplayName, i.Status))
	}
	for _, e := range ents {
		en[e.ID] = e.ExternalID
		out = append(out, fmt.Sprintf("entitlement %s %s %s %v", e.ExternalID, e.Name, e.Type, e.Labels))
	}
	for _, r := range rels {
		out = append(out, fmt.Sprintf("relation %s→%s", in[r.IdentityID], en[r.EntitlementID]))
	}
	for _, f := range fs {
		out = append(out, fmt.Sprintf("finding %s %s %s %s", f.Rule, f.Status, f.Severity, f.Subject.Display))
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}
