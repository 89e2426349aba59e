package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/accessbot/accessbot"
)

// TestBackupWhileOpen backs the SQLite store up while another connection
// holds it open, with its last write still in the WAL file, and reads the
// copy back.
func TestBackupWhileOpen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := acmeStore(t, "live.db")
	st := openSQLite(t, dsn)
	defer st.Close()
	tenant, err := st.GetTenantBySlug(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateUser(ctx, &accessbot.User{TenantID: tenant.ID, Email: "bo@acme.test", Name: "Bo",
		Status: accessbot.UserActive, Role: accessbot.RoleMember}); err != nil {
		t.Fatal(err)
	}

	dest := filepath.Join(t.TempDir(), "copy.db")
	env := map[string]string{"ACCESSBOT_STORE_DSN": dsn}
	m, stdout, _ := testMain(env)
	if err := m.Run(ctx, []string{"backup", dest}); err != nil {
		t.Fatalf("backup: %v", err)
	}
	if !strings.Contains(stdout.String(), "Backed up the SQLite store to "+dest) {
		t.Errorf("output = %q", stdout.String())
	}
	if _, err := os.Stat(dest + "-wal"); err == nil {
		t.Errorf("the copy has a -wal file beside it: it should be one self-contained file")
	}
	cp := openSQLite(t, "file:"+dest)
	defer cp.Close()
	users, err := cp.ListUsers(ctx, tenant.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 2 {
		t.Fatalf("the copy has %d users, want 2 (ada, and bo from the WAL)", len(users))
	}

	emptyDB := filepath.Join(t.TempDir(), "empty.db")
	if err := os.WriteFile(emptyDB, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		env     map[string]string
		dest    string
		wantErr string
	}{
		{name: "existing file", env: env, dest: dest, wantErr: "already exists"},
		{name: "postgres", env: map[string]string{"ACCESSBOT_STORE_DRIVER": "postgres", "ACCESSBOT_STORE_DSN": "postgres://x@127.0.0.1:1/x"},
			dest: filepath.Join(t.TempDir(), "pg.db"), wantErr: "use pg_dump"},
		{name: "no database there", env: map[string]string{"ACCESSBOT_STORE_DSN": "file:" + filepath.Join(t.TempDir(), "missing.db")},
			dest: filepath.Join(t.TempDir(), "m.db"), wantErr: "no database at"},
		{name: "not the bot's database", env: map[string]string{"ACCESSBOT_STORE_DSN": "file:" + emptyDB},
			dest: filepath.Join(t.TempDir(), "e.db"), wantErr: "holds no tables"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, _, _ := testMain(tc.env)
			err := m.Run(ctx, []string{"backup", tc.dest})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("backup error = %v, want one with %q", err, tc.wantErr)
			}
		})
	}
}
