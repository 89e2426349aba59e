package playbooks

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/connectors/webhook"
	"github.com/accessbot/accessbot/internal/secrets"
	"github.com/accessbot/accessbot/store"
)

// Keys seals and opens secrets; *secrets.Keyring is one.
type Keys interface {
	Seal(plaintext, aad []byte) (keyID string, ciphertext []byte, err error)
	Open(keyID string, ciphertext, aad []byte) ([]byte, error)
}

var _ Keys = (*secrets.Keyring)(nil)

// Secret names of a playbook: the rows of the secrets table that hold its
// bearer token and its signing secret (so `accessbot secrets rotate`
// re-encrypts them with everything else).
func TokenSecretName(playbookID string) string   { return "playbook/" + playbookID + "/token" }
func SigningSecretName(playbookID string) string { return "playbook/" + playbookID + "/signing" }

// NewSigningSecret makes a Standard Webhooks secret: whsec_ and 32 random bytes.
func NewSigningSecret() secrets.Secret {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read does not fail (Go 1.24+)
	return secrets.Secret(webhook.SecretPrefix + base64.StdEncoding.EncodeToString(b))
}

// CheckSigningSecret says whether s is a usable whsec_ secret.
func CheckSigningSecret(s secrets.Secret) error {
	if _, err := webhook.NewSigner(s); err != nil {
		return err
	}
	return nil
}

// PutSecret seals value as the tenant's secret name, in q.
func PutSecret(ctx context.Context, q store.Queries, keys Keys, tenantID, name string, value secrets.Secret) error {
	if keys == nil {
		return fmt.Errorf("store secret %s: %w", name, secrets.ErrNoKey)
	}
	keyID, ct, err := keys.Seal([]byte(value.Reveal()), secrets.AAD(tenantID, name))
	if err != nil {
		return fmt.Errorf("store secret %s: %w", name, err)
	}
	return q.PutSecret(ctx, &accessbot.Secret{TenantID: tenantID, Name: name, KeyID: keyID, Ciphertext: ct})
}

// GetSecret opens the tenant's secret name; "" for an empty name.
func GetSecret(ctx context.Context, q store.Queries, keys Keys, tenantID, name string) (secrets.Secret, error) {
	if name == "" {
		return "", nil
	}
	s, err := q.GetSecret(ctx, tenantID, name)
	if err != nil {
		return "", fmt.Errorf("read secret %s: %w", name, err)
	}
	if keys == nil {
		return "", fmt.Errorf("open secret %s: %w", name, secrets.ErrUnknownKey)
	}
	plain, err := keys.Open(s.KeyID, s.Ciphertext, secrets.AAD(tenantID, name))
	if err != nil {
		return "", fmt.Errorf("open secret %s: %w", name, err)
	}
	return secrets.Secret(plain), nil
}

// DeleteSecret removes a secret that may not exist.
func DeleteSecret(ctx context.Context, q store.Queries, tenantID, name string) error {
	if name == "" {
		return nil
	}
	if err := q.DeleteSecret(ctx, tenantID, name); err != nil && !errors.Is(err, accessbot.ErrNotFound) {
		return err
	}
	return nil
}
