// Package apiconn is what the API connectors that reach a directory with a
// stored secret (azuread, scim) share: finding the tenant's connector an
// application's connector: label means, opening its sealed secret with the
// outbound HTTP client under the tenant's allow-list, keeping one client
// per connector for the provisioning runner, running a step with it,
// sending a call with its bearer token (Send), and retrying the calls a
// server throttled.
package apiconn

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/connectors/outbound"
	"github.com/accessbot/accessbot/flows/provision"
	"github.com/accessbot/accessbot/internal/secrets"
	"github.com/accessbot/accessbot/store"
)

// Store is what finding and opening a stored connector needs; store.Store is one.
type Store interface {
	GetConnector(ctx context.Context, tenantID, name string) (*store.Connector, error)
	ListConnectors(ctx context.Context, tenantID string) ([]store.Connector, error)
	GetSecret(ctx context.Context, tenantID, name string) (*accessbot.Secret, error)
	GetOutboundAllow(ctx context.Context, tenantID string) ([]string, error)
}

// Find picks the connector of type typ that an application's connector:
// label means: the tenant's connector of that name, else its only one of
// that type.
func Find(ctx context.Context, q Store, tenantID, typ, label string) (*store.Connector, error) {
	c, err := q.GetConnector(ctx, tenantID, label)
	if err == nil {
		if c.Type != typ {
			return nil, fmt.Errorf("connector %s is of type %s, not %s", label, c.Type, typ)
		}
		return c, nil
	}
	if !errors.Is(err, accessbot.ErrNotFound) {
		return nil, err
	}
	all, err := q.ListConnectors(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	var found []store.Connector
	for _, x := range all {
		if x.Type == typ {
			found = append(found, x)
		}
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("the tenant has no %s connector: declare one under connectors: in the tenant file (docs/entra-id.md)", typ)
	case 1:
		return &found[0], nil
	}
	return nil, fmt.Errorf("the tenant has %d %s connectors and none is named %q: set the application's connector: to one of their names", len(found), typ, label)
}

// Open opens connector c's sealed setting field (its token, its
// client_secret) with keys, and builds the HTTP client that reaches the
// server through the outbound client under the tenant's allow-list, with
// o's bounds (o.Allow is replaced by the tenant's).
func Open(ctx context.Context, q Store, keys *secrets.Keyring, c *store.Connector, field string, o outbound.Options) (secrets.Secret, *http.Client, error) {
	sn := store.ConnectorSecretName(c.Name, field)
	sec, err := q.GetSecret(ctx, c.TenantID, sn)
	if err != nil {
		return "", nil, fmt.Errorf("connector %s: %s: %w", c.Name, field, err)
	}
	plain, err := keys.Open(sec.KeyID, sec.Ciphertext, secrets.AAD(c.TenantID, sn))
	if err != nil {
		return "", nil, fmt.Errorf("connector %s: open %s: %w", c.Name, field, err)
	}
	entries, err := q.GetOutboundAllow(ctx, c.TenantID)
	if err != nil {
		return "", nil, err
	}
	allow, err := outbound.ParseAllowlist(entries)
	if err != nil {
		return "", nil, fmt.Errorf("outbound allow-list: %w", err)
	}
	o.Allow = allow
	return secrets.Secret(plain), outbound.New(o).HTTPClient(), nil
}

// Clients hands out the client of the connector of type Type that a
// step's application's connector: label names (the type itself when the
// label is empty), building it once and keeping it while the connector is
// unchanged (so a token it holds is reused). Safe for concurrent use.
type Clients[C any] struct {
	q     Store
	typ   string
	build func(ctx context.Context, c *store.Connector) (C, error)

	mu    sync.Mutex
	cache map[string]cached[C] // tenant id + "\x00" + connector name
}

type cached[C any] struct {
	c  C
	at time.Time // the connector's UpdatedAt when c was built
}

// NewClients returns the clients of connectors of type typ, each built by build.
func NewClients[C any](q Store, typ string, build func(ctx context.Context, c *store.Connector) (C, error)) *Clients[C] {
	return &Clients[C]{q: q, typ: typ, build: build, cache: map[string]cached[C]{}}
}

// For returns the client of step s's connector.
func (cs *Clients[C]) For(ctx context.Context, s provision.Step) (C, error) {
	var zero C
	label := s.Fields.Application.Connector
	if label == "" {
		label = cs.typ
	}
	c, err := Find(ctx, cs.q, s.TenantID, cs.typ, label)
	if err != nil {
		return zero, err
	}
	key := s.TenantID + "\x00" + c.Name
	cs.mu.Lock()
	hit, ok := cs.cache[key]
	cs.mu.Unlock()
	if ok && hit.at.Equal(c.UpdatedAt) {
		return hit.c, nil
	}
	cl, err := cs.build(ctx, c)
	if err != nil {
		return zero, err
	}
	cs.mu.Lock()
	cs.cache[key] = cached[C]{c: cl, at: c.UpdatedAt}
	cs.mu.Unlock()
	return cl, nil
}

// Run carries out step s of provider's scripts (provider_api_*): it gets
// the step's client, then runs it. A step of another kind or provider, a
// client that cannot be had, and an error whose Retryable method (found
// with errors.As) does not say true, are provision.Permanent: a retry
// would meet them again.
func Run[C any](ctx context.Context, s provision.Step, provider string, client func(context.Context, provision.Step) (C, error),
	run func(context.Context, C, provision.Step) (provision.Result, error)) (provision.Result, error) {
	if s.Kind != provision.KindProviderAPI || s.Provider != provider {
		return provision.Result{}, provision.Permanent(fmt.Errorf("%s: step %q: %w", provider, s.Type, provision.ErrUnknownScript))
	}
	c, err := client(ctx, s)
	if err != nil {
		return provision.Result{}, provision.Permanent(fmt.Errorf("%s: %s: %w", provider, s.Type, err))
	}
	res, err := run(ctx, c, s)
	if err != nil {
		var r interface{ Retryable() bool }
		if !errors.As(err, &r) || !r.Retryable() {
			err = provision.Permanent(err)
		}
		return provision.Result{}, err
	}
	return res, nil
}
