package tenantfile

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

// phasePurposes runs after applications, connections and chains exist.
const phasePurposes = phasePlaybooks + 1

// maxSession bounds a purpose's max_session: a longer one is standing access.
const maxSession = 30 * 24 * time.Hour

// purposeNameRE: what `/access start NAME` takes.
var purposeNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// PurposeDecl is one entry of "purposes:" (docs/purposes.md):
//
//	purposes:
//	  - name: oncall-db                 # lower-case letters, digits, - and _
//	    description: On-call database access
//	    entitlements:                   # APPLICATION/CONNECTION, across applications
//	      - Postgres/readers
//	      - Grafana/Editors
//	    max_session: 4h                 # a start runs at most this long
//	    assignment_chain: oncall-leads  # an approval chain's name
//	    start_chain: oncall-duty        # optional: each start is approved too
//	    channel: C0ONCALL               # optional: starts and stops are announced here
//
// When the file has a purposes: key, its list is the complete set of the
// tenant's purposes: one left out is deleted (with its assignments; its
// sessions still end).
type PurposeDecl struct {
	Name, Description       string
	Entitlements            []PurposeEntitlement
	MaxSession              time.Duration
	AssignChain, StartChain string
	Channel                 string

	at, nameAt, assignAt, startAt loc
}

// PurposeEntitlement is APPLICATION/CONNECTION.
type PurposeEntitlement struct {
	Application, Connection string
	at                      loc
}

func (d *decoder) decodePurposes(top fields, f *File) {
	if _, ok := top.vals["purposes"]; !ok {
		return
	}
	f.Purposes = []PurposeDecl{}
	seen := map[string]int{}
	for i, n := range d.seq(top.vals["purposes"], top.loc("purposes")) {
		at := loc{line: resolve(n).Line, path: index("purposes", i)}
		m := d.mapping(n, at, "name", "description", "entitlements", "max_session", "assignment_chain", "start_chain", "channel")
		p := PurposeDecl{Name: d.required(m, "name"), Description: d.str(m, "description"), AssignChain: d.required(m, "assignment_chain"),
			StartChain: d.str(m, "start_chain"), Channel: d.str(m, "channel"),
			at: at, nameAt: m.loc("name"), assignAt: m.loc("assignment_chain"), startAt: m.loc("start_chain")}
		if p.Name != "" {
			if !purposeNameRE.MatchString(p.Name) {
				d.errorf(p.nameAt.line, p.nameAt.path, "%q is not a purpose name: use lower-case letters, digits, - and _ (it is typed in /access start NAME)", p.Name)
			}
			if first, dup := seen[p.Name]; dup {
				d.errorf(p.nameAt.line, p.nameAt.path, "duplicate purpose %q (first at line %d)", p.Name, first)
			}
			seen[p.Name] = p.nameAt.line
		}
		if ml := m.loc("max_session"); d.required(m, "max_session") != "" {
			s := d.str(m, "max_session")
			dur, err := ParseDuration(s)
			switch {
			case err != nil:
				d.errorf(ml.line, ml.path, "%q is not a duration: use e.g. 4h, 90m or 1d", s)
			case dur > maxSession:
				d.errorf(ml.line, ml.path, "%q: at most %s (a longer need is standing access: request it)", s, FormatDuration(maxSession))
			default:
				p.MaxSession = dur
			}
		}
		if p.Channel != "" && !channelIDRE.MatchString(p.Channel) {
			cl := m.loc("channel")
			d.errorf(cl.line, cl.path, "%q is not a Slack channel id (like C0123ABCD)", p.Channel)
		}
		el := m.loc("entitlements")
		seenEnt := map[string]int{}
		for j, en := range d.nonEmptySeq(m, "entitlements", "at least one entitlement (APPLICATION/CONNECTION) is required") {
			en = resolve(en)
			ep := index(el.path, j)
			if en.Kind != yaml.ScalarNode {
				d.errorf(en.Line, ep, "want APPLICATION/CONNECTION, found %s", kindName(en))
				continue
			}
			app, conn, ok := strings.Cut(strings.TrimSpace(en.Value), "/")
			app, conn = strings.TrimSpace(app), strings.TrimSpace(conn)
			if !ok || app == "" || conn == "" {
				d.errorf(en.Line, ep, "%q: want APPLICATION/CONNECTION, e.g. GitLab/Maintainers", en.Value)
				continue
			}
			key := strings.ToLower(app + "/" + conn)
			if first, dup := seenEnt[key]; dup {
				d.errorf(en.Line, ep, "duplicate entitlement %q (first at line %d)", en.Value, first)
				continue
			}
			seenEnt[key] = en.Line
			p.Entitlements = append(p.Entitlements, PurposeEntitlement{Application: app, Connection: conn, at: loc{line: en.Line, path: ep}})
		}
		f.Purposes = append(f.Purposes, p)
	}
}

// planPurposes makes the tenant's purposes those of the file: entitlements
// resolve to connections of this file's applications or the store's, and
// chains to this file's or the store's.
func (p *planner) planPurposes(ctx context.Context) error {
	if p.f.Purposes == nil {
		return nil
	}
	tid := p.tenant.ID
	current, err := p.q.ListPurposes(ctx, tid)
	if err != nil {
		return fmt.Errorf("list purposes of tenant %s: %w", p.tenant.Slug, err)
	}
	byName := map[string]*accessbot.Purpose{}
	for i := range current {
		byName[current[i].Name] = &current[i]
	}
	chains := map[string]bool{}
	for _, c := range p.f.Chains {
		chains[c.Name] = true
	}
	if !p.f.Prune.ApprovalChains {
		stored, err := p.q.ListApprovalChains(ctx, tid)
		if err != nil {
			return fmt.Errorf("list approval chains of tenant %s: %w", p.tenant.Slug, err)
		}
		for _, c := range stored {
			chains[c.Name] = true
		}
	}
	keep := map[string]bool{}
	for i := range p.f.Purposes {
		decl := &p.f.Purposes[i]
		keep[decl.Name] = true
		for _, c := range []struct {
			name string
			at   loc
		}{{decl.AssignChain, decl.assignAt}, {decl.StartChain, decl.startAt}} {
			if c.name != "" && !chains[c.name] {
				p.errorf(c.at, "no approval chain %q in this file or in tenant %s", c.name, p.f.Tenant.Slug)
			}
		}
		want := &accessbot.Purpose{TenantID: tid, Name: decl.Name, Description: decl.Description, MaxSession: decl.MaxSession,
			AssignChain: decl.AssignChain, StartChain: decl.StartChain, Channel: decl.Channel}
		var names []string
		var resolve []func() // connection ids of this apply's new objects are known when written
		for _, e := range decl.Entitlements {
			names = append(names, e.Application+"/"+e.Connection)
			if desired := p.conns[strings.ToLower(e.Application)]; desired != nil {
				c := desired[strings.ToLower(e.Connection)]
				if c == nil {
					p.errorf(e.at, "application %s in this file has no connection %q", e.Application, e.Connection)
					continue
				}
				a := p.apps[strings.ToLower(e.Application)]
				resolve = append(resolve, func() {
					want.Connections = append(want.Connections, accessbot.PurposeConnection{AppID: a.ID, ConnectionID: c.ID})
				})
				continue
			}
			a, err := p.q.GetApplicationByName(ctx, tid, e.Application)
			if notFound(err) {
				p.errorf(e.at, "no application %q in this file or in tenant %s", e.Application, p.f.Tenant.Slug)
				continue
			}
			if err != nil {
				return fmt.Errorf("read application %q: %w", e.Application, err)
			}
			c, err := p.q.GetConnectionByName(ctx, tid, a.ID, e.Connection)
			if notFound(err) {
				p.errorf(e.at, "application %s has no connection %q", e.Application, e.Connection)
				continue
			}
			if err != nil {
				return fmt.Errorf("read connection %q of %s: %w", e.Connection, e.Application, err)
			}
			resolve = append(resolve, func() {
				want.Connections = append(want.Connections, accessbot.PurposeConnection{AppID: a.ID, ConnectionID: c.ID})
			})
		}
		ents := "[" + strings.Join(names, " ") + "]"
		cur := byName[decl.Name]
		var df diff
		op := OpCreate
		if cur == nil {
			df = diff{"entitlements " + ents, "max_session " + noticeString(decl.MaxSession), "assignment_chain " + decl.AssignChain}
			if decl.StartChain != "" {
				df = append(df, "start_chain "+decl.StartChain)
			}
			if decl.Channel != "" {
				df = append(df, "channel "+decl.Channel)
			}
		} else {
			op = OpUpdate
			want.ID, want.CreatedAt = cur.ID, cur.CreatedAt
			df.str("description", cur.Description, want.Description)
			df.ref("entitlements", p.purposeEntitlements(ctx, cur), ents)
			df.ref("max_session", noticeString(cur.MaxSession), noticeString(want.MaxSession))
			df.ref("assignment_chain", cur.AssignChain, want.AssignChain)
			df.ref("start_chain", cur.StartChain, want.StartChain)
			df.ref("channel", cur.Channel, want.Channel)
			if len(df) == 0 {
				continue
			}
		}
		if len(p.fileError) > 0 {
			continue
		}
		c := p.change(&Change{Op: op, Kind: "purpose", Name: decl.Name, Fields: df, at: decl.at, before: cur, after: want,
			objectID: func() string { return want.ID }})
		c.add(phasePurposes, 0, func(ctx context.Context, q store.Queries) error {
			want.Connections = nil
			for _, r := range resolve {
				r()
			}
			return q.UpsertPurpose(ctx, want)
		})
	}
	for _, cur := range current {
		if keep[cur.Name] {
			continue
		}
		cur := cur
		c := p.change(&Change{Op: OpDelete, Kind: "purpose", Name: cur.Name, Fields: []string{"with its assignments; open sessions still end"},
			before: &cur, objectID: func() string { return cur.ID }})
		c.add(phasePurposes, 0, func(ctx context.Context, q store.Queries) error { return q.DeletePurpose(ctx, tid, cur.ID) })
	}
	return nil
}

// purposeEntitlements names a stored purpose's connections as the file does.
func (p *planner) purposeEntitlements(ctx context.Context, pp *accessbot.Purpose) string {
	var names []string
	for _, c := range pp.Connections {
		app, conn := c.AppID, c.ConnectionID
		if a, err := p.q.GetApplication(ctx, pp.TenantID, c.AppID); err == nil {
			app = a.Name
		}
		if cn, err := p.q.GetConnection(ctx, pp.TenantID, c.ConnectionID); err == nil {
			conn = cn.Name
		}
		names = append(names, app+"/"+conn)
	}
	return "[" + strings.Join(slices.Clip(names), " ") + "]"
}
