package tenantfile

import (
	"strings"

	"github.com/accessbot/accessbot"
)

// check validates what spans more than one field: unique emails and names,
// references to users, applications and connections, manager cycles and the
// admin rule. It runs only on a file that decoded cleanly.
func (d *decoder) check(f *File) {
	users := map[string]*User{}
	for i := range f.Users {
		u := &f.Users[i]
		if first, dup := users[u.Email]; dup {
			d.errorf(u.at.line, u.at.field("email"), "duplicate email %q (also at line %d; emails are compared ignoring case)", u.Email, first.at.line)
			continue
		}
		users[u.Email] = u
	}
	// ref checks an email reference: it must name a user of this file, and,
	// when active is set, one who is not terminated.
	ref := func(email string, at loc, active bool) bool {
		if email == "" {
			return true
		}
		u, ok := users[email]
		if !ok {
			d.errorf(at.line, at.path, "no user with email %q in this file", email)
			return false
		}
		if active && u.Status == accessbot.UserTerminated {
			d.errorf(at.line, at.path, "user %q is terminated", email)
			return false
		}
		return true
	}

	admins := 0
	for i := range f.Users {
		u := &f.Users[i]
		if u.Role == accessbot.RoleAdmin && u.Status == accessbot.UserActive {
			admins++
		}
		if u.Manager == u.Email && u.Email != "" {
			d.errorf(u.managerAt.line, u.managerAt.path, "a user cannot be their own manager")
		} else {
			ref(u.Manager, u.managerAt, false)
		}
		if u.Delegate == u.Email && u.Email != "" {
			d.errorf(u.delegateAt.line, u.delegateAt.path, "a user cannot be their own delegate")
		} else {
			ref(u.Delegate, u.delegateAt, true)
		}
	}
	if admins == 0 {
		d.errorf(f.usersAt.line, "users", "at least one active user needs role: admin")
	}
	d.checkCycles(f, users)
	d.checkScriptConnectors(f)

	apps := map[string]*Application{}
	for i := range f.Applications {
		a := &f.Applications[i]
		key := strings.ToLower(a.Name)
		if first, dup := apps[key]; dup {
			d.errorf(a.at.line, a.at.field("name"), "duplicate application %q (also at line %d)", a.Name, first.at.line)
			continue
		}
		apps[key] = a
		ref(a.PrimaryOwner, a.primaryAt, true)
		if a.SecondaryOwner != "" && a.SecondaryOwner == a.PrimaryOwner {
			d.errorf(a.secondaryAt.line, a.secondaryAt.path, "the same user as primary_owner")
		} else {
			ref(a.SecondaryOwner, a.secondaryAt, true)
		}
	}

	chains := map[string]*Chain{}
	targets := map[string]*Chain{}
	for i := range f.Chains {
		c := &f.Chains[i]
		if first, dup := chains[strings.ToLower(c.Name)]; dup {
			d.errorf(c.at.line, c.at.field("name"), "duplicate approval chain %q (also at line %d)", c.Name, first.at.line)
			continue
		}
		chains[strings.ToLower(c.Name)] = c

		var app *Application
		if c.Application != "" {
			app = apps[strings.ToLower(c.Application)]
			if app == nil {
				d.errorf(c.appAt.line, c.appAt.path, "no application %q in this file", c.Application)
				continue
			}
			c.Application = app.Name // the file's spelling of the name
		}
		if c.Connection != "" {
			if app == nil {
				d.errorf(c.connAt.line, c.connAt.path, "a connection chain also needs application")
				continue
			}
			found := false
			for _, conn := range app.Connections {
				if strings.EqualFold(conn.Name, c.Connection) {
					c.Connection, found = conn.Name, true
				}
			}
			if !found {
				d.errorf(c.connAt.line, c.connAt.path, "application %q has no connection %q in this file", app.Name, c.Connection)
				continue
			}
		}
		target := strings.ToLower(c.Application + "\x00" + c.Connection)
		if first, dup := targets[target]; dup && !c.ChannelsOnly {
			what := "the tenant default"
			switch {
			case c.Connection != "":
				what = "connection " + c.Application + "/" + c.Connection
			case c.Application != "":
				what = "application " + c.Application
			}
			d.errorf(c.at.line, c.at.path, "a second chain for %s (chain %q at line %d is the first)", what, first.Name, first.at.line)
		}
		if !c.ChannelsOnly {
			targets[target] = c
		}

		for li := range c.Levels {
			lv := &c.Levels[li]
			d.checkLevelPolicy(lv, app)
			for _, ap := range lv.Approvers {
				switch ap.Kind {
				case accessbot.ApproverUser:
					ref(ap.Email, ap.at, true)
				case accessbot.ApproverSecondary:
					if app != nil && app.SecondaryOwner == "" {
						d.errorf(ap.at.line, ap.at.path, "application %q has no secondary_owner", app.Name)
					}
				}
			}
		}
	}
	d.checkRoutes(f, apps, chains)  // routes.go
	d.checkOnBehalf(f, users, apps) // onbehalf.go
	d.checkRisk(f)                  // risk.go
}

// checkCycles reports each manager cycle once, at its first user in the file.
func (d *decoder) checkCycles(f *File, users map[string]*User) {
	const (
		unvisited = iota
		visiting
		done
	)
	state := map[string]int{}
	for i := range f.Users {
		start := &f.Users[i]
		if state[start.Email] != unvisited {
			continue
		}
		var path []*User
		for u := start; u != nil; u = users[u.Manager] {
			if state[u.Email] == done {
				break
			}
			if state[u.Email] == visiting {
				// u is on the current path: the cycle runs from u to the end.
				var names []string
				from := 0
				for k, p := range path {
					if p == u {
						from = k
					}
				}
				for _, p := range path[from:] {
					names = append(names, p.Email)
				}
				names = append(names, u.Email)
				first := path[from]
				for _, p := range path[from:] {
					if p.at.line < first.at.line {
						first = p
					}
				}
				d.errorf(first.managerAt.line, first.managerAt.path, "manager cycle: %s", strings.Join(names, " → "))
				break
			}
			state[u.Email] = visiting
			path = append(path, u)
			if u.Manager == u.Email {
				break // reported already
			}
		}
		for _, p := range path {
			state[p.Email] = done
		}
	}
}
