package tenantfile

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

func (p *planner) planApps(ctx context.Context) error {
	tid := p.tenant.ID
	current, err := p.q.ListApplications(ctx, tid, "", 0)
	if err != nil {
		return fmt.Errorf("list applications of tenant %s: %w", p.tenant.Slug, err)
	}
	byName := map[string]*accessbot.Application{}
	p.appByID = map[string]*accessbot.Application{}
	for i := range current {
		a := &current[i]
		byName[strings.ToLower(a.Name)] = a
		p.appByID[a.ID] = a
	}
	p.apps = map[string]*accessbot.Application{}
	p.conns = map[string]map[string]*accessbot.Connection{}
	p.connByID = map[string]*accessbot.Connection{}
	ownerEmail := func(id string) string {
		if u := p.userByID[id]; u != nil {
			return accessbot.NormalizeEmail(u.Email)
		}
		return id
	}
	userID := func(email string) string {
		if email == "" {
			return ""
		}
		return p.users[email].ID
	}

	for i := range p.f.Applications {
		fa := &p.f.Applications[i]
		cur := byName[strings.ToLower(fa.Name)]
		d := &accessbot.Application{ID: newID(), TenantID: tid}
		if cur != nil {
			c := *cur
			d = &c
		}
		d.Name, d.Description, d.Connector = fa.Name, fa.Description, fa.Connector
		d.PrimaryOwnerID, d.SecondaryOwnerID = userID(fa.PrimaryOwner), userID(fa.SecondaryOwner)
		d.MaxDuration, d.ConnectionSchema, d.Labels = fa.MaxDuration, fa.ConnectionSchema, fa.Labels
		d.Provisioning = fa.Provisioning
		p.apps[strings.ToLower(fa.Name)] = d

		if cur == nil {
			fields := newLabels(d.Labels)
			if len(d.Provisioning) > 0 {
				fields = append(fields, "provisioning "+chainsString(d.Provisioning))
			}
			c := p.change(&Change{Op: OpCreate, Kind: "application", Name: fa.Name, Fields: fields, at: fa.at, after: d})
			c.objectID = func() string { return d.ID }
			c.add(phaseAppWrite, 0, func(ctx context.Context, q store.Queries) error {
				d.PrimaryOwnerID, d.SecondaryOwnerID = userID(fa.PrimaryOwner), userID(fa.SecondaryOwner)
				return q.CreateApplication(ctx, d)
			})
		} else {
			var df diff
			df.str("name", cur.Name, d.Name)
			df.str("description", cur.Description, d.Description)
			df.ref("connector", cur.Connector, d.Connector)
			df.ref("primary_owner", ownerEmail(cur.PrimaryOwnerID), fa.PrimaryOwner)
			df.ref("secondary_owner", ownerEmail(cur.SecondaryOwnerID), fa.SecondaryOwner)
			df.ref("max_duration", FormatDuration(cur.MaxDuration), FormatDuration(d.MaxDuration))
			df.changed("connection_schema", sameSchema(cur.ConnectionSchema, d.ConnectionSchema),
				schemaString(cur.ConnectionSchema)+"→"+schemaString(d.ConnectionSchema))
			df.ref("labels", labelsString(cur.Labels), labelsString(d.Labels))
			diffChains(&df, cur.Provisioning, d.Provisioning)
			if len(df) > 0 {
				c := p.change(&Change{Op: OpUpdate, Kind: "application", Name: fa.Name, Fields: df, at: fa.at, before: cur, after: d})
				c.objectID = func() string { return d.ID }
				c.add(phaseAppWrite, 0, func(ctx context.Context, q store.Queries) error { return q.UpdateApplication(ctx, d) })
			}
		}
		if err := p.planConnections(ctx, fa, d, cur != nil); err != nil {
			return err
		}
		if err := p.planResources(ctx, fa, d, cur != nil); err != nil {
			return err
		}
	}

	for i := range current {
		a := &current[i]
		if p.apps[strings.ToLower(a.Name)] != nil {
			continue
		}
		if !p.f.Prune.Applications {
			p.notes = append(p.notes, fmt.Sprintf("application %s is not in this file: kept (prune.applications: true deletes it)", a.Name))
			continue
		}
		c := p.change(&Change{Op: OpDelete, Kind: "application", Name: a.Name, Fields: []string{"with its connections, resources, entitlements and approval chains"}, before: a})
		c.objectID = func() string { return a.ID }
		c.add(phaseAppDelete, 0, func(ctx context.Context, q store.Queries) error { return q.DeleteApplication(ctx, tid, a.ID) })
	}
	return nil
}

func (p *planner) planConnections(ctx context.Context, fa *Application, app *accessbot.Application, exists bool) error {
	tid := p.tenant.ID
	var current []accessbot.Connection
	if exists {
		var err error
		if current, err = p.q.ListConnections(ctx, tid, app.ID); err != nil {
			return fmt.Errorf("list connections of %s: %w", app.Name, err)
		}
	}
	byName := map[string]*accessbot.Connection{}
	for i := range current {
		p.connByID[current[i].ID] = &current[i]
		if k := strings.ToLower(current[i].Name); byName[k] == nil {
			byName[k] = &current[i]
		}
	}
	// An exact match wins over one that differs in letter case.
	for i := range current {
		for _, fc := range fa.Connections {
			if current[i].Name == fc.Name {
				byName[strings.ToLower(fc.Name)] = &current[i]
			}
		}
	}
	matched := map[string]bool{}
	desired := map[string]*accessbot.Connection{}
	p.conns[strings.ToLower(fa.Name)] = desired
	for _, fc := range fa.Connections {
		name := fa.Name + "/" + fc.Name
		cur := byName[strings.ToLower(fc.Name)]
		d := &accessbot.Connection{ID: newID(), TenantID: tid}
		if cur != nil {
			c := *cur
			d = &c
			matched[cur.ID] = true
		}
		d.Name, d.Type, d.Description, d.Attributes, d.Labels = fc.Name, fc.Type, fc.Description, fc.Attributes, fc.Labels
		desired[strings.ToLower(fc.Name)] = d
		if cur == nil {
			c := p.change(&Change{Op: OpCreate, Kind: "connection", Name: name, Fields: newLabels(d.Labels), at: fc.at, after: d})
			c.objectID = func() string { return d.ID }
			c.add(phaseConnWrite, 0, func(ctx context.Context, q store.Queries) error {
				d.AppID = app.ID
				return q.CreateConnection(ctx, d)
			})
			continue
		}
		var df diff
		df.str("name", cur.Name, d.Name)
		df.ref("type", cur.Type, d.Type)
		df.str("description", cur.Description, d.Description)
		df.ref("labels", labelsString(cur.Labels), labelsString(d.Labels))
		for _, k := range sortedKeys(cur.Attributes, d.Attributes) {
			old, had := cur.Attributes[k]
			new, has := d.Attributes[k]
			if had != has || old != new {
				df = append(df, fmt.Sprintf("attributes.%s %s→%s", k, attr(old, had), attr(new, has)))
			}
		}
		if len(df) > 0 {
			c := p.change(&Change{Op: OpUpdate, Kind: "connection", Name: name, Fields: df, at: fc.at, before: cur, after: d})
			c.objectID = func() string { return d.ID }
			c.add(phaseConnWrite, 0, func(ctx context.Context, q store.Queries) error { return q.UpdateConnection(ctx, d) })
		}
	}
	for i := range current {
		cur := &current[i]
		if matched[cur.ID] {
			continue
		}
		name := fa.Name + "/" + cur.Name
		if !p.f.Prune.Connections {
			p.notes = append(p.notes, fmt.Sprintf("connection %s is not in this file: kept (prune.connections: true deletes it)", name))
			continue
		}
		c := p.change(&Change{Op: OpDelete, Kind: "connection", Name: name, Fields: []string{"with its entitlements"}, at: fa.at, before: cur})
		c.objectID = func() string { return cur.ID }
		c.add(phaseConnDelete, 0, func(ctx context.Context, q store.Queries) error { return q.DeleteConnection(ctx, tid, cur.ID) })
	}
	return nil
}

func (p *planner) planResources(ctx context.Context, fa *Application, app *accessbot.Application, exists bool) error {
	tid := p.tenant.ID
	var current []accessbot.Resource
	if exists {
		var err error
		if current, err = p.q.ListResources(ctx, tid, app.ID); err != nil {
			return fmt.Errorf("list resources of %s: %w", app.Name, err)
		}
	}
	byName := map[string]*accessbot.Resource{}
	for i := range current {
		byName[current[i].Name] = &current[i]
	}
	matched := map[string]bool{}
	for _, fr := range fa.Resources {
		name := fa.Name + "/" + fr.Name
		cur := byName[fr.Name]
		if cur != nil {
			matched[cur.ID] = true
		}
		if cur != nil && cur.Type == fr.Type {
			continue
		}
		d := &accessbot.Resource{ID: newID(), TenantID: tid, Name: fr.Name, Type: fr.Type}
		create := func(ctx context.Context, q store.Queries) error {
			d.AppID = app.ID
			return q.CreateResource(ctx, d)
		}
		if cur == nil {
			c := p.change(&Change{Op: OpCreate, Kind: "resource", Name: name, Fields: []string{"type " + fr.Type}, at: fr.at, after: d})
			c.objectID = func() string { return d.ID }
			c.add(phaseConnWrite, 0, create)
			continue
		}
		// Resources have no update: a new type replaces the row.
		var df diff
		df.ref("type", cur.Type, fr.Type)
		c := p.change(&Change{Op: OpUpdate, Kind: "resource", Name: name, Fields: df, at: fr.at, before: cur, after: d})
		c.objectID = func() string { return d.ID }
		c.add(phaseResourceReplace, 0, func(ctx context.Context, q store.Queries) error { return q.DeleteResource(ctx, tid, cur.ID) })
		c.add(phaseConnWrite, 0, create)
	}
	for i := range current {
		cur := &current[i]
		if matched[cur.ID] {
			continue
		}
		name := fa.Name + "/" + cur.Name
		if !p.f.Prune.Resources {
			p.notes = append(p.notes, fmt.Sprintf("resource %s is not in this file: kept (prune.resources: true deletes it)", name))
			continue
		}
		c := p.change(&Change{Op: OpDelete, Kind: "resource", Name: name, at: fa.at, before: cur})
		c.objectID = func() string { return cur.ID }
		c.add(phaseConnDelete, 0, func(ctx context.Context, q store.Queries) error { return q.DeleteResource(ctx, tid, cur.ID) })
	}
	return nil
}

func (p *planner) planChains(ctx context.Context) error {
	tid := p.tenant.ID
	current, err := p.q.ListApprovalChains(ctx, tid)
	if err != nil {
		return fmt.Errorf("list approval chains of tenant %s: %w", p.tenant.Slug, err)
	}
	byName := map[string]*accessbot.ApprovalChain{}
	for i := range current {
		byName[current[i].Name] = &current[i]
	}
	inFile := map[string]bool{}
	for _, fc := range p.f.Chains {
		inFile[fc.Name] = true
	}
	// What the store will delete anyway, with a pruned application or connection.
	gone := func(c *accessbot.ApprovalChain) string {
		if a := p.appByID[c.AppID]; a != nil && p.apps[strings.ToLower(a.Name)] == nil && p.f.Prune.Applications {
			return "application " + a.Name + " is deleted"
		}
		if cn := p.connByID[c.ConnectionID]; cn != nil && p.f.Prune.Connections {
			if a := p.appByID[cn.AppID]; a != nil && p.conns[strings.ToLower(a.Name)] != nil && p.conns[strings.ToLower(a.Name)][strings.ToLower(cn.Name)] == nil {
				return "connection " + a.Name + "/" + cn.Name + " is deleted"
			}
		}
		return ""
	}

	for i := range p.f.Chains {
		fc := &p.f.Chains[i]
		cur := byName[fc.Name]
		d := &accessbot.ApprovalChain{TenantID: tid, Name: fc.Name}
		if cur != nil {
			d.ID, d.CreatedAt = cur.ID, cur.CreatedAt
		} else {
			d.ID = newID()
		}
		resolve := func() {
			d.AppID, d.ConnectionID = "", ""
			if fc.Application != "" {
				d.AppID = p.apps[strings.ToLower(fc.Application)].ID
			}
			if fc.Connection != "" {
				d.ConnectionID = p.conns[strings.ToLower(fc.Application)][strings.ToLower(fc.Connection)].ID
			}
			d.Levels = nil
			for _, lv := range fc.Levels {
				l := accessbot.ApprovalLevel{Rule: lv.Rule, Quorum: lv.Quorum, Channel: lv.Channel, ChannelOnly: lv.Channel != "" && !lv.DMs}
				for _, a := range lv.Approvers {
					ap := accessbot.Approver{Kind: a.Kind}
					if a.Kind == accessbot.ApproverUser {
						ap.UserID = p.users[a.Email].ID
					}
					l.Approvers = append(l.Approvers, ap)
				}
				d.Levels = append(d.Levels, l)
			}
		}
		resolve()
		if p.chainIDs == nil {
			p.chainIDs = map[string]string{}
		}
		p.chainIDs[fc.Name] = d.ID

		// Another chain, kept because it is not in the file, must not compete
		// for the same target: which one applies would be a guess.
		for j := range current {
			o := &current[j]
			if !inFile[o.Name] && !p.f.Prune.ApprovalChains && gone(o) == "" && o.AppID == d.AppID && o.ConnectionID == d.ConnectionID && !fc.ChannelsOnly {
				p.errorf(fc.at, "the store has approval chain %q for the same %s and it is not in this file: add it here, or set prune.approval_chains: true", o.Name, p.chainTarget(o.AppID, o.ConnectionID))
			}
		}

		target := p.chainTarget(d.AppID, d.ConnectionID)
		if fc.ChannelsOnly {
			target = "channel routes only"
		}
		if cur == nil {
			c := p.change(&Change{Op: OpCreate, Kind: "approval_chain", Name: fc.Name, Fields: []string{"for " + target, "levels " + p.levelsString(d.Levels)}, at: fc.at, after: d})
			c.objectID = func() string { return d.ID }
			c.add(phaseChainWrite, 0, func(ctx context.Context, q store.Queries) error {
				resolve()
				return q.UpsertApprovalChain(ctx, d)
			})
			continue
		}
		var df diff
		curTarget := p.chainTarget(cur.AppID, cur.ConnectionID)
		if ok, err := p.channelsOnlyNow(ctx, cur.ID); err != nil {
			return err
		} else if ok {
			curTarget = "channel routes only"
		}
		df.ref("for", curTarget, target)
		df.ref("levels", p.levelsString(cur.Levels), p.levelsString(d.Levels))
		if len(df) > 0 {
			c := p.change(&Change{Op: OpUpdate, Kind: "approval_chain", Name: fc.Name, Fields: df, at: fc.at, before: cur, after: d})
			c.objectID = func() string { return d.ID }
			c.add(phaseChainWrite, 0, func(ctx context.Context, q store.Queries) error {
				resolve()
				return q.UpsertApprovalChain(ctx, d)
			})
		}
	}

	for i := range current {
		cur := &current[i]
		if inFile[cur.Name] {
			continue
		}
		why := gone(cur)
		if !p.f.Prune.ApprovalChains && why == "" {
			p.notes = append(p.notes, fmt.Sprintf("approval_chain %s is not in this file: kept (prune.approval_chains: true deletes it)", cur.Name))
			continue
		}
		fields := []string{"for " + p.chainTarget(cur.AppID, cur.ConnectionID)}
		if why != "" {
			fields = append(fields, "because "+why)
		}
		c := p.change(&Change{Op: OpDelete, Kind: "approval_chain", Name: cur.Name, Fields: fields, before: cur})
		c.objectID = func() string { return cur.ID }
		c.add(phaseChainDelete, 0, func(ctx context.Context, q store.Queries) error { return q.DeleteApprovalChain(ctx, tid, cur.ID) })
	}
	return nil
}

// chainTarget names a chain's target by the names in the store or the file.
func (p *planner) chainTarget(appID, connID string) string {
	appName := func(id string) string {
		for _, a := range p.apps {
			if a.ID == id {
				return a.Name
			}
		}
		if a := p.appByID[id]; a != nil {
			return a.Name
		}
		return id
	}
	switch {
	case connID != "":
		for app, conns := range p.conns {
			for _, c := range conns {
				if c.ID == connID {
					return "connection " + p.apps[app].Name + "/" + c.Name
				}
			}
		}
		if c := p.connByID[connID]; c != nil {
			return "connection " + appName(c.AppID) + "/" + c.Name
		}
		return "connection " + connID
	case appID != "":
		return "application " + appName(appID)
	}
	return "tenant default"
}

// levelsString renders levels as "any(manager) then all(owners, user:x@y)".
func (p *planner) levelsString(levels []accessbot.ApprovalLevel) string {
	if len(levels) == 0 {
		return "(none)"
	}
	email := map[string]string{}
	for e, u := range p.users {
		email[u.ID] = e
	}
	for id, u := range p.userByID {
		if email[id] == "" {
			email[id] = accessbot.NormalizeEmail(u.Email)
		}
	}
	parts := make([]string, len(levels))
	for i, l := range levels {
		names := make([]string, len(l.Approvers))
		for j, a := range l.Approvers {
			names[j] = string(a.Kind)
			if a.Kind == accessbot.ApproverUser {
				e := email[a.UserID]
				if e == "" {
					e = a.UserID
				}
				names[j] = "user:" + e
			}
		}
		rule := string(l.Rule)
		if l.Rule == accessbot.RuleQuorum {
			rule = fmt.Sprintf("%d of ", l.Quorum)
		}
		parts[i] = rule + "(" + strings.Join(names, ", ") + ")"
		switch {
		case l.ChannelOnly:
			parts[i] += " only in channel " + l.Channel
		case l.Channel != "":
			parts[i] += " and in channel " + l.Channel
		}
	}
	return strings.Join(parts, " then ")
}

func sortedKeys(a, b map[string]string) []string {
	keys := slices.Collect(maps.Keys(a))
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

func attr(v string, ok bool) string {
	if !ok {
		return "(none)"
	}
	return quote(v)
}

// labelsString shows labels in a diff: "privileged,ops", "" for none.
func labelsString(ls []string) string { return strings.Join(accessbot.NormalizeLabels(ls), ",") }

// newLabels is what a created object's line shows of its labels.
func newLabels(ls []string) []string {
	if len(ls) == 0 {
		return nil
	}
	return []string{"labels " + labelsString(ls)}
}
