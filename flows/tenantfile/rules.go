package tenantfile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/findings"
	"github.com/accessbot/accessbot/store"
)

// Rule is a tenant-defined finding rule:
//
//	rules:
//	  - name: sales-with-admin
//	    severity: high
//	    subject: identity          # or employee
//	    filter:
//	      all:
//	        - {field: employee.department, op: eq, value: Sales}
//	        - {field: entitlement.labels, op: contains, value: privileged}
//
// When the file has a rules: key, its list is the tenant's complete set.
type Rule struct {
	Name        string
	Description string
	Severity    accessbot.Severity
	Subject     accessbot.SubjectKind
	Filter      accessbot.Filter
	at, nameAt  loc
}

var ruleNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,62}$`)

func (d *decoder) decodeRules(top fields, f *File) {
	if _, ok := top.vals["rules"]; !ok {
		return
	}
	f.Rules = []Rule{}
	rl := top.loc("rules")
	seen := map[string]int{}
	for i, n := range d.seq(top.vals["rules"], rl) {
		at := loc{line: resolve(n).Line, path: index("rules", i)}
		m := d.mapping(n, at, "name", "description", "severity", "subject", "filter")
		r := Rule{at: at, Name: d.required(m, "name"), Description: d.str(m, "description")}
		nl := m.loc("name")
		r.nameAt = nl
		switch {
		case r.Name == "":
		case !ruleNameRE.MatchString(r.Name):
			d.errorf(nl.line, nl.path, "%q is not a rule name: use lower-case letters, digits, '.', '_' and '-', at most 63 characters", r.Name)
		case findings.IsBuiltin(r.Name):
			d.errorf(nl.line, nl.path, "%q is a built-in rule (built-in: %s)", r.Name, strings.Join(findings.BuiltinRules, ", "))
		default:
			if first, dup := seen[r.Name]; dup {
				d.errorf(nl.line, nl.path, "duplicate rule %q (first at line %d)", r.Name, first)
			}
			seen[r.Name] = nl.line
		}
		sevs := make([]string, len(accessbot.Severities))
		for i, s := range accessbot.Severities {
			sevs[i] = string(s)
		}
		if d.required(m, "severity") != "" {
			r.Severity = accessbot.Severity(d.oneOf(m, "severity", "", sevs...))
		}
		r.Subject = accessbot.SubjectKind(d.oneOf(m, "subject", string(accessbot.SubjectIdentity), string(accessbot.SubjectIdentity), string(accessbot.SubjectEmployee)))
		if !m.has("filter") {
			fl := m.loc("filter")
			d.errorf(fl.line, fl.path, "required")
		} else {
			r.Filter = d.decodeFilter(m.vals["filter"], m.loc("filter"))
		}
		f.Rules = append(f.Rules, r)
	}
}

// decodeFilter reads {all: [...]}, {any: [...]} or {field, op, value},
// checking each condition where it is written.
func (d *decoder) decodeFilter(n *yaml.Node, at loc) accessbot.Filter {
	before := len(d.errs)
	m := d.mapping(n, at, "all", "any", "field", "op", "value")
	var out accessbot.Filter
	kinds := 0
	for _, k := range []string{"all", "any"} {
		if _, ok := m.vals[k]; !ok {
			continue
		}
		kinds++
		kl := m.loc(k)
		items := d.seq(m.vals[k], kl)
		if len(items) == 0 {
			d.errorf(kl.line, kl.path, "want a non-empty list of conditions")
		}
		kids := []accessbot.Filter{}
		for i, c := range items {
			kids = append(kids, d.decodeFilter(c, loc{line: resolve(c).Line, path: index(kl.path, i)}))
		}
		if k == "all" {
			out.All = kids
		} else {
			out.Any = kids
		}
	}
	_, hasField := m.vals["field"]
	_, hasOp := m.vals["op"]
	if hasField || hasOp {
		kinds++
	}
	if kinds != 1 {
		if kinds > 1 || len(d.errs) == before {
			d.errorf(at.line, at.path, "want exactly one of all:, any: or field:/op:/value:")
		}
		return out
	}
	if !hasField && !hasOp {
		return out
	}
	out.Field = d.required(m, "field")
	out.Op = d.required(m, "op")
	if out.Field == "" || out.Op == "" {
		return out
	}
	vl := m.loc("value")
	if v := resolve(m.vals["value"]); v != nil && !isNull(v) {
		switch {
		case v.Kind == yaml.ScalarNode && v.Tag == "!!bool":
			out.Value = strings.EqualFold(v.Value, "true")
		case v.Kind == yaml.ScalarNode:
			out.Value = strings.TrimSpace(v.Value)
		case v.Kind == yaml.SequenceNode:
			list := []any{}
			for j, e := range v.Content {
				e = resolve(e)
				if e.Kind != yaml.ScalarNode {
					d.errorf(e.Line, index(vl.path, j), "want a single value, found %s", kindName(e))
					return out
				}
				list = append(list, strings.TrimSpace(e.Value))
			}
			out.Value = list
		default:
			d.errorf(v.Line, vl.path, "want a value or a list of values, found %s", kindName(v))
			return out
		}
	} else if out.Op == "exists" {
		out.Value = true
	}
	if err := findings.CheckCondition(out.Field, out.Op, out.Value); err != nil {
		var ce *findings.ConditionError
		if errors.As(err, &ce) {
			l := m.loc(ce.Part)
			d.errorf(l.line, l.path, "%s", ce.Msg)
		} else {
			d.errorf(at.line, at.path, "%v", err)
		}
	}
	return out
}

func filterString(f accessbot.Filter) string {
	b, _ := json.Marshal(f)
	return string(b)
}

// planRules replaces the tenant's rules when the file has a rules: key.
func (p *planner) planRules(ctx context.Context) error {
	if p.f.Rules == nil {
		return nil
	}
	tid := p.tenant.ID
	current, err := p.q.ListTenantRules(ctx, tid)
	if err != nil {
		return fmt.Errorf("list rules of tenant %s: %w", p.f.Tenant.Slug, err)
	}
	byName := map[string]*accessbot.TenantRule{}
	for i := range current {
		byName[current[i].Name] = &current[i]
	}
	want := make([]accessbot.TenantRule, len(p.f.Rules))
	inFile := map[string]bool{}
	var changes []*Change
	for i, r := range p.f.Rules {
		want[i] = accessbot.TenantRule{TenantID: tid, Name: r.Name, Description: r.Description, Severity: r.Severity, Subject: r.Subject, Filter: r.Filter}
		inFile[r.Name] = true
		tr := &want[i]
		cur := byName[r.Name]
		if cur == nil {
			// External findings keep their own rule names; a new tenant rule
			// taking one would resolve them on its first run.
			ext, err := p.q.ListFindings(ctx, tid, accessbot.FindingFilter{Rule: r.Name, Statuses: liveFindings, Limit: 1})
			if err != nil {
				return fmt.Errorf("list findings of rule %s: %w", r.Name, err)
			}
			if len(ext) > 0 {
				p.errorf(r.nameAt, "%q names open findings reported by an external tool (accessbot findings import or the API); give this rule another name", r.Name)
				continue
			}
			changes = append(changes, &Change{Op: OpCreate, Kind: "rule", Name: r.Name,
				Fields: []string{"severity " + string(r.Severity), "subject " + string(r.Subject)}, at: r.at, after: tr})
			continue
		}
		var df diff
		df.str("description", cur.Description, r.Description)
		df.ref("severity", string(cur.Severity), string(r.Severity))
		df.ref("subject", string(cur.Subject), string(r.Subject))
		df.changed("filter", filterString(cur.Filter) == filterString(r.Filter), "changed")
		if len(df) > 0 {
			changes = append(changes, &Change{Op: OpUpdate, Kind: "rule", Name: r.Name, Fields: df, at: r.at, before: cur, after: tr})
		}
	}
	var gone []*Change
	for i := range current {
		cur := &current[i]
		if inFile[cur.Name] {
			continue
		}
		open, err := p.q.ListFindings(ctx, tid, accessbot.FindingFilter{Rule: cur.Name, Statuses: liveFindings})
		if err != nil {
			return fmt.Errorf("list findings of rule %s: %w", cur.Name, err)
		}
		c := &Change{Op: OpDelete, Kind: "rule", Name: cur.Name, before: cur}
		if len(open) > 0 {
			c.Fields = []string{fmt.Sprintf("resolves %d open finding(s)", len(open))}
		}
		changes = append(changes, c)
		gone = append(gone, c)
	}
	for i, c := range changes {
		name := c.Name
		c.objectID = func() string { return name }
		if i == 0 { // one replacement carries every change
			c.add(phaseRules, 0, func(ctx context.Context, q store.Queries) error { return q.ReplaceTenantRules(ctx, tid, want) })
		}
		p.change(c)
	}
	at := p.now
	for _, c := range gone {
		name := c.Name
		c.add(phaseRules, 1, func(ctx context.Context, q store.Queries) error { return resolveRuleFindings(ctx, q, tid, name, at) })
	}
	return nil
}

// liveFindings are the statuses a finding can leave by being resolved.
var liveFindings = []accessbot.FindingStatus{accessbot.FindingOpen, accessbot.FindingAcknowledged}

// resolveRuleFindings resolves, by "system", the open and acknowledged
// findings of a rule the tenant deleted: nothing will ever run it again,
// so they would otherwise stay open for good. Each is audited.
func resolveRuleFindings(ctx context.Context, q store.Queries, tenantID, rule string, at time.Time) error {
	open, err := q.ListFindings(ctx, tenantID, accessbot.FindingFilter{Rule: rule, Statuses: liveFindings})
	if err != nil {
		return fmt.Errorf("list findings of deleted rule %s: %w", rule, err)
	}
	if len(open) == 0 {
		return nil
	}
	// SyncFindings with no matches resolves every live finding of the rule by
	// accessbot.ActorSystem, the same way a finding that stops matching is.
	if _, err := q.SyncFindings(ctx, tenantID, rule, nil, at); err != nil {
		return fmt.Errorf("resolve findings of deleted rule %s: %w", rule, err)
	}
	for _, f := range open {
		before, _ := json.Marshal(map[string]string{"status": string(f.Status)})
		after, _ := json.Marshal(map[string]string{"status": string(accessbot.FindingResolved), "reason": "rule " + rule + " deleted"})
		if err := q.AppendAudit(ctx, &accessbot.AuditEntry{TenantID: tenantID, At: at, ActorID: accessbot.ActorSystem,
			Action: "finding." + string(accessbot.FindingResolved), ObjectType: "finding", ObjectID: f.ID, Before: before, After: after}); err != nil {
			return fmt.Errorf("audit finding %s: %w", f.ID, err)
		}
	}
	return nil
}
