package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const importTenantYAML = `tenant: {slug: acme, name: Acme}
users:
  - {email: alice@acme.com, name: Alice, role: admin}
  - {email: bob@acme.com, name: Bob, status: terminated, terminated_at: 2025-01-01}
  - {email: carol@acme.com, name: Carol}
applications:
  - {name: GitLab, connector: manual, primary_owner: alice@acme.com}
`

// importEnv is a SQLite store holding tenant acme with application GitLab
// and the snapshot: u-200 is bob, a terminated employee holding the
// privileged role-admin.
func importEnv(t *testing.T) (run func(args ...string) (string, string, error), write func(name, content string) string) {
	t.Helper()
	dir := t.TempDir()
	env := map[string]string{"ACCESSBOT_STORE_DSN": "file:" + filepath.Join(dir, "a.db")}
	run = func(args ...string) (string, string, error) {
		m, stdout, stderr := testMain(env)
		err := m.Run(context.Background(), args)
		return stdout.String(), stderr.String(), err
	}
	write = func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tenant := write("tenant.yaml", importTenantYAML)
	for _, args := range [][]string{
		{"apply", "-f", tenant},
		{"import", "identities", "GitLab", write("ids.csv", "identity_id,email\nu-100,alice@acme.com\nu-200,bob@acme.com\nu-300,carol@acme.com\n")},
		{"import", "entitlements", "GitLab", write("ents.csv", "entitlement_id,labels\nrole-read,\nrole-write,\nrole-admin,privileged\n")},
		{"import", "relations", "GitLab", write("rels.csv", "identity_id,entitlement_id\nu-100,role-read\nu-200,role-admin\nu-200,role-read\nu-300,role-read\nu-300,role-write\n")},
	} {
		if out, errOut, err := run(args...); err != nil {
			t.Fatalf("%v: %v\n%s%s", args, err, out, errOut)
		}
	}
	return run, write
}

// With --dry-run or --strict nothing is written, and the summary says so in
// every count: "would remove 4", never "removed 4".
func TestImportSummarySaysWould(t *testing.T) {
	t.Parallel()
	run, write := importEnv(t)
	// Everything but u-100 → role-read goes: 4 of 5 relations.
	file := write("upload.csv", "identity_id,entitlement_id\nu-100,role-read\n")
	out, _, err := run("import", "relations", "GitLab", file, "--dry-run", "--allow-removals")
	if err != nil {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	for _, want := range []string{"would remove 4", "would create 0", "(dry run: nothing was written)", "would open 0", "would resolve 1"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "removed 4") || strings.Contains(out, " resolved") {
		t.Errorf("dry run output claims what did not happen:\n%s", out)
	}

	bad := write("bad.csv", "identity_id,entitlement_id\nu-100,role-read\nu-404,role-write\n")
	out, _, err = run("import", "relations", "GitLab", bad, "--strict")
	if err == nil || !strings.Contains(out, "would remove 3") || strings.Contains(out, "removed 3") {
		t.Errorf("strict: %v\n%s", err, out)
	}

	csv := write("users.csv", "email,name,status\ncarol@acme.com,Carol,terminated\nnew@acme.com,New,\n")
	out, _, err = run("import", "users", csv, "--dry-run")
	if err != nil || !strings.Contains(out, "would create 1, would update 1, unchanged 0") {
		t.Errorf("users dry run: %v\n%s", err, out)
	}
}

// The accidental-removal guard, from the command line and the tenant file.
func TestImportRemovalGuard(t *testing.T) {
	t.Parallel()
	run, write := importEnv(t)
	var b strings.Builder
	b.WriteString("identity_id\n")
	for i := 0; i < 40; i++ {
		fmt.Fprintf(&b, "x-%d\n", i)
	}
	all := write("all.csv", b.String())
	if out, errOut, err := run("import", "identities", "GitLab", all, "--allow-removals"); err != nil {
		t.Fatalf("%v\n%s%s", err, out, errOut)
	}
	few := write("few.csv", "identity_id\nx-1\nx-2\n")
	out, _, err := run("import", "identities", "GitLab", few)
	if err == nil || !strings.Contains(err.Error(), "would remove 38 of GitLab's 40 current identities (95%)") ||
		!strings.Contains(err.Error(), "--allow-removals") || !strings.Contains(out, "would remove 38") {
		t.Fatalf("guard: %v\n%s", err, out)
	}
	// The tenant file turns it off.
	tenant := write("tenant2.yaml", importTenantYAML+"imports: {max_removed_percent: 100}\n")
	if out, errOut, err := run("apply", "-f", tenant); err != nil || !strings.Contains(out, "+ imports acme: max_removed_rows 20, max_removed_percent 100") {
		t.Fatalf("apply: %v\n%s%s", err, out, errOut)
	}
	if out, _, err = run("import", "identities", "GitLab", few); err != nil || !strings.Contains(out, "removed 38") {
		t.Fatalf("guard off: %v\n%s", err, out)
	}
}

// Size limits: a huge cell, a file over limits.upload_bytes and a tenant
// file over limits.tenant_file_bytes are refused with the limit and the key
// that changes it, and nothing is imported.
func TestImportSizeLimits(t *testing.T) {
	t.Parallel()
	run, write := importEnv(t)
	cell := write("cell.csv", "identity_id,display_name\nu-100,"+strings.Repeat("a", 5<<20)+"\n")
	_, _, err := run("import", "identities", "GitLab", cell)
	if err == nil || !strings.Contains(err.Error(), "cell.csv:2: the row after line 1 is too long: a cell is over the limit of 4 KiB per cell; nothing was imported (to change it: limits.csv_cell_bytes in the config, or ACCESSBOT_LIMITS_CSV_CELL_BYTES)") {
		t.Fatalf("5 MiB cell: %v", err)
	}
	users := write("users.csv", "email,name\nann@acme.com,"+strings.Repeat("a", 5000)+"\n")
	if _, _, err = run("import", "users", users); err == nil || !strings.Contains(err.Error(), `users.csv:2: column "name" holds 5000 bytes, over the limit of 4 KiB per cell`) {
		t.Fatalf("employee cell: %v", err)
	}
	var b strings.Builder
	b.WriteString("identity_id\n")
	for b.Len() < 2<<20 {
		fmt.Fprintf(&b, "x-%d\n", b.Len())
	}
	big := write("big.csv", b.String())
	cfg := write("config.yaml", "limits:\n  upload_bytes: 1MiB\n")
	if _, _, err = run("--config", cfg, "import", "identities", "GitLab", big); err == nil ||
		!strings.Contains(err.Error(), "the file is larger than the limit of 1 MiB; nothing was imported (to change it: limits.upload_bytes in the config, or ACCESSBOT_LIMITS_UPLOAD_BYTES)") {
		t.Fatalf("2 MiB file, 1 MiB limit: %v", err)
	}
	tenant := write("big.yaml", importTenantYAML+"# "+strings.Repeat("x", 5<<20)+"\n")
	if _, _, err = run("apply", "-f", tenant); err == nil || !strings.Contains(err.Error(), "larger than the limit of 4 MiB (to change it: limits.tenant_file_bytes in the config, or ACCESSBOT_LIMITS_TENANT_FILE_BYTES)") {
		t.Fatalf("5 MiB tenant file: %v", err)
	}
	// Nothing of the refused files was imported.
	out, _, err := run("import", "identities", "GitLab", write("same.csv", "identity_id,email\nu-100,alice@acme.com\nu-200,bob@acme.com\nu-300,carol@acme.com\n"), "--dry-run")
	if err != nil || !strings.Contains(out, "would create 0, would update 0, would restore 0, would remove 0, unchanged 3") {
		t.Fatalf("after refusals: %v\n%s", err, out)
	}
}

// The example through the command: the 4-line upload keeps what its
// rejected lines name, and the privileged-entitlement finding about u-200
// (bob, terminated) stays open.
func TestImportRelationsRejectedRowsKeepAccess(t *testing.T) {
	t.Parallel()
	run, write := importEnv(t)
	file := write("upload.csv", "identity_id,entitlement_id\nu-100,role-read\nu-404,role-read\nu-200,\n")
	out, errOut, err := run("import", "relations", "GitLab", file)
	if err != nil {
		t.Fatalf("%v\n%s%s", err, out, errOut)
	}
	for _, want := range []string{"removed 1, unchanged 1, rejected 2 (3 stored row(s) kept as they were: rejected rows name them)", "0 resolved"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, `upload.csv:3: identity_id "u-404": application GitLab has no such identity`) || !strings.Contains(errOut, "upload.csv:4: entitlement_id is empty") {
		t.Errorf("stderr:\n%s", errOut)
	}
	out, _, err = run("findings", "list", "--status", "open")
	if err != nil || !strings.Contains(out, "privileged_entitlement") || !strings.Contains(out, "u-200") {
		t.Fatalf("open findings: %v\n%s", err, out)
	}
}
