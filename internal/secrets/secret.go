// Package secrets keeps credentials out of logs and encrypts them at rest.
package secrets

import (
	"encoding/json"
	"fmt"
	"log/slog"
)

// Redacted is what every printed or encoded Secret looks like.
const Redacted = "[REDACTED]"

// Secret is a credential (token, DSN, key). Every way of printing or encoding
// it yields [REDACTED]; Reveal is the one way to read it, so a use is easy to
// find in review. A plain string(s) conversion defeats this: don't.
type Secret string

var (
	_ fmt.Stringer   = Secret("")
	_ fmt.GoStringer = Secret("")
	_ fmt.Formatter  = Secret("")
	_ json.Marshaler = Secret("")
	_ slog.LogValuer = Secret("")
)

// Reveal returns the value.
func (s Secret) Reveal() string { return string(s) }

// IsSet reports whether the secret is not empty.
func (s Secret) IsSet() bool { return s != "" }

func (s Secret) String() string   { return Redacted }
func (s Secret) GoString() string { return Redacted }

// Format makes every verb (%v %s %q %x %#v …) print the redaction.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprintf(f, "%q", Redacted)
		return
	}
	fmt.Fprint(f, Redacted)
}

func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(Redacted) }

// MarshalText also covers yaml.v3 and JSON map keys.
func (s Secret) MarshalText() ([]byte, error) { return []byte(Redacted), nil }

func (s Secret) LogValue() slog.Value { return slog.StringValue(Redacted) }
