package tenantfile

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/connectors/catalog"
	"github.com/accessbot/accessbot/flows/provision"
)

// decodeProvisioning reads an application's action chains:
//
//	provisioning:
//	  group:                      # account, group, role, policy, connection_create, …
//	    provision:
//	      - type: gitlab_issue_create
//	        params: {title: "Add {{.Target.Email}} to {{.Connection.Name}}"}
//	        timeout: 1m
//	    deprovision:
//	      - type: manual
//
// Each script is checked by provision.CheckScript: its type, its params as
// templates over provision.Fields, a provider's connector being built.
func (d *decoder) decodeProvisioning(m fields, key string) map[string]accessbot.ActionChain {
	if !m.has(key) {
		return nil
	}
	at := m.loc(key)
	n := resolve(m.vals[key])
	if n.Kind != yaml.MappingNode {
		d.errorf(n.Line, at.path, "want a mapping of relationship types (%s) to chains, found %s", relNames(), kindName(n))
		return nil
	}
	out := map[string]accessbot.ActionChain{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		p := at.field(k.Value)
		if !slices.Contains(provision.Relationships, provision.Relationship(k.Value)) {
			d.errorf(k.Line, p, "%q is not a relationship type: use one of %s", k.Value, relNames())
			continue
		}
		if _, dup := out[k.Value]; dup {
			d.errorf(k.Line, p, "duplicate relationship type")
			continue
		}
		cl := loc{line: k.Line, path: p}
		cm := d.mapping(v, cl, "provision", "deprovision")
		var c accessbot.ActionChain
		c.Provision = d.decodeScripts(cm, "provision")
		c.Deprovision = d.decodeScripts(cm, "deprovision")
		out[k.Value] = c
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func (d *decoder) decodeScripts(m fields, key string) []accessbot.ActionScript {
	if !m.has(key) {
		return nil
	}
	sl := m.loc(key)
	nodes := d.nonEmptySeq(m, key, "at least one script is required (leave "+key+" out for the default: a manual step)")
	var out []accessbot.ActionScript
	for i, sn := range nodes {
		l := loc{line: resolve(sn).Line, path: index(sl.path, i)}
		sm := d.mapping(sn, l, "type", "params", "timeout")
		s := accessbot.ActionScript{Type: d.required(sm, "type")}
		s.Params = d.strMap(sm.vals["params"], sm.loc("params"))
		if ts := d.str(sm, "timeout"); ts != "" {
			dur, err := time.ParseDuration(ts)
			if err != nil || dur <= 0 {
				tl := sm.loc("timeout")
				d.errorf(tl.line, tl.path, "%q is not a positive duration (e.g. 30s, 5m)", ts)
			}
			s.Timeout = dur
		}
		if s.Type != "" {
			problems := provision.CheckScript(provision.Script{Type: s.Type, Params: s.Params, Timeout: s.Timeout})
			for _, pr := range problems {
				line, path := d.problemAt(sm, l, pr.Field)
				d.errorf(line, path, "%s", pr.Msg)
			}
			if len(problems) == 0 {
				tl := sm.loc("type")
				d.scripts = append(d.scripts, scriptRef{typ: s.Type, connector: s.Params["connector"], at: tl})
			}
		}
		out = append(out, s)
	}
	return out
}

// scriptRef is a script of an action chain and where its type is.
type scriptRef struct {
	typ, connector string // connector: the script's connector param, if any
	at             loc
}

// checkScriptConnectors refuses a script that no declared connector could
// run, when the file has a connectors: section (then it is the tenant's
// complete set): a {provider}_webhook_ with no webhook connector of that
// name, a gitlab_issue_ or email_ script with no connector of its type (or
// whose connector param names none), a {provider}_api_ with no connector
// of the provider's type. Without the check the mistake shows only when an
// approved request's flow fails.
func (d *decoder) checkScriptConnectors(f *File) {
	if f.Connectors == nil {
		return
	}
	byName := map[string]string{}
	count := map[string]int{}
	for _, c := range f.Connectors {
		byName[c.Name] = c.Type
		count[c.Type]++
	}
	for _, s := range d.scripts {
		kind, provider, _, err := provision.ParseType(s.typ)
		if err != nil {
			continue
		}
		var typ, name string
		switch kind {
		case provision.KindWebhook:
			typ, name = catalog.Webhook, provider
		case provision.KindGitLabIssue:
			typ, name = catalog.GitLab, s.connector
		case provision.KindEmail:
			typ, name = catalog.Email, s.connector
		case provision.KindProviderAPI:
			typ = provider
		default:
			continue
		}
		if strings.Contains(name, "{{") {
			continue // chosen when the flow runs
		}
		switch {
		case name != "" && byName[name] == "":
			d.errorf(s.at.line, s.at.path, "%q: connectors: declares no %s connector named %q", s.typ, typ, name)
		case name != "" && byName[name] != typ:
			d.errorf(s.at.line, s.at.path, "%q: connector %q is of type %s, not %s", s.typ, name, byName[name], typ)
		case name == "" && count[typ] == 0:
			d.errorf(s.at.line, s.at.path, "%q: connectors: declares no %s connector", s.typ, typ)
		case name == "" && count[typ] > 1 && kind != provision.KindProviderAPI:
			d.errorf(s.at.line, s.at.path, "%q: connectors: declares %d %s connectors: name one with params.connector", s.typ, count[typ], typ)
		}
	}
}

// problemAt locates a provision.Problem's field ("type", "params.title") in a script's mapping.
func (d *decoder) problemAt(sm fields, at loc, field string) (int, string) {
	top, sub, _ := strings.Cut(field, ".")
	l := sm.loc(top)
	if sub == "" {
		return l.line, l.path
	}
	path := at.field(field)
	if pn := resolve(sm.vals[top]); pn != nil && pn.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(pn.Content); i += 2 {
			if pn.Content[i].Value == sub {
				return pn.Content[i].Line, path
			}
		}
	}
	return l.line, path
}

func relNames() string {
	names := make([]string, len(provision.Relationships))
	for i, r := range provision.Relationships {
		names[i] = string(r)
	}
	return strings.Join(names, ", ")
}

// chainsString summarises action chains for the plan: each relationship's
// script types, in order.
func chainsString(p map[string]accessbot.ActionChain) string {
	if len(p) == 0 {
		return "(default: manual)"
	}
	var parts []string
	for _, rel := range slices.Sorted(maps.Keys(p)) {
		c := p[rel]
		parts = append(parts, fmt.Sprintf("%s: provision %s, deprovision %s", rel, scriptTypes(c.Provision), scriptTypes(c.Deprovision)))
	}
	return "{" + strings.Join(parts, "; ") + "}"
}

func scriptTypes(ss []accessbot.ActionScript) string {
	if len(ss) == 0 {
		return "[manual]"
	}
	ts := make([]string, len(ss))
	for i, s := range ss {
		ts[i] = s.Type
	}
	return "[" + strings.Join(ts, " ") + "]"
}

// diffChains adds one line per relationship whose chains changed.
func diffChains(df *diff, old, new map[string]accessbot.ActionChain) {
	keys := slices.Sorted(maps.Keys(old))
	for k := range new {
		if _, ok := old[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, rel := range keys {
		o, n := withDefaults(old[rel]), withDefaults(new[rel])
		for _, dir := range []struct {
			name string
			o, n []accessbot.ActionScript
		}{{"provision", o.Provision, n.Provision}, {"deprovision", o.Deprovision, n.Deprovision}} {
			if sameScripts(dir.o, dir.n) {
				continue
			}
			detail := scriptTypes(dir.o) + "→" + scriptTypes(dir.n)
			if scriptTypes(dir.o) == scriptTypes(dir.n) {
				detail += " (params or timeouts changed)"
			}
			*df = append(*df, fmt.Sprintf("provisioning.%s.%s %s", rel, dir.name, detail))
		}
	}
}

// withDefaults spells out the default chain (one manual step) of an
// undeclared direction, so declaring it explicitly is no change.
func withDefaults(c accessbot.ActionChain) accessbot.ActionChain {
	def := []accessbot.ActionScript{{Type: "manual"}}
	if len(c.Provision) == 0 {
		c.Provision = def
	}
	if len(c.Deprovision) == 0 {
		c.Deprovision = def
	}
	return c
}

func sameScripts(a, b []accessbot.ActionScript) bool {
	return slices.EqualFunc(a, b, func(x, y accessbot.ActionScript) bool {
		return x.Type == y.Type && x.Timeout == y.Timeout && (len(x.Params) == 0 && len(y.Params) == 0 || reflect.DeepEqual(x.Params, y.Params))
	})
}
