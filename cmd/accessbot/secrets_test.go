package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"path/filepath"
	"strings"
	"testing"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/internal/secrets"
	"github.com/accessbot/accessbot/store"
)

// TestSecretsRotate seals secrets under k1, switches the config to k2 (k1
// kept in previous_keys), runs `secrets rotate`, and checks that every
// secret then opens with k2 alone.
func TestSecretsRotate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	k1 := secrets.Key{ID: "k1", Key: bytes.Repeat([]byte{1}, secrets.KeySize)}
	k2 := secrets.Key{ID: "k2", Key: bytes.Repeat([]byte{2}, secrets.KeySize)}
	k0 := secrets.Key{ID: "k0", Key: bytes.Repeat([]byte{9}, secrets.KeySize)}
	b64 := func(k secrets.Key) string { return base64.StdEncoding.EncodeToString(k.Key) }

	dsn := "file:" + filepath.Join(t.TempDir(), "rotate.db")
	st := openSQLite(t, dsn)
	acme := addTenant(t, st, "acme", "Acme", "ada@acme.test", "Ada")
	globex := addTenant(t, st, "globex", "Globex", "gus@globex.test", "Gus")
	put := func(key secrets.Key, tenant *accessbot.Tenant, name, plain string) {
		t.Helper()
		kr, err := secrets.NewKeyring(key)
		if err != nil {
			t.Fatal(err)
		}
		id, ct, err := kr.Seal([]byte(plain), secrets.AAD(tenant.ID, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := st.PutSecret(ctx, &accessbot.Secret{TenantID: tenant.ID, Name: name, KeyID: id, Ciphertext: ct}); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]string{ // tenant/name → plaintext
		acme.ID + "/slack_bot_token":   "xoxb-acme",
		acme.ID + "/webhook":           "hook-acme",
		globex.ID + "/slack_bot_token": "xoxb-globex",
	}
	put(k1, acme, "slack_bot_token", "xoxb-acme")
	put(k2, acme, "webhook", "hook-acme") // already under the new key
	put(k1, globex, "slack_bot_token", "xoxb-globex")
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	env := map[string]string{
		"ACCESSBOT_STORE_DSN":                dsn,
		"ACCESSBOT_ENCRYPTION_KEY":           b64(k2),
		"ACCESSBOT_ENCRYPTION_KEY_ID":        "k2",
		"ACCESSBOT_ENCRYPTION_PREVIOUS_KEYS": "k1:" + b64(k1),
		"ACCESSBOT_LOG_LEVEL":                "warn",
	}
	rotate := func() (string, error) {
		m, stdout, _ := testMain(env)
		err := m.Run(ctx, []string{"secrets", "rotate"})
		return stdout.String(), err
	}
	out, err := rotate()
	if err != nil {
		t.Fatalf("secrets rotate: %v", err)
	}
	if !strings.Contains(out, `Re-encrypted 2 secret(s) with key "k2"; 1 already used it.`) {
		t.Fatalf("output = %q", out)
	}

	// Every secret opens with k2 alone: k1 can now be dropped.
	onlyK2, err := secrets.NewKeyring(k2)
	if err != nil {
		t.Fatal(err)
	}
	check := func(st store.Store) {
		t.Helper()
		for _, tn := range []*accessbot.Tenant{acme, globex} {
			list, err := st.ListSecrets(ctx, tn.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range list {
				plain, err := onlyK2.Open(s.KeyID, s.Ciphertext, secrets.AAD(tn.ID, s.Name))
				if err != nil {
					t.Fatalf("%s/%s under %q: %v", tn.Slug, s.Name, s.KeyID, err)
				}
				if got := string(plain); got != want[tn.ID+"/"+s.Name] {
					t.Errorf("%s/%s = %q, want %q", tn.Slug, s.Name, got, want[tn.ID+"/"+s.Name])
				}
			}
		}
	}
	st = openSQLite(t, dsn)
	check(st)

	// A rerun has nothing left to do.
	if out, err := rotate(); err != nil || !strings.Contains(out, `Re-encrypted 0 secret(s) with key "k2"; 3 already used it.`) {
		t.Fatalf("second rotate: %q, %v", out, err)
	}

	// A secret under a key the config no longer lists stops the run, and
	// its tenant's other secrets are left as they were.
	put(k1, globex, "scim", "scim-globex")
	put(k0, globex, "lost", "gone")
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = rotate()
	if err == nil || !strings.Contains(err.Error(), `tenant globex`) || !strings.Contains(err.Error(), `"lost"`) {
		t.Fatalf("rotate with an unknown key: %v", err)
	}
	st = openSQLite(t, dsn)
	defer st.Close()
	s, err := st.GetSecret(ctx, globex.ID, "scim")
	if err != nil {
		t.Fatal(err)
	}
	if s.KeyID != "k1" {
		t.Errorf("scim re-encrypted under %q although its tenant's rotation failed", s.KeyID)
	}
}

func TestSecretsRotateNeedsAKey(t *testing.T) {
	t.Parallel()
	m, _, _ := testMain(map[string]string{"ACCESSBOT_STORE_DSN": "file:" + filepath.Join(t.TempDir(), "nokey.db")})
	err := m.Run(context.Background(), []string{"secrets", "rotate"})
	if err == nil || !strings.Contains(err.Error(), "encryption.key is not set") {
		t.Fatalf("rotate without a key: %v", err)
	}
}
