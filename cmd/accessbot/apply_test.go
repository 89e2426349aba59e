package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestApplyAndImportCommands(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := map[string]string{"ACCESSBOT_STORE_DSN": "file:" + filepath.Join(dir, "a.db")}
	run := func(args ...string) (string, string, error) {
		m, stdout, stderr := testMain(env)
		err := m.Run(context.Background(), args)
		return stdout.String(), stderr.String(), err
	}
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const example = "../../examples/tenant.yaml"

	out, _, err := run("apply", "-f", example, "--dry-run")
	if err != nil || !strings.Contains(out, "+ user maya.chen@acme.com\n") || !strings.Contains(out, "tenant acme: 69 change(s) to apply (dry run: nothing was written)") {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	if out, _, err = run("apply", "-f", example); err != nil || !strings.Contains(out, "tenant acme: 69 change(s) applied") {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	if out, _, err = run("apply", "-f", example); err != nil || out != "tenant acme: no changes\n" {
		t.Fatalf("second apply: %v\n%q", err, out)
	}

	bad := write("bad.yaml", "tenant:\n  slug: acme\n  name: Acme\n  plan: gold\n")
	if _, _, err = run("apply", "-f", bad); err == nil || !strings.Contains(err.Error(), bad+":4: tenant.plan: unknown key") {
		t.Fatalf("bad file: %v", err)
	}
	if _, _, err = run("apply"); err == nil || !strings.Contains(err.Error(), `"file" not set`) {
		t.Fatalf("apply without -f: %v", err)
	}

	csv := write("users.csv", "Email,Name,Manager_Email\nnew.hire@acme.com,New Hire,priya.nair@acme.com\nbob@,Bob,\n")
	out, errOut, err := run("import", "users", csv)
	if err != nil || !strings.Contains(out, "+ user new.hire@acme.com\n") || !strings.Contains(out, "created 1, updated 0, unchanged 0, rejected 1") ||
		!strings.Contains(errOut, csv+`:3: email "bob@": not a valid email address`) {
		t.Fatalf("import: %v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
	}
	if _, _, err = run("import", "users", csv, "--strict"); err == nil || !strings.Contains(err.Error(), "1 row(s) rejected; --strict: nothing was imported") {
		t.Fatalf("strict import: %v", err)
	}

	// With a second tenant, --tenant is required.
	second := write("beta.yaml", "tenant: {slug: beta, name: Beta}\nusers:\n  - {email: ann@beta.io, name: Ann, role: admin}\n")
	if _, _, err = run("apply", "-f", second); err != nil {
		t.Fatal(err)
	}
	if _, _, err = run("import", "users", csv); err == nil || !strings.Contains(err.Error(), "the store has 2 tenants (acme, beta): choose one with --tenant SLUG") {
		t.Fatalf("import with two tenants: %v", err)
	}
	if _, _, err = run("import", "users", csv, "--tenant", "nope"); err == nil || !strings.Contains(err.Error(), "--tenant nope: no such tenant") {
		t.Fatalf("unknown tenant: %v", err)
	}
	if out, _, err = run("import", "users", csv, "--tenant", "beta", "--dry-run"); err != nil || !strings.Contains(out, "tenant beta:") {
		t.Fatalf("import into beta: %v\n%s", err, out)
	}
}
