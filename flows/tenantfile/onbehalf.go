package tenantfile

import (
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/accessbot/accessbot"
)

// OnBehalf is the "on_behalf:" section: who may request access for whom.
// Left out, the store's policy is left alone (a new tenant has the default:
// managers for their direct reports only).
//
//	on_behalf:
//	  managers: reporting_line   # direct_reports (default) | reporting_line | none
//	  admins: true               # admins for anyone (default false)
//	  groups:                    # named groups, for named applications, for anyone
//	    - name: it-helpdesk
//	      members: [tom.baker@acme.com]
//	      applications: [Slack]
type OnBehalf struct {
	Managers accessbot.Reach
	Admins   bool
	Groups   []OnBehalfGroup
	at       loc
}

type OnBehalfGroup struct {
	Name         string
	Members      []string // emails
	Applications []string // names
	at           loc
	membersAt    []loc
	appsAt       []loc
}

func (d *decoder) decodeOnBehalf(top fields, f *File) {
	if !top.has("on_behalf") {
		return
	}
	l := top.loc("on_behalf")
	m := d.mapping(top.vals["on_behalf"], l, "managers", "admins", "groups")
	ob := &OnBehalf{at: l}
	ob.Managers = accessbot.Reach(d.oneOf(m, "managers", string(accessbot.ReachDirectReports),
		string(accessbot.ReachDirectReports), string(accessbot.ReachReportingLine), string(accessbot.ReachNone)))
	if m.has("admins") {
		ob.Admins = d.boolean(m, "admins")
	}
	gl := m.loc("groups")
	for i, n := range d.seq(m.vals["groups"], gl) {
		at := loc{line: resolve(n).Line, path: index(gl.path, i)}
		gm := d.mapping(n, at, "name", "members", "applications")
		g := OnBehalfGroup{Name: d.required(gm, "name"), at: at}
		names := func(key, one, what string, out *[]string, locs *[]loc) {
			kl := gm.loc(key)
			for j, vn := range d.nonEmptySeq(gm, key, "at least one "+one+" is required") {
				vn = resolve(vn)
				p := loc{line: vn.Line, path: index(kl.path, j)}
				if vn.Kind != yaml.ScalarNode || strings.TrimSpace(vn.Value) == "" {
					d.errorf(p.line, p.path, "want %s, found %s", what, kindName(vn))
					continue
				}
				*out = append(*out, strings.TrimSpace(vn.Value))
				*locs = append(*locs, p)
			}
		}
		names("members", "member", "a member's email", &g.Members, &g.membersAt)
		names("applications", "application", "an application name", &g.Applications, &g.appsAt)
		ob.Groups = append(ob.Groups, g)
	}
	f.OnBehalf = ob
}

// checkOnBehalf checks the groups' names, members and applications.
func (d *decoder) checkOnBehalf(f *File, users map[string]*User, apps map[string]*Application) {
	if f.OnBehalf == nil {
		return
	}
	seen := map[string]int{}
	for gi := range f.OnBehalf.Groups {
		g := &f.OnBehalf.Groups[gi]
		key := strings.ToLower(g.Name)
		if first, dup := seen[key]; dup {
			d.errorf(g.at.line, g.at.field("name"), "duplicate group %q (also at line %d)", g.Name, first)
		}
		seen[key] = g.at.line
		for j, e := range g.Members {
			email := accessbot.NormalizeEmail(e)
			if users[email] == nil {
				d.errorf(g.membersAt[j].line, g.membersAt[j].path, "no user with email %q in this file", e)
				continue
			}
			g.Members[j] = email
		}
		for j, name := range g.Applications {
			a := apps[strings.ToLower(name)]
			if a == nil {
				d.errorf(g.appsAt[j].line, g.appsAt[j].path, "no application %q in this file", name)
				continue
			}
			g.Applications[j] = a.Name
		}
	}
}

// buildOnBehalf puts the file's on_behalf: (when present) into want.
func (p *planner) buildOnBehalf(want *accessbot.RequestPolicy) {
	ob := p.f.OnBehalf
	if ob == nil {
		return
	}
	want.OnBehalf = accessbot.OnBehalf{Managers: ob.Managers, Admins: ob.Admins}
	for _, g := range ob.Groups {
		og := accessbot.OnBehalfGroup{Name: g.Name}
		for _, e := range g.Members {
			og.MemberIDs = append(og.MemberIDs, p.users[e].ID)
		}
		for _, a := range g.Applications {
			og.AppIDs = append(og.AppIDs, p.apps[strings.ToLower(a)].ID)
		}
		want.OnBehalf.Groups = append(want.OnBehalf.Groups, og)
	}
}

// onBehalfString renders a policy as "managers reporting_line, admins
// true, groups [it-helpdesk(tom@x → Slack)]".
func (p *planner) onBehalfString(o accessbot.OnBehalf) string {
	email := func(id string) string {
		for e, u := range p.users {
			if u.ID == id {
				return e
			}
		}
		if u := p.userByID[id]; u != nil {
			return u.Email
		}
		return id
	}
	var gs []string
	for _, g := range o.Groups {
		var ms, as []string
		for _, id := range g.MemberIDs {
			ms = append(ms, email(id))
		}
		for _, id := range g.AppIDs {
			as = append(as, p.appNameByID(id))
		}
		slices.Sort(ms)
		gs = append(gs, fmt.Sprintf("%s(%s → %s)", g.Name, strings.Join(ms, " "), strings.Join(as, " ")))
	}
	return fmt.Sprintf("managers %s, admins %t, groups [%s]", o.ManagerReach(), o.Admins, strings.Join(gs, " "))
}

func (p *planner) diffOnBehalf(df *diff, before, after accessbot.OnBehalf) {
	df.ref("on_behalf", p.onBehalfString(before), p.onBehalfString(after))
}
