package tenantfile

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/schedule"
	"github.com/accessbot/accessbot/store"
)

// phaseCampaigns runs after applications exist, so campaigns can name new ones.
const phaseCampaigns = phaseRules + 1

// maxCampaignLevels matches reviews.MaxLevels (manager, then owner, ...).
const maxCampaignLevels = 3

// Campaign is one entry of "campaigns:": an access-review campaign that
// launches once (due:) or on every slot of cron: in time_zone:, each launch
// due due_after: later.
type Campaign struct {
	Name           string
	Applications   []string // names
	PrivilegedOnly bool
	Levels         []accessbot.ReviewerRule
	Cron           string
	TimeZone       string
	DueAfter       time.Duration
	Due            *time.Time

	at     loc
	nameAt loc
	appsAt []loc
	dueAt  loc
}

func (d *decoder) decodeCampaigns(top fields, f *File) {
	if top.vals["campaigns"] == nil {
		return
	}
	f.Campaigns = []Campaign{}
	seen := map[string]int{}
	for i, n := range d.seq(top.vals["campaigns"], top.loc("campaigns")) {
		at := loc{line: resolve(n).Line, path: index("campaigns", i)}
		m := d.mapping(n, at, "name", "applications", "privileged_only", "levels", "cron", "time_zone", "due_after", "due")
		c := Campaign{Name: d.required(m, "name"), PrivilegedOnly: d.boolean(m, "privileged_only"),
			Cron: d.str(m, "cron"), TimeZone: d.str(m, "time_zone"), at: at}
		nl := m.loc("name")
		c.nameAt = nl
		if first, dup := seen[strings.ToLower(c.Name)]; dup && c.Name != "" {
			d.errorf(nl.line, nl.path, "duplicate campaign %q (first at line %d)", c.Name, first)
		}
		seen[strings.ToLower(c.Name)] = nl.line
		al := m.loc("applications")
		for j, an := range d.nonEmptySeq(m, "applications", "at least one application is required") {
			an = resolve(an)
			p := loc{line: an.Line, path: index(al.path, j)}
			if an.Kind != yaml.ScalarNode || strings.TrimSpace(an.Value) == "" {
				d.errorf(an.Line, p.path, "want an application name, found %s", kindName(an))
				continue
			}
			c.Applications = append(c.Applications, strings.TrimSpace(an.Value))
			c.appsAt = append(c.appsAt, p)
		}
		ll := m.loc("levels")
		levels := d.nonEmptySeq(m, "levels", "at least one level is required (manager or app_owner)")
		if len(levels) > maxCampaignLevels {
			d.errorf(ll.line, ll.path, "at most %d levels", maxCampaignLevels)
		}
		for j, ln := range levels {
			ln = resolve(ln)
			r := accessbot.ReviewerRule(strings.TrimSpace(ln.Value))
			if ln.Kind != yaml.ScalarNode || !r.Valid() {
				d.errorf(ln.Line, index(ll.path, j), "%q is not a reviewer: want manager or app_owner", ln.Value)
				continue
			}
			c.Levels = append(c.Levels, r)
		}
		c.Due, c.dueAt = d.date(m, "due"), m.loc("due")
		if m.has("due_after") {
			s := d.str(m, "due_after")
			dur, err := ParseDuration(s)
			if l := m.loc("due_after"); err != nil {
				d.errorf(l.line, l.path, "%q: %v", s, err)
			} else if dur < time.Hour {
				d.errorf(l.line, l.path, "%q: give a campaign at least an hour, e.g. 14d", s)
			} else {
				c.DueAfter = dur
			}
		}
		switch {
		case c.Cron != "":
			cl := m.loc("cron")
			if _, err := schedule.ParseExpr(c.Cron); err != nil {
				d.errorf(cl.line, cl.path, "%v", err)
			}
			if c.TimeZone == "" {
				d.errorf(at.line, at.field("time_zone"), "required with cron (an IANA name such as Europe/Berlin)")
			} else if _, err := schedule.LoadZone(c.TimeZone); err != nil {
				l := m.loc("time_zone")
				d.errorf(l.line, l.path, "%v", err)
			}
			if !m.has("due_after") {
				d.errorf(at.line, at.field("due_after"), "required with cron: how long each launch runs, e.g. 14d")
			}
			if m.has("due") {
				l := m.loc("due")
				d.errorf(l.line, l.path, "a recurring campaign has due_after, not due")
			}
		default:
			if m.has("time_zone") {
				l := m.loc("time_zone")
				d.errorf(l.line, l.path, "time_zone goes with cron")
			}
			if !m.has("due") {
				d.errorf(at.line, at.field("due"), "required without cron: the date the campaign is due (2026-07-01)")
			}
			if m.has("due_after") {
				l := m.loc("due_after")
				d.errorf(l.line, l.path, "due_after goes with cron; a one-off campaign has due")
			}
		}
		if c.Due != nil && isDateOnly(d.str(m, "due")) {
			// A bare date is due at the end of that day (UTC); a full RFC 3339
			// time is due at exactly that time.
			t := c.Due.Add(24*time.Hour - time.Second)
			c.Due = &t
		}
		f.Campaigns = append(f.Campaigns, c)
	}
}

// planCampaigns makes the store's file-sourced campaign definitions those
// of the file (when it has a campaigns: key). Recurring reviews started in
// Slack are not the file's: they are never deleted, and a file campaign
// named like one is refused. Applications must be in the file or the
// store. A new or changed one-off campaign whose due date is not after the
// apply's now is refused: it would never launch. One stored earlier and
// left unchanged stays, so a file keeps applying after its due date.
func (p *planner) planCampaigns(ctx context.Context) error {
	if p.f.Campaigns == nil {
		return nil
	}
	tid := p.tenant.ID
	inFile := map[string]bool{}
	for _, a := range p.f.Applications {
		inFile[a.Name] = true
	}
	for _, c := range p.f.Campaigns {
		for i, name := range c.Applications {
			if inFile[name] {
				continue
			}
			if _, err := p.q.GetApplicationByName(ctx, tid, name); notFound(err) {
				p.errorf(c.appsAt[i], "no application %q in this file or in tenant %s", name, p.f.Tenant.Slug)
			} else if err != nil {
				return fmt.Errorf("read application %q: %w", name, err)
			}
		}
	}
	current, err := p.q.ListCampaignDefinitions(ctx, tid)
	if err != nil {
		return fmt.Errorf("list campaigns of tenant %s: %w", p.f.Tenant.Slug, err)
	}
	byName := map[string]*accessbot.CampaignDefinition{}
	fromSlack := map[string]*accessbot.CampaignDefinition{} // by lower-case name, as Slack refuses duplicates
	for i := range current {
		if current[i].FromSlack() {
			fromSlack[strings.ToLower(current[i].Name)] = &current[i]
			continue
		}
		byName[current[i].Name] = &current[i]
	}
	var changes []*Change
	names := map[string]bool{}
	for _, c := range p.f.Campaigns {
		names[c.Name] = true
		if sd := fromSlack[strings.ToLower(c.Name)]; sd != nil {
			p.errorf(c.nameAt, "%q is a recurring review started in Slack, which this file does not manage: give this campaign another name, or stop that review first (/access review stop %s)",
				sd.Name, sd.Name)
			continue
		}
		cur := byName[c.Name]
		var df diff
		desc := campaignDesc(c)
		op := OpCreate
		if cur != nil {
			op = OpUpdate
			df.changed("definition", campaignDescDef(cur, p) == desc, desc)
			if len(df) == 0 {
				continue
			}
		} else {
			df = diff{desc}
		}
		if c.Cron == "" && c.Due != nil && !c.Due.After(p.now) {
			p.errorf(c.dueAt, "%s is already past: a one-off campaign launches when applied, so give a due date after today (or cron: for a recurring one)",
				formatDue(*c.Due))
			continue
		}
		changes = append(changes, &Change{Op: op, Kind: "campaign", Name: c.Name, Fields: df, at: c.at, before: cur, after: desc})
	}
	for i := range current {
		if !names[current[i].Name] && !current[i].FromSlack() {
			changes = append(changes, &Change{Op: OpDelete, Kind: "campaign", Name: current[i].Name, before: &current[i]})
		}
	}
	campaigns := p.f.Campaigns
	for i, ch := range changes {
		name := ch.Name
		ch.objectID = func() string { return name }
		if i == 0 { // one replacement carries every change; applications resolve once they exist
			ch.add(phaseCampaigns, 0, func(ctx context.Context, q store.Queries) error {
				defs, err := resolveCampaigns(ctx, q, p.tenant.ID, campaigns, byName)
				if err != nil {
					return err
				}
				// Keep the Slack-started ones as they are now, in this transaction.
				now, err := q.ListCampaignDefinitions(ctx, p.tenant.ID)
				if err != nil {
					return fmt.Errorf("list campaigns of tenant %s: %w", p.f.Tenant.Slug, err)
				}
				for _, d := range now {
					switch {
					case d.FromSlack() && names[d.Name]:
						return fmt.Errorf("campaign %q was started in Slack since the plan: %w", d.Name, accessbot.ErrConflict)
					case d.FromSlack():
						defs = append(defs, d)
					}
				}
				return q.ReplaceCampaignDefinitions(ctx, p.tenant.ID, defs)
			})
		}
		p.change(ch)
	}
	return nil
}

func resolveCampaigns(ctx context.Context, q store.Queries, tid string, cs []Campaign, cur map[string]*accessbot.CampaignDefinition) ([]accessbot.CampaignDefinition, error) {
	out := make([]accessbot.CampaignDefinition, 0, len(cs))
	for _, c := range cs {
		def := accessbot.CampaignDefinition{TenantID: tid, Name: c.Name, Levels: c.Levels, Cron: c.Cron, TimeZone: c.TimeZone,
			DueAt: c.Due, DueAfter: c.DueAfter, Scope: accessbot.ReviewScope{PrivilegedOnly: c.PrivilegedOnly}}
		if old := cur[c.Name]; old != nil && old.Cron == c.Cron && old.TimeZone == c.TimeZone {
			def.CreatedAt = old.CreatedAt // keep when its schedule began
		}
		for _, name := range c.Applications {
			a, err := q.GetApplicationByName(ctx, tid, name)
			if err != nil {
				return nil, fmt.Errorf("campaign %q: application %q: %w", c.Name, name, err)
			}
			def.Scope.AppIDs = append(def.Scope.AppIDs, a.ID)
		}
		slices.Sort(def.Scope.AppIDs)
		def.Scope.AppIDs = slices.Compact(def.Scope.AppIDs)
		out = append(out, def)
	}
	return out, nil
}

// campaignDesc is how a campaign reads in the diff.
func campaignDesc(c Campaign) string {
	apps := slices.Clone(c.Applications)
	slices.Sort(apps)
	levels := make([]string, len(c.Levels))
	for i, l := range c.Levels {
		levels[i] = string(l)
	}
	s := fmt.Sprintf("applications [%s] levels [%s]", strings.Join(apps, " "), strings.Join(levels, " "))
	if c.PrivilegedOnly {
		s += " privileged_only"
	}
	if c.Cron != "" {
		return s + fmt.Sprintf(" cron %q %s due_after %s", c.Cron, c.TimeZone, FormatDuration(c.DueAfter))
	}
	return s + " due " + formatDue(*c.Due)
}

func isDateOnly(s string) bool {
	_, err := time.Parse(time.DateOnly, s)
	return err == nil
}

// formatDue prints a one-off's due time the way the file gives it: a bare
// date when it is the end of a UTC day, else the RFC 3339 time.
func formatDue(t time.Time) string {
	t = t.UTC()
	if t.Add(time.Second).Equal(t.Add(time.Second).Truncate(24 * time.Hour)) {
		return t.Format(time.DateOnly)
	}
	return t.Format(time.RFC3339)
}

// campaignDescDef describes a stored definition the same way (application names read back).
func campaignDescDef(d *accessbot.CampaignDefinition, p *planner) string {
	c := Campaign{Name: d.Name, PrivilegedOnly: d.Scope.PrivilegedOnly, Levels: d.Levels, Cron: d.Cron, TimeZone: d.TimeZone,
		DueAfter: d.DueAfter, Due: d.DueAt}
	for _, id := range d.Scope.AppIDs {
		a, err := p.q.GetApplication(context.Background(), d.TenantID, id)
		if err != nil {
			c.Applications = append(c.Applications, id)
			continue
		}
		c.Applications = append(c.Applications, a.Name)
	}
	return campaignDesc(c)
}
