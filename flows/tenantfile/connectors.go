package tenantfile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/connectors/catalog"
	"github.com/accessbot/accessbot/connectors/outbound"
	"github.com/accessbot/accessbot/internal/secrets"
	"github.com/accessbot/accessbot/store"
)

// ConnectorDecl is one connector instance of the connectors: section:
//
//	outbound:
//	  allow: [10.20.0.0/16, hooks.corp.internal]   # beyond public https
//	connectors:
//	  - name: hooks
//	    type: webhook
//	    url: https://hooks.example.com/accessbot/{endpoint}
//	    bearer_env: HOOKS_TOKEN                    # a secret: only the variable's name
//	    signing_secret_env: HOOKS_SIGNING_SECRET
//
// Secrets are read from the named environment variables by apply and stored
// sealed with the key ring; the file never holds them. When the file has a
// connectors: key its list is the tenant's complete set.
type ConnectorDecl struct {
	Name     string
	Type     string
	Settings map[string]string // plain settings
	Env      map[string]string // secret field → environment variable name
	at       loc
	fieldAt  map[string]loc
}

// Outbound is the outbound: section: the tenant's allow-list.
type Outbound struct {
	Allow []string
	at    loc
}

func (d *decoder) decodeOutbound(top fields, f *File) {
	if !top.has("outbound") {
		return
	}
	l := top.loc("outbound")
	m := d.mapping(top.vals["outbound"], l, "allow")
	al := m.loc("allow")
	o := &Outbound{Allow: []string{}, at: l}
	for i, n := range d.seq(m.vals["allow"], al) {
		n = resolve(n)
		p := index(al.path, i)
		if n.Kind != yaml.ScalarNode || strings.TrimSpace(n.Value) == "" {
			d.errorf(n.Line, p, "want a CIDR, an IP address or a host name, found %s", kindName(n))
			continue
		}
		v := strings.TrimSpace(n.Value)
		if _, err := outbound.ParseAllowlist([]string{v}); err != nil {
			d.errorf(n.Line, p, "%q: want a CIDR (10.0.0.0/8), an IP address or a host name", v)
			continue
		}
		o.Allow = append(o.Allow, v)
	}
	f.Outbound = o
}

func (d *decoder) decodeConnectors(top fields, f *File) {
	if _, ok := top.vals["connectors"]; !ok {
		return
	}
	f.Connectors = []ConnectorDecl{}
	// Every key of every type is known to the mapping, and each secret's
	// bare key too, so a literal secret gets its own message below.
	known := []string{"name", "type"}
	for _, t := range catalog.Types() {
		for _, fl := range t.Fields {
			known = append(known, fl.Key)
			if fl.Secret {
				known = append(known, fl.EnvKey())
			}
		}
	}
	slices.Sort(known)
	known = slices.Compact(known)
	cl := top.loc("connectors")
	seen := map[string]int{}
	for i, n := range d.seq(top.vals["connectors"], cl) {
		at := loc{line: resolve(n).Line, path: index("connectors", i)}
		m := d.mapping(n, at, known...)
		c := ConnectorDecl{Name: d.required(m, "name"), Settings: map[string]string{}, Env: map[string]string{}, at: at, fieldAt: map[string]loc{}}
		nl := m.loc("name")
		if c.Name != "" {
			if err := catalog.CheckName(c.Name); err != nil {
				d.errorf(nl.line, nl.path, "%v", err)
			} else if first, dup := seen[c.Name]; dup {
				d.errorf(nl.line, nl.path, "duplicate connector %q (first at line %d)", c.Name, first)
			}
			seen[c.Name] = nl.line
		}
		tl := m.loc("type")
		typ := d.required(m, "type")
		t, ok := catalog.Lookup(typ)
		switch {
		case typ == "":
			f.Connectors = append(f.Connectors, c)
			continue
		case !ok:
			d.errorf(tl.line, tl.path, "%q is not a connector type (available: %s)", typ, strings.Join(catalog.Names(), ", "))
			continue
		}
		c.Type = t.Name
		keys := slices.Sorted(maps.Keys(m.vals))
		for _, k := range keys {
			if k == "name" || k == "type" {
				continue
			}
			kl := m.loc(k)
			fd, ok := t.Field(k)
			switch {
			case !ok:
				d.errorf(kl.line, kl.path, "not a setting of a %s connector (its settings: %s)", t.Name, strings.Join(t.Keys(), ", "))
				continue
			case fd.Secret && k == fd.Key:
				// The value is not repeated: it is the secret.
				d.errorf(kl.line, kl.path, "a secret is never written in the tenant file: put it in an environment variable and write %s: VARIABLE_NAME", fd.EnvKey())
				continue
			}
			v := d.str(m, k)
			c.fieldAt[fd.Key] = kl
			if fd.Secret {
				if err := catalog.CheckEnvName(v); err != nil {
					d.errorf(kl.line, kl.path, "%v", err)
					continue
				}
				c.Env[fd.Key] = v
				continue
			}
			if err := fd.Check(v); err != nil {
				d.errorf(kl.line, kl.path, "%v", err)
				continue
			}
			c.Settings[fd.Key] = v
		}
		for _, fd := range t.Fields {
			_, plain := c.Settings[fd.Key]
			_, env := c.Env[fd.Key]
			if fd.Required && !plain && !env && c.fieldAt[fd.Key] == (loc{}) {
				k := fd.Key
				if fd.Secret {
					k = fd.EnvKey()
				}
				d.errorf(at.line, at.field(k), "required for a %s connector", t.Name)
			}
		}
		if t.Name == catalog.Email && c.Settings["tls"] == "none" && c.Settings["username"] != "" {
			ul := c.fieldAt["username"]
			d.errorf(ul.line, ul.path, "a username with tls: none would send the password in clear text")
		}
		f.Connectors = append(f.Connectors, c)
	}
}

// SecretKeys seal and open connector secrets; *secrets.Keyring is one.
type SecretKeys interface {
	CanSeal() bool
	Seal(plaintext, aad []byte) (keyID string, ciphertext []byte, err error)
	Open(keyID string, ciphertext, aad []byte) ([]byte, error)
}

// planConnectors brings the tenant's outbound allow-list and connectors in
// line with the file. Secrets are compared opened and shown only as
// "changed"; their values never reach the diff, the audit log or an error.
func (p *planner) planConnectors(ctx context.Context) error {
	tid := p.tenant.ID
	if o := p.f.Outbound; o != nil {
		cur, err := p.q.GetOutboundAllow(ctx, tid)
		if err != nil {
			return fmt.Errorf("read outbound allow-list of tenant %s: %w", p.tenant.Slug, err)
		}
		if !slices.Equal(cur, o.Allow) {
			want := slices.Clone(o.Allow)
			var df diff
			df.ref("allow", "["+strings.Join(cur, " ")+"]", "["+strings.Join(want, " ")+"]")
			c := p.change(&Change{Op: OpUpdate, Kind: "outbound", Name: p.tenant.Slug, Fields: df, at: o.at, before: cur, after: want,
				objectID: func() string { return tid }})
			c.add(phaseSchedules, 0, func(ctx context.Context, q store.Queries) error { return q.PutOutboundAllow(ctx, tid, want) })
		}
	}
	if p.f.Connectors == nil {
		return nil
	}
	current, err := p.q.ListConnectors(ctx, tid)
	if err != nil {
		return fmt.Errorf("list connectors of tenant %s: %w", p.tenant.Slug, err)
	}
	byName := map[string]*store.Connector{}
	for i := range current {
		byName[current[i].Name] = &current[i]
	}
	for _, decl := range p.f.Connectors {
		if err := p.planConnector(ctx, decl, byName[decl.Name]); err != nil {
			return err
		}
		delete(byName, decl.Name)
	}
	for _, name := range slices.Sorted(maps.Keys(byName)) {
		cur := byName[name]
		c := p.change(&Change{Op: OpDelete, Kind: "connector", Name: name, at: loc{line: 0, path: "connectors"}, before: cur,
			objectID: func() string { return name }})
		c.add(phaseSchedules, 0, func(ctx context.Context, q store.Queries) error {
			for _, k := range secretFields(cur) {
				if err := q.DeleteSecret(ctx, tid, store.ConnectorSecretName(name, k)); err != nil && !errors.Is(err, accessbot.ErrNotFound) {
					return err
				}
			}
			return q.DeleteConnector(ctx, tid, name)
		})
	}
	return nil
}

// secretFields are the secret fields a stored connector had (settings keep
// the variable names as FIELD_env).
func secretFields(c *store.Connector) []string {
	var out []string
	for k := range c.Settings {
		if f, ok := strings.CutSuffix(k, "_env"); ok {
			out = append(out, f)
		}
	}
	slices.Sort(out)
	return out
}

func (p *planner) planConnector(ctx context.Context, decl ConnectorDecl, cur *store.Connector) error {
	tid := p.tenant.ID
	want := &store.Connector{TenantID: tid, Name: decl.Name, Type: decl.Type, Settings: maps.Clone(decl.Settings)}
	for k, env := range decl.Env {
		want.Settings[k+"_env"] = env
	}
	// Read every secret now: a missing variable is a file error, before anything is written.
	vals := map[string]secrets.Secret{}
	for _, k := range slices.Sorted(maps.Keys(decl.Env)) {
		env := decl.Env[k]
		at := decl.fieldAt[k]
		v, ok := p.getenv(env)
		if !ok || v == "" {
			p.errorf(at, "environment variable %s is not set (it should hold the %s of connector %s)", env, k, decl.Name)
			continue
		}
		if p.keys == nil || !p.keys.CanSeal() {
			p.errorf(at, "connector secrets are stored encrypted, and encryption.key is not set (generate one with `openssl rand -base64 32` and set ACCESSBOT_ENCRYPTION_KEY)")
			continue
		}
		vals[k] = secrets.Secret(v)
	}
	if len(p.fileError) > 0 {
		return nil
	}

	var df diff
	var changed []string // secret fields to (re)seal
	var dropped []string // secret fields no longer declared
	if cur == nil {
		for _, k := range slices.Sorted(maps.Keys(want.Settings)) {
			df = append(df, k+" "+quote(want.Settings[k]))
		}
		changed = slices.Sorted(maps.Keys(vals))
		for _, k := range changed {
			df = append(df, k+" (secret, from $"+decl.Env[k]+")")
		}
	} else {
		df.ref("type", cur.Type, want.Type)
		keys := slices.Sorted(maps.Keys(maps.Collect(func(yield func(string, bool) bool) {
			for k := range cur.Settings {
				yield(k, true)
			}
			for k := range want.Settings {
				yield(k, true)
			}
		})))
		for _, k := range keys {
			df.str(k, cur.Settings[k], want.Settings[k])
		}
		for _, k := range slices.Sorted(maps.Keys(vals)) {
			same, err := p.sameSecret(ctx, tid, store.ConnectorSecretName(decl.Name, k), vals[k])
			if err != nil {
				p.errorf(decl.fieldAt[k], "the stored %s of connector %s cannot be opened: %v", k, decl.Name, err)
				return nil
			}
			if !same {
				changed = append(changed, k)
				df = append(df, k+" (secret) changed")
			}
		}
		for _, k := range secretFields(cur) {
			if _, ok := decl.Env[k]; !ok {
				dropped = append(dropped, k)
				df = append(df, k+" (secret) removed")
			}
		}
	}
	if len(df) == 0 {
		return nil
	}
	op := OpCreate
	if cur != nil {
		op = OpUpdate
	}
	name := decl.Name
	c := p.change(&Change{Op: op, Kind: "connector", Name: name, Fields: df, at: decl.at, before: cur, after: want,
		objectID: func() string { return name }})
	keys := p.keys
	c.add(phaseSchedules, 0, func(ctx context.Context, q store.Queries) error {
		if err := q.PutConnector(ctx, want); err != nil {
			return err
		}
		for _, k := range changed {
			sn := store.ConnectorSecretName(name, k)
			keyID, ct, err := keys.Seal([]byte(vals[k].Reveal()), secrets.AAD(tid, sn))
			if err != nil {
				return fmt.Errorf("seal %s: %w", k, err)
			}
			if err := q.PutSecret(ctx, &accessbot.Secret{TenantID: tid, Name: sn, KeyID: keyID, Ciphertext: ct}); err != nil {
				return err
			}
		}
		for _, k := range dropped {
			if err := q.DeleteSecret(ctx, tid, store.ConnectorSecretName(name, k)); err != nil && !errors.Is(err, accessbot.ErrNotFound) {
				return err
			}
		}
		return nil
	})
	return nil
}

// sameSecret reports whether the stored secret opens to v.
func (p *planner) sameSecret(ctx context.Context, tid, name string, v secrets.Secret) (bool, error) {
	s, err := p.q.GetSecret(ctx, tid, name)
	if notFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	plain, err := p.keys.Open(s.KeyID, s.Ciphertext, secrets.AAD(tid, name))
	if err != nil {
		return false, err
	}
	defer clear(plain)
	return bytes.Equal(plain, []byte(v.Reveal())), nil
}
