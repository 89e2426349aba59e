package runners

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/connectors/catalog"
	"github.com/accessbot/accessbot/connectors/outbound"
	"github.com/accessbot/accessbot/flows/provision"
	"github.com/accessbot/accessbot/internal/secrets"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/backend"
)

// env is one tenant in a real SQLite store, with a key ring, a catalog
// over both and a log every test checks for secrets.
type env struct {
	t      *testing.T
	st     store.Store
	keys   *secrets.Keyring
	tenant *accessbot.Tenant
	cat    *catalog.Loader
	logs   *syncBuf
	log    zerolog.Logger
	secret []string // values that must never show
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// shared is one migrated SQLite store for the package: every env is a new
// tenant in it (opening a store per test costs seconds under -race).
var shared struct {
	once sync.Once
	st   store.Store
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.st != nil {
		shared.st.Close()
		os.RemoveAll(sharedDir)
	}
	os.Exit(code)
}

var sharedDir string

func sharedStore(t *testing.T) store.Store {
	t.Helper()
	shared.once.Do(func() {
		if sharedDir, shared.err = os.MkdirTemp("", "runners-test-"); shared.err != nil {
			return
		}
		shared.st, shared.err = backend.Open(context.Background(), backend.SQLite, "file:"+filepath.Join(sharedDir, "accessbot.db"), zerolog.Nop())
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.st
}

func newEnv(t *testing.T, base outbound.Options) *env {
	t.Helper()
	st := sharedStore(t)
	key := make([]byte, secrets.KeySize)
	_, _ = rand.Read(key)
	keys, err := secrets.NewKeyring(secrets.Key{ID: "k1", Key: key})
	if err != nil {
		t.Fatal(err)
	}
	ten := &accessbot.Tenant{Slug: "acme-" + strings.ToLower(rand.Text()[:6]), Name: "Acme"}
	if err := st.CreateTenant(context.Background(), ten); err != nil {
		t.Fatal(err)
	}
	if base.DialTimeout == 0 {
		base.DialTimeout = 300 * time.Millisecond
	}
	e := &env{t: t, st: st, keys: keys, tenant: ten, logs: &syncBuf{}}
	e.log = zerolog.New(e.logs)
	e.cat = catalog.NewLoader(st, keys, base)
	t.Cleanup(func() {
		for _, s := range e.secret {
			if strings.Contains(e.logs.String(), s) {
				t.Errorf("secret %q is in the log:\n%s", s, e.logs.String())
			}
		}
	})
	return e
}

// connector stores a connector as apply would: settings plain, secrets sealed.
func (e *env) connector(name, typ string, settings map[string]string, sec map[string]string) {
	e.t.Helper()
	ctx := context.Background()
	s := map[string]string{}
	for k, v := range settings {
		s[k] = v
	}
	for k, v := range sec {
		s[k+"_env"] = strings.ToUpper(name + "_" + k)
		sn := store.ConnectorSecretName(name, k)
		id, ct, err := e.keys.Seal([]byte(v), secrets.AAD(e.tenant.ID, sn))
		if err != nil {
			e.t.Fatal(err)
		}
		if err := e.st.PutSecret(ctx, &accessbot.Secret{TenantID: e.tenant.ID, Name: sn, KeyID: id, Ciphertext: ct}); err != nil {
			e.t.Fatal(err)
		}
		e.secret = append(e.secret, v)
	}
	if err := e.st.PutConnector(ctx, &store.Connector{TenantID: e.tenant.ID, Name: name, Type: typ, Settings: s}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) allow(entries ...string) {
	e.t.Helper()
	if err := e.st.PutOutboundAllow(context.Background(), e.tenant.ID, entries); err != nil {
		e.t.Fatal(err)
	}
}

// noSecret fails when err's text holds a connector secret.
func (e *env) noSecret(err error) {
	e.t.Helper()
	if err == nil {
		return
	}
	for _, s := range e.secret {
		if strings.Contains(err.Error(), s) {
			e.t.Fatalf("error %q holds a secret", err)
		}
	}
}

func (e *env) step(typ string, index int, params map[string]string) provision.Step {
	e.t.Helper()
	k, prov, op, err := provision.ParseType(typ)
	if err != nil {
		e.t.Fatal(err)
	}
	return provision.Step{TenantID: e.tenant.ID, FlowID: "flow-1", Index: index, Type: typ, Kind: k, Provider: prov, Op: op,
		Params: params, Key: "flow-1_" + string(rune('0'+index)), Attempt: 1}
}
