package evidence

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/internal/report"
	"github.com/accessbot/accessbot/store"
)

// AccessColumns are the access report's columns, in order.
var AccessColumns = []string{"application", "entitlement", "type", "since", "until", "granted_by", "status"}

// AccessTable is what user holds today, and since when: every grant
// accessbot recorded (from a request, a purpose session, or imported
// before accessbot), oldest first.
func AccessTable(ctx context.Context, st store.Queries, tenant *accessbot.Tenant, u *accessbot.User, generated time.Time) (report.Table, error) {
	gs, err := st.ListEntitlements(ctx, tenant.ID, u.ID)
	if err != nil {
		return report.Table{}, fmt.Errorf("grants of %s: %w", u.Email, err)
	}
	sort.SliceStable(gs, func(i, j int) bool { return gs[i].GrantedAt.Before(gs[j].GrantedAt) })
	name := u.Name
	if name == "" {
		name = u.Email
	}
	t := report.Table{Title: "Access held by " + name + " <" + u.Email + ">", Tenant: tenant.Name, To: generated, Generated: generated,
		Columns: AccessColumns, Widths: []float64{2, 2, 1, 1.6, 1.6, 3, 1.6}}
	for _, g := range gs {
		app, conn, typ := "(deleted application)", g.ConnectionID, ""
		if c, err := st.GetConnection(ctx, tenant.ID, g.ConnectionID); err == nil {
			conn, typ = c.Name, c.Type
			if a, err := st.GetApplication(ctx, tenant.ID, c.AppID); err == nil {
				app = a.Name
			}
		}
		until := "permanent"
		if g.ExpiresAt != nil {
			until = g.ExpiresAt.UTC().Format(time.RFC3339)
		}
		by := "imported (held before accessbot)"
		if g.RequestID != "" {
			by = "request " + g.RequestID
			if r, err := st.GetRequest(ctx, tenant.ID, g.RequestID); err == nil {
				if s := sessionOf(*r); s != "" {
					by = "purpose session " + s
					until = "end of the session"
				}
			}
		}
		status := "held"
		if g.Ending() {
			status = "being removed"
		}
		t.Rows = append(t.Rows, []string{app, conn, typ, g.GrantedAt.UTC().Format(time.RFC3339), until, by, status})
	}
	return t, nil
}
