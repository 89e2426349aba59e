package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/accessbot/accessbot/internal/secrets"
	"github.com/accessbot/accessbot/store"
)

func (m *Main) secretsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secrets",
		Short: "Manage the encrypted secrets in the store",
		Args:  cobra.NoArgs,
		RunE:  showHelp,
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "rotate",
		Short: "Re-encrypt every stored secret with the current encryption key",
		Long: `Re-encrypt every stored secret (such as OAuth bot tokens) that was sealed
with an older key, using the current one (encryption.key, encryption.key_id).
The older keys must still be listed in encryption.previous_keys so their
secrets can be opened. Each tenant is re-encrypted in one transaction, and
running it again is harmless: when it reports nothing left under an old key,
that key can be removed from encryption.previous_keys.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := m.boot()
			if err != nil {
				return err
			}
			keys, err := cfg.Keyring()
			if err != nil {
				return err
			}
			if !keys.CanSeal() {
				return secrets.ErrNoKey
			}
			st, err := m.openStore(cmd.Context(), cfg, log)
			if err != nil {
				return err
			}
			defer st.Close()
			return rotateSecrets(cmd.Context(), st, keys, cmd.OutOrStdout())
		},
	})
	return cmd
}

// Keys is what rotation needs of the keyring; *secrets.Keyring has it.
type rotationKeys interface {
	CurrentKeyID() string
	Open(keyID string, ciphertext, aad []byte) ([]byte, error)
	Seal(plaintext, aad []byte) (keyID string, ciphertext []byte, err error)
}

// rotateSecrets re-seals, tenant by tenant, each secret not under the
// current key. A secret that can't be opened stops the run with its tenant's
// changes rolled back (tenants already done stay done; a rerun skips them).
func rotateSecrets(ctx context.Context, st store.Store, keys rotationKeys, out io.Writer) error {
	tenants, err := st.ListTenants(ctx)
	if err != nil {
		return fmt.Errorf("rotate secrets: %w", err)
	}
	cur := keys.CurrentKeyID()
	var rotated, kept int
	for _, t := range tenants {
		var n int
		err := st.InTx(ctx, func(q store.Queries) error {
			n = 0
			list, err := q.ListSecrets(ctx, t.ID)
			if err != nil {
				return err
			}
			for _, s := range list {
				if s.KeyID == cur {
					continue
				}
				aad := secrets.AAD(t.ID, s.Name)
				plain, err := keys.Open(s.KeyID, s.Ciphertext, aad)
				if err != nil {
					return fmt.Errorf("secret %q (list key %q in encryption.previous_keys): %w", s.Name, s.KeyID, err)
				}
				s.KeyID, s.Ciphertext, err = keys.Seal(plain, aad)
				clear(plain)
				if err != nil {
					return fmt.Errorf("secret %q: %w", s.Name, err)
				}
				if err := q.PutSecret(ctx, &s); err != nil {
					return err
				}
				n++
			}
			kept += len(list) - n
			return nil
		})
		if err != nil {
			return fmt.Errorf("rotate secrets of tenant %s: %w (its secrets are unchanged)", t.Slug, err)
		}
		rotated += n
	}
	_, err = fmt.Fprintf(out, "Re-encrypted %d secret(s) with key %q; %d already used it. No secret needs an older key now.\n",
		rotated, cur, kept)
	return err
}
