package tenantfile

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

// Imports is the "imports:" section, the tenant's upload settings; a key
// left out takes the default:
//
//	imports:
//	  max_removed_rows: 20      # an upload may remove up to 20 rows of an application...
//	  max_removed_percent: 10   # ...or up to 10% of them; more than both needs --allow-removals
type Imports struct {
	MaxRemovedRows    int
	MaxRemovedPercent int
	at                loc
}

func (d *decoder) decodeImports(top fields, f *File) {
	if !top.has("imports") {
		return
	}
	l := top.loc("imports")
	m := d.mapping(top.vals["imports"], l, "max_removed_rows", "max_removed_percent")
	im := &Imports{MaxRemovedRows: accessbot.DefaultMaxRemovedRows, MaxRemovedPercent: accessbot.DefaultMaxRemovedPercent, at: l}
	whole := func(key string, lo, hi int, want string) (int, bool) {
		s := d.str(m, key)
		kl := m.loc(key)
		v, err := strconv.Atoi(strings.TrimSpace(s))
		switch {
		case err != nil:
			d.errorf(kl.line, kl.path, "%q: want %s", s, want)
		case v < lo || v > hi:
			d.errorf(kl.line, kl.path, "%d: want %s", v, want)
		default:
			return v, true
		}
		return 0, false
	}
	if m.vals["max_removed_rows"] != nil {
		if v, ok := whole("max_removed_rows", 0, 1<<31-1, "a whole number of rows, 0 or more"); ok {
			im.MaxRemovedRows = v
		}
	}
	if m.vals["max_removed_percent"] != nil {
		if v, ok := whole("max_removed_percent", 0, 100, "a whole percentage from 0 to 100 (100 turns the guard off)"); ok {
			im.MaxRemovedPercent = v
		}
	}
	f.Imports = im
}

// planImports makes the tenant's upload settings those of imports: (when present).
func (p *planner) planImports(ctx context.Context) error {
	im := p.f.Imports
	if im == nil {
		return nil
	}
	tid := p.tenant.ID
	cur, err := p.q.GetImportSettings(ctx, tid)
	if notFound(err) {
		cur, err = nil, nil
	}
	if err != nil {
		return fmt.Errorf("read import settings of tenant %s: %w", p.tenant.Slug, err)
	}
	want := &accessbot.ImportSettings{TenantID: tid, MaxRemovedRows: im.MaxRemovedRows, MaxRemovedPercent: im.MaxRemovedPercent}
	rows, pct := strconv.Itoa(im.MaxRemovedRows), strconv.Itoa(im.MaxRemovedPercent)
	var df diff
	op := OpUpdate
	if cur == nil {
		op = OpCreate
		df = diff{"max_removed_rows " + rows, "max_removed_percent " + pct}
	} else {
		df.ref("max_removed_rows", strconv.Itoa(cur.MaxRemovedRows), rows)
		df.ref("max_removed_percent", strconv.Itoa(cur.MaxRemovedPercent), pct)
	}
	if len(df) == 0 {
		return nil
	}
	c := p.change(&Change{Op: op, Kind: "imports", Name: p.tenant.Slug, Fields: df, at: im.at, before: cur, after: want,
		objectID: func() string { return tid }})
	c.add(phaseSchedules, 0, func(ctx context.Context, q store.Queries) error { return q.PutImportSettings(ctx, want) })
	return nil
}
