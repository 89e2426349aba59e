package apiconn_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/connectors/apiconn"
	"github.com/accessbot/accessbot/connectors/outbound"
	"github.com/accessbot/accessbot/flows/provision"
	"github.com/accessbot/accessbot/internal/secrets"
	"github.com/accessbot/accessbot/store"
)

// fakeStore is one tenant's connectors, secrets and allow-list.
type fakeStore struct {
	conns   []store.Connector
	secrets map[string]*accessbot.Secret
	allow   []string
}

func (f *fakeStore) GetConnector(_ context.Context, _, name string) (*store.Connector, error) {
	for _, c := range f.conns {
		if c.Name == name {
			return &c, nil
		}
	}
	return nil, accessbot.ErrNotFound
}

func (f *fakeStore) ListConnectors(context.Context, string) ([]store.Connector, error) {
	return f.conns, nil
}

func (f *fakeStore) GetSecret(_ context.Context, _, name string) (*accessbot.Secret, error) {
	if s := f.secrets[name]; s != nil {
		return s, nil
	}
	return nil, accessbot.ErrNotFound
}

func (f *fakeStore) GetOutboundAllow(context.Context, string) ([]string, error) { return f.allow, nil }

func TestFind(t *testing.T) {
	t.Parallel()
	one := []store.Connector{{Name: "entra", Type: "azuread"}, {Name: "hooks", Type: "webhook"}}
	two := append([]store.Connector{{Name: "entra2", Type: "azuread"}}, one...)
	cases := []struct {
		name, label string
		conns       []store.Connector
		want        string // the connector found, or a part of the error
	}{
		{"by name", "entra", two, "entra"},
		{"the only one of the type", "azuread", one, "entra"},
		{"a name of another type", "hooks", one, "connector hooks is of type webhook, not azuread"},
		{"none of the type", "azuread", one[1:], "the tenant has no azuread connector"},
		{"several, none named", "azuread", two, `the tenant has 2 azuread connectors and none is named "azuread"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := apiconn.Find(context.Background(), &fakeStore{conns: c.conns}, "t1", "azuread", c.label)
			if err != nil {
				if !strings.Contains(err.Error(), c.want) {
					t.Fatalf("err = %v, want %q", err, c.want)
				}
				return
			}
			if got.Name != c.want {
				t.Fatalf("found %s, want %s", got.Name, c.want)
			}
		})
	}
}

func TestOpen(t *testing.T) {
	t.Parallel()
	keys, err := secrets.NewKeyring(secrets.Key{ID: "k1", Key: bytes.Repeat([]byte{7}, secrets.KeySize)})
	if err != nil {
		t.Fatal(err)
	}
	c := &store.Connector{TenantID: "t1", Name: "dir", Type: "scim"}
	sn := store.ConnectorSecretName("dir", "token")
	kid, ct, err := keys.Seal([]byte("s3cret"), secrets.AAD("t1", sn))
	if err != nil {
		t.Fatal(err)
	}
	st := &fakeStore{secrets: map[string]*accessbot.Secret{sn: {TenantID: "t1", Name: sn, KeyID: kid, Ciphertext: ct}}, allow: []string{"127.0.0.1"}}
	tok, hc, err := apiconn.Open(context.Background(), st, keys, c, "token", outbound.Options{Timeout: time.Second})
	if err != nil || tok.Reveal() != "s3cret" || hc == nil {
		t.Fatalf("Open = %v, %v, %v; want the token and a client", tok, hc, err)
	}
	if _, _, err := apiconn.Open(context.Background(), st, keys, c, "client_secret", outbound.Options{}); err == nil ||
		!strings.Contains(err.Error(), "connector dir: client_secret:") {
		t.Fatalf("missing secret: err = %v", err)
	}
	st.allow = []string{"not an address/99"}
	if _, _, err := apiconn.Open(context.Background(), st, keys, c, "token", outbound.Options{}); err == nil ||
		!strings.Contains(err.Error(), "outbound allow-list") {
		t.Fatalf("bad allow-list: err = %v", err)
	}
}

// TestClientsKeepsOnePerConnector: a client is built once per connector
// and built again when the connector changes.
func TestClientsKeepsOnePerConnector(t *testing.T) {
	t.Parallel()
	st := &fakeStore{conns: []store.Connector{{Name: "dir", Type: "scim", UpdatedAt: time.Unix(1, 0)}}}
	builds := 0
	cs := apiconn.NewClients(st, "scim", func(_ context.Context, c *store.Connector) (string, error) {
		builds++
		return c.Name + "@" + c.UpdatedAt.Format(time.RFC3339), nil
	})
	var s provision.Step // no connector: label: the type's only connector
	for range 3 {
		if _, err := cs.For(context.Background(), s); err != nil {
			t.Fatal(err)
		}
	}
	st.conns[0].UpdatedAt = time.Unix(2, 0)
	s.Fields.Application.Connector = "dir"
	got, err := cs.For(context.Background(), s)
	if err != nil || builds != 2 || !strings.HasPrefix(got, "dir@1970-01-01T00:00:02") {
		t.Fatalf("after a change: %q, %v, %d builds; want the new one, 2 builds", got, err, builds)
	}
}

type retryable bool

func (r retryable) Error() string   { return "answer" }
func (r retryable) Retryable() bool { return bool(r) }

func TestRunClassifiesErrors(t *testing.T) {
	t.Parallel()
	ok := func(context.Context, provision.Step) (int, error) { return 1, nil }
	cases := []struct {
		name      string
		step      provision.Step
		client    func(context.Context, provision.Step) (int, error)
		runErr    error
		permanent bool
		errPart   string
	}{
		{"done", provision.Step{Kind: provision.KindProviderAPI, Provider: "scim"}, ok, nil, false, ""},
		{"another provider", provision.Step{Kind: provision.KindProviderAPI, Provider: "azuread", Type: "azuread_api_x"}, ok, nil, true, `scim: step "azuread_api_x"`},
		{"no client", provision.Step{Kind: provision.KindProviderAPI, Provider: "scim", Type: "scim_api_x"},
			func(context.Context, provision.Step) (int, error) { return 0, errors.New("no connector") }, nil, true, "scim: scim_api_x: no connector"},
		{"retryable", provision.Step{Kind: provision.KindProviderAPI, Provider: "scim"}, ok, retryable(true), false, "answer"},
		{"not retryable", provision.Step{Kind: provision.KindProviderAPI, Provider: "scim"}, ok, retryable(false), true, "answer"},
		{"no answer at all", provision.Step{Kind: provision.KindProviderAPI, Provider: "scim"}, ok, errors.New("bad params"), true, "bad params"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := apiconn.Run(context.Background(), c.step, "scim", c.client, func(context.Context, int, provision.Step) (provision.Result, error) {
				return provision.Result{}, c.runErr
			})
			if (err != nil) != (c.errPart != "") || (err != nil && !strings.Contains(err.Error(), c.errPart)) {
				t.Fatalf("err = %v, want one with %q", err, c.errPart)
			}
			if provision.IsPermanent(err) != c.permanent {
				t.Fatalf("permanent = %v, want %v (%v)", provision.IsPermanent(err), c.permanent, err)
			}
		})
	}
}

// answerErr is a connector error with its server's answer.
type answerErr struct {
	status int
	after  time.Duration
}

func (e answerErr) Error() string { return http.StatusText(e.status) }

func TestRetryDo(t *testing.T) {
	t.Parallel()
	throttled, busy := answerErr{status: 429, after: 3 * time.Second}, answerErr{status: 503}
	cases := []struct {
		name  string
		tries []error // each try's error, in order
		want  error
		runs  int
		waits []time.Duration
	}{
		{"first try", []error{nil}, nil, 1, nil},
		{"Retry-After, then a doubling backoff", []error{throttled, busy, busy, nil}, nil, 4, []time.Duration{3 * time.Second, time.Second, 2 * time.Second}},
		{"out of tries", []error{busy, busy, busy, busy, nil}, busy, 4, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}},
		{"not throttled", []error{answerErr{status: 404}, nil}, answerErr{status: 404}, 1, nil},
		{"no answer", []error{errors.New("dial refused"), nil}, errors.New("dial refused"), 1, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var waits []time.Duration
			r := apiconn.Retry{Attempts: 4, Statuses: []int{429, 503}, Log: zerolog.Nop(),
				Answer: func(err error) (int, time.Duration) {
					var e answerErr
					if errors.As(err, &e) {
						return e.status, e.after
					}
					return 0, 0
				},
				Sleep: func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }}
			runs := 0
			err := r.Do(context.Background(), "read users", func() error { runs++; return c.tries[runs-1] })
			if (err == nil) != (c.want == nil) || (err != nil && err.Error() != c.want.Error()) || runs != c.runs ||
				len(waits) != len(c.waits) {
				t.Fatalf("Do = %v after %d tries, waits %v; want %v after %d, waits %v", err, runs, waits, c.want, c.runs, c.waits)
			}
			for i := range waits {
				if waits[i] != c.waits[i] {
					t.Fatalf("waits %v, want %v", waits, c.waits)
				}
			}
		})
	}
	t.Run("wait cut short", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		r := apiconn.Retry{Attempts: 4, Statuses: []int{503}, Sleep: apiconn.SleepCtx, Log: zerolog.Nop(),
			Answer:      func(error) (int, time.Duration) { return 503, time.Hour },
			Interrupted: func(op string, err error) error { return errors.Join(errors.New(op), err) }}
		err := r.Do(ctx, "read users", func() error { return busy })
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "read users") {
			t.Fatalf("err = %v, want the op and context.Canceled", err)
		}
	})
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	cases := map[string]time.Duration{"": 0, "3": 3 * time.Second, " 7 ": 7 * time.Second, "-1": 0, "soon": 0,
		time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat): 0}
	for v, want := range cases {
		if got := apiconn.RetryAfter(v); got != want {
			t.Errorf("RetryAfter(%q) = %s, want %s", v, got, want)
		}
	}
	if got := apiconn.RetryAfter(time.Now().Add(time.Minute).UTC().Format(http.TimeFormat)); got <= 0 || got > time.Minute {
		t.Errorf("a date a minute away: %s", got)
	}
}

func TestScrub(t *testing.T) {
	t.Parallel()
	err := apiconn.Scrub(errors.New(`Get "https://x/?t=tok123": refused`), "tok123")
	if strings.Contains(err.Error(), "tok123") || !strings.Contains(err.Error(), secrets.Redacted) {
		t.Fatalf("scrubbed: %v", err)
	}
}
