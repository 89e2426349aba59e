package tenantfile

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/grants"
	"github.com/accessbot/accessbot/store"
)

// maxNotice bounds an expiry notice's offset: a longer one is a typo.
const maxNotice = 30 * 24 * time.Hour

// Grants is the "grants:" section, the tenant's time-bound access settings;
// left out, the holder is told a day and an hour before the end:
//
//	grants:
//	  expiry_notices: [24h, 1h]   # before a grant's end; [] sends none
type Grants struct {
	ExpiryNotices []time.Duration // longest first
	at            loc
}

func (d *decoder) decodeGrants(top fields, f *File) {
	if !top.has("grants") {
		return
	}
	l := top.loc("grants")
	m := d.mapping(top.vals["grants"], l, "expiry_notices")
	g := &Grants{ExpiryNotices: slices.Clone(grants.DefaultNotices), at: l}
	if m.vals["expiry_notices"] != nil {
		nl := m.loc("expiry_notices")
		g.ExpiryNotices = []time.Duration{}
		seen := map[time.Duration]bool{}
		for i, n := range d.seq(m.vals["expiry_notices"], nl) {
			n = resolve(n)
			p := index(nl.path, i)
			if n.Kind != yaml.ScalarNode {
				d.errorf(n.Line, p, "want a duration before the end such as 24h or 1h, found %s", kindName(n))
				continue
			}
			s := strings.TrimSpace(n.Value)
			dur, err := ParseDuration(s)
			switch {
			case err != nil && !tooShort(s):
				d.errorf(n.Line, p, "%q is not a duration: use e.g. 24h, 90m or 1d", s)
			case err != nil || dur > maxNotice:
				d.errorf(n.Line, p, "%q: want 1m to %s before the end", s, FormatDuration(maxNotice))
			case seen[dur]:
				d.errorf(n.Line, p, "duplicate notice %s", s)
			default:
				seen[dur] = true
				g.ExpiryNotices = append(g.ExpiryNotices, dur)
			}
		}
		slices.SortFunc(g.ExpiryNotices, func(a, b time.Duration) int { return int(b - a) })
	}
	f.Grants = g
}

// tooShort: a Go duration under ParseDuration's minute.
func tooShort(s string) bool {
	d, err := time.ParseDuration(s)
	return err == nil && d < time.Minute
}

// noticeString prints an offset as people write it: 1d, 1h, 1h30m.
func noticeString(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return FormatDuration(d)
	}
	s := strings.TrimSuffix(d.String(), "0s")
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func noticesString(ds []time.Duration) string {
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = noticeString(d)
	}
	return "[" + strings.Join(s, " ") + "]"
}

// planGrants makes the tenant's grant settings those of grants: (when present).
func (p *planner) planGrants(ctx context.Context) error {
	g := p.f.Grants
	if g == nil {
		return nil
	}
	tid := p.tenant.ID
	cur, err := p.q.GetGrantSettings(ctx, tid)
	if notFound(err) {
		cur, err = nil, nil
	}
	if err != nil {
		return fmt.Errorf("read grant settings of tenant %s: %w", p.tenant.Slug, err)
	}
	want := &accessbot.GrantSettings{TenantID: tid, ExpiryNotices: g.ExpiryNotices}
	var df diff
	op := OpUpdate
	if cur == nil {
		op = OpCreate
		df = diff{"expiry_notices " + noticesString(g.ExpiryNotices)}
	} else {
		df.ref("expiry_notices", noticesString(cur.ExpiryNotices), noticesString(g.ExpiryNotices))
	}
	if len(df) == 0 {
		return nil
	}
	c := p.change(&Change{Op: op, Kind: "grants", Name: p.tenant.Slug, Fields: df, at: g.at, before: cur, after: want,
		objectID: func() string { return tid }})
	c.add(phaseSchedules, 0, func(ctx context.Context, q store.Queries) error { return q.PutGrantSettings(ctx, want) })
	return nil
}
