package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// KeySize is the AES-256 key length in bytes.
const KeySize = 32

var (
	// ErrNoKey means no current encryption key is configured, so nothing can be sealed.
	ErrNoKey = errors.New("encryption.key is not set: secrets cannot be stored until it is " +
		"(generate one with `openssl rand -base64 32` and set ACCESSBOT_ENCRYPTION_KEY)")
	// ErrUnknownKey means a ciphertext names a key id that is in neither encryption.key_id
	// nor encryption.previous_keys.
	ErrUnknownKey = errors.New("unknown encryption key id")
	// ErrDecrypt means the ciphertext was tampered with, moved to another row
	// (different aad), or sealed with a different key of the same id.
	ErrDecrypt = errors.New("decrypt failed: ciphertext or associated data do not match")
)

// Key is one AES-256 key and the id stored beside everything it seals.
type Key struct {
	ID  string
	Key []byte
}

// Keyring seals with the current key and opens with the current or any
// previous key, so keys can rotate without re-encrypting everything at once.
type Keyring struct {
	current string // "" when no key is configured
	aeads   map[string]cipher.AEAD
	macs    map[string][]byte // per key id: the key MAC derives its keys from
}

// NewKeyring builds a keyring. current may have an empty Key, meaning "not
// configured": Seal then returns ErrNoKey while previous keys still open.
func NewKeyring(current Key, previous ...Key) (*Keyring, error) {
	k := &Keyring{aeads: map[string]cipher.AEAD{}, macs: map[string][]byte{}}
	add := func(key Key) error {
		if key.ID == "" {
			return errors.New("encryption key id must not be empty")
		}
		if _, dup := k.aeads[key.ID]; dup {
			return fmt.Errorf("encryption key id %q is used twice", key.ID)
		}
		if len(key.Key) != KeySize {
			return fmt.Errorf("encryption key %q: must be %d bytes, got %d", key.ID, KeySize, len(key.Key))
		}
		block, err := aes.NewCipher(key.Key)
		if err != nil {
			return fmt.Errorf("encryption key %q: %w", key.ID, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return fmt.Errorf("encryption key %q: %w", key.ID, err)
		}
		k.aeads[key.ID] = aead
		k.macs[key.ID] = append([]byte(nil), key.Key...)
		return nil
	}
	if len(current.Key) > 0 {
		if err := add(current); err != nil {
			return nil, err
		}
		k.current = current.ID
	}
	for _, p := range previous {
		if err := add(p); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// CanSeal reports whether a current key is configured.
func (k *Keyring) CanSeal() bool { return k != nil && k.current != "" }

// CurrentKeyID is the id Seal uses, "" when no key is configured.
func (k *Keyring) CurrentKeyID() string {
	if k == nil {
		return ""
	}
	return k.current
}

// Seal encrypts plaintext with the current key. aad is authenticated but not
// stored: pass AAD(tenantID, name) so a ciphertext only opens on its own row.
// The random 12-byte nonce is prepended to the returned ciphertext.
func (k *Keyring) Seal(plaintext, aad []byte) (keyID string, ciphertext []byte, err error) {
	if !k.CanSeal() {
		return "", nil, ErrNoKey
	}
	aead := k.aeads[k.current]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", nil, fmt.Errorf("seal: read nonce: %w", err)
	}
	return k.current, aead.Seal(nonce, nonce, plaintext, aad), nil
}

// Open decrypts what Seal returned, with the key named by keyID.
func (k *Keyring) Open(keyID string, ciphertext, aad []byte) ([]byte, error) {
	if k == nil {
		return nil, fmt.Errorf("open with key %q: %w", keyID, ErrUnknownKey)
	}
	aead, ok := k.aeads[keyID]
	if !ok {
		return nil, fmt.Errorf("open with key %q: %w", keyID, ErrUnknownKey)
	}
	if len(ciphertext) < aead.NonceSize()+aead.Overhead() {
		return nil, fmt.Errorf("open with key %q: ciphertext too short: %w", keyID, ErrDecrypt)
	}
	n := aead.NonceSize()
	plain, err := aead.Open(nil, ciphertext[:n], ciphertext[n:], aad)
	if err != nil {
		return nil, fmt.Errorf("open with key %q: %w", keyID, ErrDecrypt)
	}
	return plain, nil
}

// AAD binds a ciphertext to its tenant and secret name. Each part is
// length-prefixed so ("ab","c") and ("a","bc") differ.
func AAD(tenantID, name string) []byte {
	const label = "accessbot/secret/v1"
	b := make([]byte, 0, len(label)+8+len(tenantID)+len(name))
	b = append(b, label...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(tenantID)))
	b = append(b, tenantID...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(name)))
	b = append(b, name...)
	return b
}

// macKey derives a purpose's HMAC key, so a MAC never shares key material
// with encryption or with another purpose.
func (k *Keyring) macKey(keyID, purpose string) ([]byte, bool) {
	if k == nil {
		return nil, false
	}
	root, ok := k.macs[keyID]
	if !ok {
		return nil, false
	}
	m := hmac.New(sha256.New, root)
	m.Write([]byte("accessbot/mac/v1\x00" + purpose))
	return m.Sum(nil), true
}

// MAC authenticates msg for purpose (say, "email-link") with the current
// key; anyone holding a key of the ring can check it with VerifyMAC.
func (k *Keyring) MAC(purpose string, msg []byte) (keyID string, mac []byte, err error) {
	if !k.CanSeal() {
		return "", nil, ErrNoKey
	}
	key, _ := k.macKey(k.current, purpose)
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return k.current, m.Sum(nil), nil
}

// VerifyMAC reports whether mac is MAC's answer for msg under keyID, which
// may be a previous key: links made before a rotation keep working.
func (k *Keyring) VerifyMAC(keyID, purpose string, msg, mac []byte) bool {
	key, ok := k.macKey(keyID, purpose)
	if !ok {
		return false
	}
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return hmac.Equal(m.Sum(nil), mac)
}
