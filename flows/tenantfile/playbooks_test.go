package tenantfile

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/playbooks"
	"github.com/accessbot/accessbot/store"
)

const playbooksYAML = `outbound:
  allow: [10.20.0.0/16]
playbooks:
  - name: open-ticket
    description: Opens a ticket
    type: request
    url: https://hooks.example.com/accessbot
    token_env: TICKET_TOKEN
    signing_secret_env: TICKET_SIGNING
  - name: entra-sync
    type: finding
    url: https://10.20.0.7/hook
    application: Microsoft Entra ID
    recurrence: true
    active: false
    signing_secret_env: TICKET_SIGNING
`

func TestApplyPlaybooks(t *testing.T) {
	t.Parallel()
	const token, signing = "ticket-SECRET-token-1", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	forEachDriver(t, func(t *testing.T, s store.Store) {
		keys := testKeyring(t)
		env := map[string]string{"TICKET_TOKEN": token, "TICKET_SIGNING": signing}
		src := string(baseYAML(t)) + playbooksYAML
		var logs bytes.Buffer
		res, err := applyWith(t, s, keys, env, src, zerolog.New(&logs))
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		_ = res.Write(&out)
		for _, want := range []string{
			`+ playbook open-ticket: type request, url "https://hooks.example.com/accessbot", token (secret, from $TICKET_TOKEN), signing secret (secret, from $TICKET_SIGNING)`,
			`+ playbook entra-sync: type finding, url "https://10.20.0.7/hook", application Microsoft Entra ID, recurrence, inactive, signing secret (secret, from $TICKET_SIGNING)`,
		} {
			if !strings.Contains(out.String(), want) {
				t.Fatalf("apply output lacks %q:\n%s", want, out.String())
			}
		}
		if strings.Contains(out.String()+logs.String(), token) || strings.Contains(out.String()+logs.String(), signing) {
			t.Fatal("a secret reached the output or the log")
		}
		ctx := context.Background()
		tid := res.TenantID
		p, err := s.GetPlaybookByName(ctx, tid, "entra-sync")
		if err != nil {
			t.Fatal(err)
		}
		app, _ := s.GetApplicationByName(ctx, tid, "Microsoft Entra ID")
		if p.AppID != app.ID || p.Active || !p.OnSync || p.Source != accessbot.SourceFile || p.TokenSecret != "" {
			t.Fatalf("entra-sync stored as %+v", p)
		}
		tk, err := s.GetPlaybookByName(ctx, tid, "open-ticket")
		if err != nil {
			t.Fatal(err)
		}
		got, err := playbooks.GetSecret(ctx, s, keys, tid, tk.TokenSecret)
		if err != nil || got.Reveal() != token {
			t.Fatalf("token opens to %q, %v", got.Reveal(), err)
		}
		if sec, _ := s.GetSecret(ctx, tid, tk.TokenSecret); bytes.Contains(sec.Ciphertext, []byte(token)) {
			t.Fatal("token stored in clear")
		}

		// Applying again changes nothing; a new token is "changed"; a
		// playbook dropped from the file is deleted.
		if res, err = applyWith(t, s, keys, env, src, zerolog.Nop()); err != nil || len(res.Changes) != 0 {
			t.Fatalf("second apply: %v, %d changes", err, len(res.Changes))
		}
		env["TICKET_TOKEN"] = "ticket-SECRET-token-2"
		shorter := strings.Split(src, "  - name: entra-sync")[0]
		res, err = applyWith(t, s, keys, env, shorter, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		out.Reset()
		_ = res.Write(&out)
		if !strings.Contains(out.String(), "~ playbook open-ticket: token (secret) changed") || !strings.Contains(out.String(), "- playbook entra-sync") {
			t.Fatalf("third apply:\n%s", out.String())
		}
		if _, err := s.GetPlaybookByName(ctx, tid, "entra-sync"); !errors.Is(err, accessbot.ErrNotFound) {
			t.Fatalf("entra-sync still there: %v", err)
		}
	})
}

func TestPlaybooksFileErrors(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, s store.Store) {
		env := map[string]string{"SIG": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "BAD": "not-a-secret"}
		for _, tc := range []struct{ name, entry, want string }{
			{"private url", "type: request\n    url: https://192.168.1.10/\n    signing_secret_env: SIG", "playbooks[0].url: 192.168.1.10 is a private"},
			{"http", "type: request\n    url: http://hooks.example.com/\n    signing_secret_env: SIG", "playbooks[0].url: only https"},
			{"bad type", "type: webhook\n    url: https://hooks.example.com/\n    signing_secret_env: SIG", "playbooks[0].type: \"webhook\" is not a playbook type"},
			{"literal token", "type: request\n    url: https://hooks.example.com/\n    token: abc\n    signing_secret_env: SIG", "playbooks[0].token: a secret is never written"},
			{"missing env", "type: request\n    url: https://hooks.example.com/\n    signing_secret_env: NOPE", "environment variable NOPE is not set"},
			{"bad signing secret", "type: request\n    url: https://hooks.example.com/\n    signing_secret_env: BAD", "playbooks[0].signing_secret_env: $BAD"},
			{"unknown app", "type: request\n    url: https://hooks.example.com/\n    application: Nope\n    signing_secret_env: SIG", "no application \"Nope\""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				src := string(baseYAML(t)) + "playbooks:\n  - name: p\n    " + tc.entry + "\n"
				_, err := applyWith(t, s, testKeyring(t), env, src, zerolog.Nop())
				if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "tenant.yaml:") {
					t.Fatalf("err = %v; want file:line with %q", err, tc.want)
				}
			})
		}
	})
}
