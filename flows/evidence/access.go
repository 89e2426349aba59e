package evidence

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/internal/report"
	"github.com/accessbot/accessbot/store"
)

// AccessColumns are the access report's columns, in order.
var AccessColumns = []string{"application", "entitlement", "type", "since", "until", "granted_by", "status"}

// AccessTable is what user holds today, and since when: every grant
// accessbot recorded (from a request, a purpose session, or imported
// before accessbot), then what the applications' inventories say their
// accounts hold (uploads and syncs; "since" is when accessbot first saw
// it), each oldest first. An inventory entry an accessbot grant already
// shows (same application, entitlement named as the connection) is not
// repeated.
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
	shown := map[[2]string]bool{} // application id, lower-case entitlement name
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
		if c, err := st.GetConnection(ctx, tenant.ID, g.ConnectionID); err == nil {
			shown[[2]string{c.AppID, strings.ToLower(c.Name)}] = true
		}
	}
	inv, err := inventoryRows(ctx, st, tenant.ID, u, shown)
	if err != nil {
		return report.Table{}, err
	}
	t.Rows = append(t.Rows, inv...)
	return t, nil
}

// inventoryRows are the current relations of u's accounts: identities
// mapped to u, or else with u's email.
func inventoryRows(ctx context.Context, st store.Queries, tenantID string, u *accessbot.User, shown map[[2]string]bool) ([][]string, error) {
	mappings, err := st.ListIdentityMappings(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("identity mappings: %w", err)
	}
	mappedTo := map[string]string{}
	for _, m := range mappings {
		mappedTo[m.IdentityID] = m.UserID
	}
	idents, err := st.ListIdentities(ctx, tenantID, "", false)
	if err != nil {
		return nil, fmt.Errorf("identities: %w", err)
	}
	mine := map[string]*accessbot.Identity{}
	apps := map[string]bool{}
	for i := range idents {
		id := &idents[i]
		owner, ok := mappedTo[id.ID]
		if (ok && owner == u.ID) || (!ok && id.Email != "" && accessbot.NormalizeEmail(id.Email) == accessbot.NormalizeEmail(u.Email)) {
			mine[id.ID], apps[id.AppID] = id, true
		}
	}
	type held struct {
		rel   accessbot.Relation
		ident *accessbot.Identity
	}
	var rels []held
	var entIDs []string
	for _, appID := range slices.Sorted(maps.Keys(apps)) {
		rs, err := st.ListRelations(ctx, tenantID, appID, false)
		if err != nil {
			return nil, fmt.Errorf("relations of %s: %w", appID, err)
		}
		for _, r := range rs {
			if id := mine[r.IdentityID]; id != nil {
				rels = append(rels, held{r, id})
				entIDs = append(entIDs, r.EntitlementID)
			}
		}
	}
	if len(rels) == 0 {
		return nil, nil
	}
	ents, err := st.ListAppEntitlementsOf(ctx, tenantID, entIDs)
	if err != nil {
		return nil, fmt.Errorf("entitlements: %w", err)
	}
	entByID := map[string]*accessbot.AppEntitlement{}
	for i := range ents {
		entByID[ents[i].ID] = &ents[i]
	}
	sort.SliceStable(rels, func(i, j int) bool { return rels[i].rel.CreatedAt.Before(rels[j].rel.CreatedAt) })
	appNames := map[string]string{}
	var out [][]string
	for _, h := range rels {
		e := entByID[h.rel.EntitlementID]
		if e == nil {
			continue // removed meanwhile
		}
		name := e.Name
		if name == "" {
			name = e.ExternalID
		}
		if shown[[2]string{e.AppID, strings.ToLower(name)}] || shown[[2]string{e.AppID, strings.ToLower(e.ExternalID)}] {
			continue
		}
		app, ok := appNames[e.AppID]
		if !ok {
			app = "(deleted application)"
			if a, err := st.GetApplication(ctx, tenantID, e.AppID); err == nil {
				app = a.Name
			}
			appNames[e.AppID] = app
		}
		account := h.ident.ExternalID
		if h.ident.Email != "" && !strings.EqualFold(h.ident.Email, h.ident.ExternalID) {
			account += " (" + h.ident.Email + ")"
		}
		status := "held"
		if h.ident.Status == accessbot.IdentityDisabled {
			status = "held; account disabled"
		}
		out = append(out, []string{app, name, e.Type, h.rel.CreatedAt.UTC().Format(time.RFC3339), "not set by accessbot",
			"the application's inventory, account " + account, status})
	}
	return out, nil
}
