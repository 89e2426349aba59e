package tenantfile

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/internal/secrets"
	"github.com/accessbot/accessbot/store"
)

// Route is one entry of the "channels:" section: what `/access request`
// typed in a Slack channel does.
//
//	channels:
//	  - channel: C0DATATEAM            # the channel id
//	    chain: data-team               # for applications without a chain of their own
//	    applications: [Snowflake, Looker]  # offered first, the first preselected
type Route struct {
	Channel      string
	Chain        string   // a chain of the file without application, "" for none
	Applications []string // names of the file's applications

	at, channelAt, chainAt loc
	appsAt                 []loc
}

// decodeRoutes reads "channels:"; absent leaves the store's routes alone.
func (d *decoder) decodeRoutes(top fields, f *File) {
	if !top.has("channels") {
		return
	}
	l := top.loc("channels")
	f.Routes = []Route{}
	f.routesSet, f.routesAt = true, l
	for i, n := range d.seq(top.vals["channels"], l) {
		at := loc{line: resolve(n).Line, path: index(l.path, i)}
		m := d.mapping(n, at, "channel", "chain", "applications")
		r := Route{at: at, channelAt: m.loc("channel"), chainAt: m.loc("chain")}
		r.Channel = strings.TrimPrefix(d.required(m, "channel"), "#")
		if r.Channel != "" && !channelIDRE.MatchString(r.Channel) {
			d.errorf(r.channelAt.line, r.channelAt.path, "%q is not a Slack channel id (like C0123ABCD; in Slack: channel details, at the bottom)", r.Channel)
		}
		r.Chain = d.str(m, "chain")
		al := m.loc("applications")
		for j, an := range d.seq(m.vals["applications"], al) {
			an = resolve(an)
			p := loc{line: an.Line, path: index(al.path, j)}
			if an.Kind != yaml.ScalarNode || strings.TrimSpace(an.Value) == "" {
				d.errorf(p.line, p.path, "want an application name, found %s", kindName(an))
				continue
			}
			r.Applications = append(r.Applications, strings.TrimSpace(an.Value))
			r.appsAt = append(r.appsAt, p)
		}
		if r.Chain == "" && len(r.Applications) == 0 {
			d.errorf(at.line, at.path, "say chain:, applications: or both (what a request made in the channel does)")
		}
		f.Routes = append(f.Routes, r)
	}
}

// checkRoutes checks the routes' references: each channel once, chains of
// the file without an application, applications of the file; and that a
// channels_only chain is named by a route.
func (d *decoder) checkRoutes(f *File, apps map[string]*Application, chains map[string]*Chain) {
	seen := map[string]int{}
	named := map[string]bool{}
	for i := range f.Routes {
		r := &f.Routes[i]
		if first, dup := seen[r.Channel]; dup {
			d.errorf(r.channelAt.line, r.channelAt.path, "channel %s is routed twice (first at line %d)", r.Channel, first)
		}
		seen[r.Channel] = r.channelAt.line
		if r.Chain != "" {
			c := chains[strings.ToLower(r.Chain)]
			switch {
			case c == nil:
				d.errorf(r.chainAt.line, r.chainAt.path, "no approval chain %q in this file", r.Chain)
			case c.Application != "":
				d.errorf(r.chainAt.line, r.chainAt.path, "chain %q is application %s's own; a channel's chain is for any application without one, so it has no application (add one with channels_only: true)", c.Name, c.Application)
			default:
				r.Chain = c.Name
				named[strings.ToLower(c.Name)] = true
			}
		}
		for j, name := range r.Applications {
			a := apps[strings.ToLower(name)]
			if a == nil {
				d.errorf(r.appsAt[j].line, r.appsAt[j].path, "no application %q in this file", name)
				continue
			}
			r.Applications[j] = a.Name
		}
	}
	for i := range f.Chains {
		c := &f.Chains[i]
		if !c.ChannelsOnly {
			continue
		}
		switch {
		case c.Application != "":
			d.errorf(c.channelsOnlyAt.line, c.channelsOnlyAt.path, "a channels_only chain has no application (it is for requests made in a routed channel)")
		case !named[strings.ToLower(c.Name)]:
			d.errorf(c.channelsOnlyAt.line, c.channelsOnlyAt.path, "no entry of channels: names chain %q", c.Name)
		}
	}
}

// planPolicy brings the tenant's request policies in line with the file:
// the channel routes (when channels: is present) and which chains are for
// channels only.
func (p *planner) planPolicy(ctx context.Context) error {
	tid := p.tenant.ID
	cur, err := p.q.GetRequestPolicy(ctx, tid)
	if notFound(err) {
		cur, err = nil, nil
	}
	if err != nil {
		return fmt.Errorf("read request policies of tenant %s: %w", p.tenant.Slug, err)
	}
	want := &accessbot.RequestPolicy{TenantID: tid}
	if cur != nil {
		c := *cur
		want = &c
	}
	build := func() {
		want.ChannelChains = nil
		for _, c := range p.f.Chains {
			if c.ChannelsOnly {
				want.ChannelChains = append(want.ChannelChains, p.chainIDs[c.Name])
			}
		}
		if p.f.routesSet {
			want.Channels = []accessbot.ChannelRoute{}
			for _, r := range p.f.Routes {
				cr := accessbot.ChannelRoute{ChannelID: r.Channel}
				if r.Chain != "" {
					cr.ChainID = p.chainIDs[r.Chain]
				}
				for _, a := range r.Applications {
					cr.AppIDs = append(cr.AppIDs, p.apps[strings.ToLower(a)].ID)
				}
				want.Channels = append(want.Channels, cr)
			}
		}
		p.buildOnBehalf(want)
		p.buildRisk(want, cur)
	}
	build()
	var before accessbot.RequestPolicy
	if cur != nil {
		before = *cur
	}
	var df diff
	df.ref("channels", p.routesString(before.Channels), p.routesString(want.Channels))
	df.ref("channels_only chains", p.chainNames(before.ChannelChains), p.chainNames(want.ChannelChains))
	p.diffOnBehalf(&df, before.OnBehalf, want.OnBehalf)
	secretChanged, err := p.diffRisk(ctx, &df, before, *want)
	if err != nil {
		return err
	}
	if len(df) == 0 {
		return nil
	}
	op := OpUpdate
	if cur == nil {
		op = OpCreate
	}
	c := p.change(&Change{Op: op, Kind: "request_policy", Name: p.tenant.Slug, Fields: df, at: p.f.policyAt(), before: cur, after: want,
		objectID: func() string { return tid }})
	keys, secret := p.keys, p.stepUpSecret
	c.add(phaseSchedules, 0, func(ctx context.Context, q store.Queries) error {
		build() // ids of objects created in this apply are final now
		if secretChanged {
			sn := accessbot.StepUpSecretName
			keyID, ct, err := keys.Seal([]byte(secret.Reveal()), secrets.AAD(tid, sn))
			if err != nil {
				return fmt.Errorf("seal the step-up client secret: %w", err)
			}
			if err := q.PutSecret(ctx, &accessbot.Secret{TenantID: tid, Name: sn, KeyID: keyID, Ciphertext: ct}); err != nil {
				return err
			}
		}
		return q.PutRequestPolicy(ctx, want)
	})
	return nil
}

// policyAt is where the file declares its request policies.
func (f *File) policyAt() loc {
	switch {
	case f.routesSet:
		return f.routesAt
	case f.OnBehalf != nil:
		return f.OnBehalf.at
	case f.StepUp != nil:
		return f.StepUp.at
	case f.RiskPolicy != nil:
		return f.RiskPolicy.at
	}
	return loc{}
}

func (p *planner) chainNames(ids []string) string {
	var out []string
	for _, id := range ids {
		out = append(out, p.chainName(id))
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

// chainName names a chain id, planned or stored.
func (p *planner) chainName(id string) string {
	for name, cid := range p.chainIDs {
		if cid == id {
			return name
		}
	}
	return id
}

func (p *planner) appNameByID(id string) string {
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

// routesString renders routes as "C0DATA→data-team[Snowflake Looker]".
func (p *planner) routesString(rs []accessbot.ChannelRoute) string {
	var out []string
	for _, r := range rs {
		s := r.ChannelID + "→" + none(p.chainName(r.ChainID))
		if len(r.AppIDs) > 0 {
			var names []string
			for _, id := range r.AppIDs {
				names = append(names, p.appNameByID(id))
			}
			s += "[" + strings.Join(names, " ") + "]"
		}
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

// channelsOnlyNow reports whether the store's policies make chain id a
// channels-only chain.
func (p *planner) channelsOnlyNow(ctx context.Context, id string) (bool, error) {
	if p.curPolicy == nil {
		cur, err := p.q.GetRequestPolicy(ctx, p.tenant.ID)
		switch {
		case notFound(err):
			cur = &accessbot.RequestPolicy{}
		case err != nil:
			return false, fmt.Errorf("read request policies of tenant %s: %w", p.tenant.Slug, err)
		}
		p.curPolicy = cur
	}
	return slices.Contains(p.curPolicy.ChannelChains, id), nil
}
