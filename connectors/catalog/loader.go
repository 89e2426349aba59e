package catalog

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/connectors/outbound"
	"github.com/accessbot/accessbot/internal/secrets"
	"github.com/accessbot/accessbot/store"
)

// Store is what the loader reads; store.Store has it.
type Store interface {
	GetConnector(ctx context.Context, tenantID, name string) (*store.Connector, error)
	ListConnectors(ctx context.Context, tenantID string) ([]store.Connector, error)
	GetSecret(ctx context.Context, tenantID, name string) (*accessbot.Secret, error)
	GetOutboundAllow(ctx context.Context, tenantID string) ([]string, error)
}

// Opener opens sealed secrets; *secrets.Keyring is one.
type Opener interface {
	Open(keyID string, ciphertext, aad []byte) ([]byte, error)
}

// Instance is one connector of a tenant, ready to use.
type Instance struct {
	TenantID string
	Name     string
	Type     string
	Settings map[string]string
	secrets  map[string]secrets.Secret
}

// Secret returns a secret setting ("" when the file declared none).
func (i *Instance) Secret(field string) secrets.Secret { return i.secrets[field] }

// ErrNoConnector: the tenant has no (single) connector the step can use.
// Retrying does not help; the tenant file must change.
var ErrNoConnector = errors.New("no such connector")

// Loader loads connector instances and hands out each tenant's outbound
// client. Safe for concurrent use.
type Loader struct {
	st   Store
	keys Opener
	base outbound.Options

	mu      sync.Mutex
	clients map[string]*outbound.Client // by allow-list
}

// NewLoader builds a Loader; base is every outbound client's options
// (timeouts, and in tests the fakes' CA), the tenant's allow-list added.
func NewLoader(st Store, keys Opener, base outbound.Options) *Loader {
	return &Loader{st: st, keys: keys, base: base, clients: map[string]*outbound.Client{}}
}

// Find returns the tenant's connector called name, which must be of type
// typ; with no name, the tenant's only connector of that type.
func (l *Loader) Find(ctx context.Context, tenantID, typ, name string) (*Instance, error) {
	var c *store.Connector
	if name != "" {
		got, err := l.st.GetConnector(ctx, tenantID, name)
		if errors.Is(err, accessbot.ErrNotFound) {
			return nil, fmt.Errorf("%w: the tenant file declares no connector %q (connectors:)", ErrNoConnector, name)
		}
		if err != nil {
			return nil, fmt.Errorf("load connector %s: %w", name, err)
		}
		if got.Type != typ {
			return nil, fmt.Errorf("%w: connector %q is of type %s, not %s", ErrNoConnector, name, got.Type, typ)
		}
		c = got
	} else {
		all, err := l.st.ListConnectors(ctx, tenantID)
		if err != nil {
			return nil, fmt.Errorf("list connectors: %w", err)
		}
		all = slices.DeleteFunc(all, func(c store.Connector) bool { return c.Type != typ })
		switch len(all) {
		case 0:
			return nil, fmt.Errorf("%w: the tenant file declares no %s connector (connectors:)", ErrNoConnector, typ)
		case 1:
			c = &all[0]
		default:
			names := make([]string, len(all))
			for i, x := range all {
				names[i] = x.Name
			}
			return nil, fmt.Errorf("%w: the tenant has several %s connectors (%s): name one with the script's connector: parameter", ErrNoConnector, typ, strings.Join(names, ", "))
		}
	}
	in := &Instance{TenantID: tenantID, Name: c.Name, Type: c.Type, Settings: c.Settings, secrets: map[string]secrets.Secret{}}
	for k := range c.Settings {
		field, ok := strings.CutSuffix(k, "_env")
		if !ok {
			continue
		}
		sn := store.ConnectorSecretName(c.Name, field)
		s, err := l.st.GetSecret(ctx, tenantID, sn)
		if err != nil {
			return nil, fmt.Errorf("load the %s of connector %s: %w", field, c.Name, err)
		}
		plain, err := l.keys.Open(s.KeyID, s.Ciphertext, secrets.AAD(tenantID, sn))
		if err != nil {
			return nil, fmt.Errorf("open the %s of connector %s: %w", field, c.Name, err)
		}
		in.secrets[field] = secrets.Secret(plain)
	}
	return in, nil
}

// HTTP returns the outbound client of the tenant's allow-list. Clients are
// shared between tenants with the same list, never across lists (a pooled
// connection is not dial-checked again).
func (l *Loader) HTTP(ctx context.Context, tenantID string) (*outbound.Client, error) {
	entries, err := l.st.GetOutboundAllow(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("load outbound allow-list: %w", err)
	}
	key := strings.Join(entries, "\n")
	l.mu.Lock()
	defer l.mu.Unlock()
	if c, ok := l.clients[key]; ok {
		return c, nil
	}
	allow, err := outbound.ParseAllowlist(entries)
	if err != nil {
		return nil, fmt.Errorf("outbound allow-list: %w", err)
	}
	o := l.base
	o.Allow.CIDRs = append(slices.Clone(o.Allow.CIDRs), allow.CIDRs...)
	o.Allow.Hosts = append(slices.Clone(o.Allow.Hosts), allow.Hosts...)
	c := outbound.New(o)
	l.clients[key] = c
	return c, nil
}
