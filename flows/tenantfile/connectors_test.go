package tenantfile

import (
	"bytes"
	"context"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot/internal/secrets"
	"github.com/accessbot/accessbot/store"
)

const connectorsYAML = `outbound:
  allow: [10.20.0.0/16, hooks.corp.internal]
connectors:
  - name: hooks
    type: webhook
    url: https://hooks.example.com/accessbot/{endpoint}
    bearer_env: HOOKS_TOKEN
  - name: git
    type: gitlab
    base_url: https://gitlab.example.com
    token_env: GITLAB_TOKEN
  - name: mail
    type: smtp
    host: smtp.example.com
    port: "587"
    from: accessbot <accessbot@example.com>
    username: accessbot
    password_env: SMTP_PASSWORD
  - name: playground                  # the example tenant's chains send to it
    type: webhook
    url: https://hooks.example.com/playground/{endpoint}
`

// playgroundHook declares the webhook connector the example tenant's
// chains send to (a file with connectors: must declare every one a script uses).
const playgroundHook = "  - name: playground\n    type: webhook\n    url: https://hooks.example.com/{endpoint}\n"

func testKeyring(t *testing.T) *secrets.Keyring {
	t.Helper()
	key := make([]byte, secrets.KeySize)
	_, _ = rand.Read(key)
	k, err := secrets.NewKeyring(secrets.Key{ID: "k1", Key: key})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func applyWith(t *testing.T, s store.Store, keys SecretKeys, env map[string]string, src string, log zerolog.Logger) (*Result, error) {
	t.Helper()
	f, err := Parse("tenant.yaml", []byte(src))
	if err != nil {
		return nil, err
	}
	return NewApplier(s, testNow, log).WithSecrets(keys, envOf(env)).Apply(context.Background(), f, false)
}

func TestApplyConnectors(t *testing.T) {
	t.Parallel()
	const token, pw, bearer = "glpat-SECRETVALUE-1", "smtp-pass-SECRET-2", "bearer-SECRET-3"
	forEachDriver(t, func(t *testing.T, s store.Store) {
		keys := testKeyring(t)
		env := map[string]string{"GITLAB_TOKEN": token, "SMTP_PASSWORD": pw, "HOOKS_TOKEN": bearer}
		src := string(baseYAML(t)) + connectorsYAML
		var logs bytes.Buffer
		log := zerolog.New(&logs)
		res, err := applyWith(t, s, keys, env, src, log)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		_ = res.Write(&out)
		for _, want := range []string{
			"~ outbound acme: allow []→[10.20.0.0/16 hooks.corp.internal]",
			`+ connector git: base_url "https://gitlab.example.com", token_env "GITLAB_TOKEN", token (secret, from $GITLAB_TOKEN)`,
			`+ connector mail: from "accessbot <accessbot@example.com>", host "smtp.example.com", password_env "SMTP_PASSWORD", port "587", username "accessbot", password (secret, from $SMTP_PASSWORD)`,
			`+ connector hooks: bearer_env "HOOKS_TOKEN", url "https://hooks.example.com/accessbot/{endpoint}", bearer (secret, from $HOOKS_TOKEN)`,
		} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("diff lacks %q:\n%s", want, out.String())
			}
		}
		ten, _ := s.GetTenantBySlug(context.Background(), "acme")
		audit, _ := s.ListAudit(context.Background(), ten.ID, "git")
		// No secret value anywhere: diff, logs, audit, stored rows.
		stored, _ := s.ListSecrets(context.Background(), ten.ID)
		everything := out.String() + logs.String() + tenantsJSON(t, s, func(ctx context.Context, id string) (any, error) { return s.ListConnectors(ctx, id) })
		for _, a := range audit {
			everything += string(a.Before) + string(a.After)
		}
		for _, sec := range stored {
			everything += string(sec.Ciphertext)
		}
		for _, v := range []string{token, pw, bearer} {
			if strings.Contains(everything, v) {
				t.Fatalf("secret %q leaked into the output, logs, audit or store", v)
			}
		}
		// Stored sealed, and it opens to the variable's value.
		sec, err := s.GetSecret(context.Background(), ten.ID, store.ConnectorSecretName("git", "token"))
		if err != nil {
			t.Fatal(err)
		}
		plain, err := keys.Open(sec.KeyID, sec.Ciphertext, secrets.AAD(ten.ID, sec.Name))
		if err != nil || string(plain) != token {
			t.Fatalf("opened %q, %v", plain, err)
		}
		allow, _ := s.GetOutboundAllow(context.Background(), ten.ID)
		if strings.Join(allow, " ") != "10.20.0.0/16 hooks.corp.internal" {
			t.Fatalf("allow-list %v", allow)
		}

		// Same file, same values: no changes. A new token value: "changed", never the value.
		if res, err := applyWith(t, s, keys, env, src, log); err != nil || len(res.Changes) != 0 {
			t.Fatalf("second apply: %v\n%s", err, lines(res))
		}
		env["GITLAB_TOKEN"] = "glpat-NEWSECRET-4"
		res, err = applyWith(t, s, keys, env, src, log)
		if err != nil {
			t.Fatal(err)
		}
		if got := lines(res); got != "~ connector git: token (secret) changed\n" {
			t.Fatalf("changes:\n%s", got)
		}
		// A connector left out of the list is deleted, with its secrets.
		src2 := strings.Replace(src, "  - name: git\n    type: gitlab\n    base_url: https://gitlab.example.com\n    token_env: GITLAB_TOKEN\n", "", 1)
		res, err = applyWith(t, s, keys, env, src2, log)
		if err != nil {
			t.Fatal(err)
		}
		if got := lines(res); got != "- connector git\n" {
			t.Fatalf("changes:\n%s", got)
		}
		if _, err := s.GetSecret(context.Background(), ten.ID, store.ConnectorSecretName("git", "token")); err == nil {
			t.Fatal("the deleted connector's token is still stored")
		}
	})
}

func TestConnectorsRefused(t *testing.T) {
	t.Parallel()
	const literal = "glpat-LITERAL-SECRET-xyz"
	base := string(baseYAML(t))
	gl := "connectors:\n  - name: git\n    type: gitlab\n"
	for _, tc := range []struct{ name, yaml, want string }{
		{"literal secret", gl + "    token: " + literal + "\n", "connectors[0].token: a secret is never written in the tenant file: put it in an environment variable and write token_env: VARIABLE_NAME"},
		{"secret as env name", gl + "    token_env: " + literal + "\n", "connectors[0].token_env: not an environment variable name"},
		{"missing token", gl, "connectors[0].token_env: required for a gitlab connector"},
		{"unknown type", "connectors:\n  - name: x\n    type: jira\n", `connectors[0].type: "jira" is not a connector type`},
		{"scim without a token", "connectors:\n  - name: x\n    type: scim\n    base_url: https://app.example.com/scim/v2\n", "connectors[0].token_env: required for a scim connector"},
		{"setting of another type", gl + "    token_env: T\n    host: smtp.example.com\n", "connectors[0].host: not a setting of a gitlab connector"},
		{"bad name", "connectors:\n  - name: my_webhook_x\n    type: slack\n", "is not a connector name"},
		{"duplicate", "connectors:\n  - name: s\n    type: slack\n  - name: s\n    type: slack\n", `duplicate connector "s"`},
		{"password in URL", "connectors:\n  - name: h\n    type: webhook\n    url: https://u:" + literal + "@example.com/\n", "connectors[0].url: the URL carries a user or password"},
		{"bad port", "connectors:\n  - name: m\n    type: email\n    host: h\n    from: a@example.com\n    port: 70000\n", `connectors[0].port: "70000" is not a port`},
		{"clear-text auth", "connectors:\n  - name: m\n    type: email\n    host: h\n    from: a@example.com\n    tls: none\n    username: u\n    password_env: P\n", "connectors[0].username: a username with tls: none"},
		{"bad allow", "outbound:\n  allow: [\"10.0.0.0/33\"]\n", "outbound.allow[0]: \"10.0.0.0/33\": want a CIDR"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("tenant.yaml", []byte(base+tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v\nwant %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), "tenant.yaml:") {
				t.Fatalf("err %q names no file and line", err)
			}
			if strings.Contains(err.Error(), literal) {
				t.Fatalf("the error repeats the secret: %v", err)
			}
		})
	}
}

func TestConnectorSecretNeedsEnvAndKey(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, s store.Store) {
		src := string(baseYAML(t)) + "connectors:\n  - name: git\n    type: gitlab\n    token_env: GITLAB_TOKEN\n" + playgroundHook
		_, err := applyWith(t, s, testKeyring(t), map[string]string{}, src, zerolog.Nop())
		if err == nil || !strings.Contains(err.Error(), "connectors[0].token_env: environment variable GITLAB_TOKEN is not set") {
			t.Fatalf("err = %v", err)
		}
		_, err = applyWith(t, s, nil, map[string]string{"GITLAB_TOKEN": "v"}, src, zerolog.Nop())
		if err == nil || !strings.Contains(err.Error(), "encryption.key is not set") {
			t.Fatalf("err = %v", err)
		}
		if ts, _ := s.ListTenants(context.Background()); len(ts) != 0 {
			t.Fatalf("a refused file created %d tenant(s)", len(ts))
		}
	})
}
