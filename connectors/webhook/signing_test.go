package webhook

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/accessbot/accessbot/internal/secrets"
)

// The vector is the one the Standard Webhooks reference libraries test
// against (standard-webhooks/standard-webhooks, libraries/*/ "sign" tests:
// the same key, id, timestamp, payload and expected signature in Go, Java,
// C# and JavaScript).
const (
	vecSecret    = secrets.Secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	vecID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vecTimestamp = 1614265330
	vecPayload   = `{"test": 2432232314}`
	vecSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestSignKnownVector(t *testing.T) {
	t.Parallel()
	for _, sec := range []secrets.Secret{vecSecret, secrets.Secret(strings.TrimPrefix(string(vecSecret), SecretPrefix))} {
		s, err := NewSigner(sec)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Sign(vecID, time.Unix(vecTimestamp, 0), []byte(vecPayload)); got != vecSignature {
			t.Fatalf("Sign = %s; want %s", got, vecSignature)
		}
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	now := time.Unix(vecTimestamp, 0)
	other := secrets.Secret("whsec_" + "c2Vjb25kLXNlY3JldC1mb3Itcm90YXRpb24=")
	valid := func() http.Header {
		h := http.Header{}
		h.Set(HeaderID, vecID)
		h.Set(HeaderTimestamp, strconv.Itoa(vecTimestamp))
		h.Set(HeaderSignature, vecSignature)
		return h
	}
	const wrongSig = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="
	for _, tc := range []struct {
		name    string
		keys    []secrets.Secret
		modify  func(h http.Header) http.Header
		body    string
		skew    time.Duration
		wantErr error
	}{
		{name: "valid", modify: func(h http.Header) http.Header { return h }},
		{name: "missing id", modify: func(h http.Header) http.Header { h.Del(HeaderID); return h }, wantErr: ErrMissingHeaders},
		{name: "missing timestamp", modify: func(h http.Header) http.Header { h.Del(HeaderTimestamp); return h }, wantErr: ErrMissingHeaders},
		{name: "missing signature", modify: func(h http.Header) http.Header { h.Del(HeaderSignature); return h }, wantErr: ErrMissingHeaders},
		{name: "wrong signature", modify: func(h http.Header) http.Header { h.Set(HeaderSignature, wrongSig); return h }, wantErr: ErrSignature},
		{name: "partial signature", modify: func(h http.Header) http.Header { h.Set(HeaderSignature, "v1,"); return h }, wantErr: ErrSignature},
		{name: "other version only", modify: func(h http.Header) http.Header {
			h.Set(HeaderSignature, "v2,"+strings.TrimPrefix(vecSignature, "v1,"))
			return h
		}, wantErr: ErrSignature},
		{name: "several, one valid", modify: func(h http.Header) http.Header {
			h.Set(HeaderSignature, wrongSig+" v2,abc "+vecSignature+" v1a,xyz")
			return h
		}},
		{name: "tampered body", body: `{"test": 2432232315}`, modify: func(h http.Header) http.Header { return h }, wantErr: ErrSignature},
		{name: "tampered id", modify: func(h http.Header) http.Header { h.Set(HeaderID, vecID+"x"); return h }, wantErr: ErrSignature},
		{name: "wrong key", keys: []secrets.Secret{other}, modify: func(h http.Header) http.Header { return h }, wantErr: ErrSignature},
		{name: "any of several keys", keys: []secrets.Secret{other, vecSecret}, modify: func(h http.Header) http.Header { return h }},
		{name: "too old", skew: 5*time.Minute + time.Second, modify: func(h http.Header) http.Header { return h }, wantErr: ErrTimestamp},
		{name: "too new", skew: -5*time.Minute - time.Second, modify: func(h http.Header) http.Header { return h }, wantErr: ErrTimestamp},
		{name: "within tolerance", skew: 4 * time.Minute, modify: func(h http.Header) http.Header { return h }},
		{name: "timestamp not a number", modify: func(h http.Header) http.Header { h.Set(HeaderTimestamp, "yesterday"); return h }, wantErr: ErrTimestamp},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys := tc.keys
			if keys == nil {
				keys = []secrets.Secret{vecSecret}
			}
			v, err := NewVerifier(keys...)
			if err != nil {
				t.Fatal(err)
			}
			v.Now = func() time.Time { return now.Add(tc.skew) }
			body := vecPayload
			if tc.body != "" {
				body = tc.body
			}
			err = v.Verify(tc.modify(valid()), []byte(body))
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("Verify = %v; want %v", err, tc.wantErr)
			}
		})
	}
}

// During a rotation the sender signs with both secrets, so a receiver that
// knows only the old one or only the new one accepts.
func TestRotation(t *testing.T) {
	t.Parallel()
	oldS, newS := vecSecret, secrets.Secret("whsec_bmV3LXNlY3JldC1hZnRlci1yb3RhdGlvbg==")
	s, err := NewSigner(newS, oldS)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	h := http.Header{}
	h.Set(HeaderID, "msg_1")
	h.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	h.Set(HeaderSignature, s.Sign("msg_1", now, []byte("{}")))
	if n := len(strings.Fields(h.Get(HeaderSignature))); n != 2 {
		t.Fatalf("%d signatures; want 2", n)
	}
	for _, k := range []secrets.Secret{oldS, newS} {
		v, _ := NewVerifier(k)
		if err := v.Verify(h, []byte("{}")); err != nil {
			t.Fatalf("verifier with one of the keys: %v", err)
		}
	}
}

func TestBadSecretNotInError(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"", "whsec_", "whsec_not*base64!", "whsec_" + "%%%hunter2%%%"} {
		_, err := NewSigner(secrets.Secret(bad))
		if err == nil {
			t.Fatalf("NewSigner(%q) accepted", bad)
		}
		if bad != "" && bad != "whsec_" && strings.Contains(err.Error(), strings.TrimPrefix(bad, "whsec_")) {
			t.Fatalf("error %q contains the secret", err)
		}
	}
}

func TestMessageID(t *testing.T) {
	t.Parallel()
	a, b := MessageID("flow-1", "step-2"), MessageID("flow-1", "step-2")
	if a != b || !idPattern.MatchString(a) {
		t.Fatalf("MessageID not stable or not a valid id: %q %q", a, b)
	}
	if MessageID("flow-1", "step-3") == a || MessageID("flow-1step-2") == a {
		t.Fatal("different events share an id")
	}
}
