package secrets_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"gopkg.in/yaml.v3"

	"github.com/accessbot/accessbot/internal/secrets"
)

const token = "xoxb-1234-5678-supersecretvalue"

type holder struct {
	Name  string
	Token secrets.Secret
	Ptr   *secrets.Secret
}

func TestSecretNeverPrinted(t *testing.T) {
	s := secrets.Secret(token)
	h := holder{Name: "n", Token: s, Ptr: &s}

	var zbuf bytes.Buffer
	log := zerolog.New(&zbuf)
	log.Info().Interface("iface", s).Msg("interface")
	log.Info().Any("any", s).Msg("any")
	log.Info().Stringer("stringer", s).Msg("stringer")
	log.Info().Interface("struct", h).Msg("struct")
	log.Info().Any("ptr", &h).Msg("pointer to struct")
	log.Info().Fields(map[string]any{"f": s}).Msg("fields")
	log.Info().Msgf("msgf %v %s %q %+v %#v %x", s, s, s, h, h, s)
	withCtx := log.With().Interface("ctx", s).Logger()
	withCtx.Info().Msg("context")

	cases := map[string]string{
		"zerolog": zbuf.String(),
		"v":       fmt.Sprintf("%v", s),
		"s":       fmt.Sprintf("%s", s),
		"q":       fmt.Sprintf("%q", s),
		"x":       fmt.Sprintf("%x", s),
		"#v":      fmt.Sprintf("%#v", s),
		"struct":  fmt.Sprintf("%v %+v %#v", h, h, h),
		"pointer": fmt.Sprintf("%v %+v", &h, &h),
		"println": fmt.Sprintln(s, h),
		"error":   fmt.Errorf("wrap: %v", s).Error(),
	}
	j, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	cases["json"] = string(j)
	y, err := yaml.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	cases["yaml"] = string(y)
	var sbuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&sbuf, nil)).Info("m", "tok", s, "holder", h)
	cases["slog"] = sbuf.String()

	for name, out := range cases {
		if strings.Contains(out, "supersecret") {
			t.Errorf("%s leaked the token: %s", name, out)
		}
		if !strings.Contains(out, secrets.Redacted) {
			t.Errorf("%s does not show %s: %s", name, secrets.Redacted, out)
		}
	}
	if got := s.Reveal(); got != token {
		t.Fatalf("Reveal() = %q, want the token", got)
	}
	if fmt.Sprintf("%q", s) != `"[REDACTED]"` {
		t.Errorf("%%q = %s", fmt.Sprintf("%q", s))
	}
}

func TestSecretDecodesFromYAMLAndJSON(t *testing.T) {
	var v struct {
		T secrets.Secret `yaml:"t" json:"t"`
	}
	if err := yaml.Unmarshal([]byte("t: "+token), &v); err != nil || v.T.Reveal() != token {
		t.Fatalf("yaml: %v %q", err, v.T.Reveal())
	}
	v.T = ""
	if err := json.Unmarshal([]byte(`{"t":"`+token+`"}`), &v); err != nil || v.T.Reveal() != token {
		t.Fatalf("json: %v %q", err, v.T.Reveal())
	}
}

func key(b byte) []byte { return bytes.Repeat([]byte{b}, secrets.KeySize) }

func TestKeyring(t *testing.T) {
	oldRing, err := secrets.NewKeyring(secrets.Key{ID: "k1", Key: key(1)})
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := secrets.NewKeyring(secrets.Key{ID: "k2", Key: key(2)}, secrets.Key{ID: "k1", Key: key(1)})
	if err != nil {
		t.Fatal(err)
	}
	aad := secrets.AAD("tenant-a", "slack_bot_token")
	plain := []byte(token)

	id1, ct1, err := oldRing.Seal(plain, aad)
	if err != nil || id1 != "k1" {
		t.Fatalf("seal with k1: %q %v", id1, err)
	}
	id2, ct2, err := rotated.Seal(plain, aad)
	if err != nil || id2 != "k2" {
		t.Fatalf("seal with k2: %q %v", id2, err)
	}
	if bytes.Contains(ct1, plain) {
		t.Fatal("ciphertext contains the plaintext")
	}
	_, again, _ := oldRing.Seal(plain, aad)
	if bytes.Equal(again, ct1) {
		t.Fatal("two seals gave the same ciphertext: nonce not random")
	}

	tampered := bytes.Clone(ct1)
	tampered[len(tampered)-1] ^= 1

	tests := []struct {
		name    string
		ring    *secrets.Keyring
		keyID   string
		ct, aad []byte
		wantErr error
	}{
		{"roundtrip", oldRing, id1, ct1, aad, nil},
		{"rotation: old key id still opens", rotated, id1, ct1, aad, nil},
		{"rotation: new key opens", rotated, id2, ct2, aad, nil},
		{"tampered ciphertext", oldRing, id1, tampered, aad, secrets.ErrDecrypt},
		{"truncated ciphertext", oldRing, id1, ct1[:5], aad, secrets.ErrDecrypt},
		{"other tenant's aad", oldRing, id1, ct1, secrets.AAD("tenant-b", "slack_bot_token"), secrets.ErrDecrypt},
		{"other secret name", oldRing, id1, ct1, secrets.AAD("tenant-a", "other"), secrets.ErrDecrypt},
		{"length-prefixed aad", oldRing, id1, ct1, secrets.AAD("tenant-as", "lack_bot_token"), secrets.ErrDecrypt},
		{"unknown key id", oldRing, "k2", ct2, aad, secrets.ErrUnknownKey},
		{"wrong key under right id", mustRing(t, secrets.Key{ID: "k1", Key: key(9)}), id1, ct1, aad, secrets.ErrDecrypt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.ring.Open(tt.keyID, tt.ct, tt.aad)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil || !bytes.Equal(got, plain) {
				t.Fatalf("open = %q, %v", got, err)
			}
		})
	}
}

func mustRing(t *testing.T, cur secrets.Key, prev ...secrets.Key) *secrets.Keyring {
	t.Helper()
	k, err := secrets.NewKeyring(cur, prev...)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestKeyringWithoutKey(t *testing.T) {
	k := mustRing(t, secrets.Key{ID: "k1"})
	if k.CanSeal() {
		t.Fatal("CanSeal with no key")
	}
	if _, _, err := k.Seal([]byte("x"), nil); !errors.Is(err, secrets.ErrNoKey) {
		t.Fatalf("Seal err = %v, want ErrNoKey", err)
	}
	if !strings.Contains(secrets.ErrNoKey.Error(), "ACCESSBOT_ENCRYPTION_KEY") {
		t.Fatal("ErrNoKey does not say how to fix it")
	}
}

func TestNewKeyringRejects(t *testing.T) {
	tests := []struct {
		name string
		cur  secrets.Key
		prev []secrets.Key
		want string
	}{
		{"short key", secrets.Key{ID: "k1", Key: []byte("short")}, nil, "must be 32 bytes"},
		{"empty id", secrets.Key{Key: key(1)}, nil, "id must not be empty"},
		{"duplicate id", secrets.Key{ID: "k1", Key: key(1)}, []secrets.Key{{ID: "k1", Key: key(2)}}, "used twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := secrets.NewKeyring(tt.cur, tt.prev...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestKeyringMAC(t *testing.T) {
	old, _ := secrets.NewKeyring(secrets.Key{ID: "k1", Key: bytes.Repeat([]byte{1}, secrets.KeySize)})
	id, mac, err := old.MAC("email-link", []byte("payload"))
	if err != nil || id != "k1" {
		t.Fatalf("MAC: %q, %v", id, err)
	}
	rotated, _ := secrets.NewKeyring(secrets.Key{ID: "k2", Key: bytes.Repeat([]byte{2}, secrets.KeySize)}, secrets.Key{ID: "k1", Key: bytes.Repeat([]byte{1}, secrets.KeySize)})
	for _, tc := range []struct {
		name           string
		k              *secrets.Keyring
		id, purpose, m string
		mac            []byte
		want           bool
	}{
		{"same ring", old, "k1", "email-link", "payload", mac, true},
		{"after rotation, old key", rotated, "k1", "email-link", "payload", mac, true},
		{"other message", old, "k1", "email-link", "payload2", mac, false},
		{"other purpose", old, "k1", "other", "payload", mac, false},
		{"unknown key", old, "k9", "email-link", "payload", mac, false},
		{"truncated mac", old, "k1", "email-link", "payload", mac[:16], false},
	} {
		if got := tc.k.VerifyMAC(tc.id, tc.purpose, []byte(tc.m), tc.mac); got != tc.want {
			t.Errorf("%s: VerifyMAC = %v, want %v", tc.name, got, tc.want)
		}
	}
	if _, _, err := (&secrets.Keyring{}).MAC("x", nil); !errors.Is(err, secrets.ErrNoKey) {
		t.Fatalf("MAC without a key: %v", err)
	}
}
