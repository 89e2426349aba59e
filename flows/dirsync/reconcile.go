package dirsync

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

// RuleDrift is the findings rule of access the directory shows that
// accessbot did not grant: a membership that appeared since the last sync
// with no accessbot grant (request) behind it. The finding is raised,
// never acted on: neither side is overwritten.
const RuleDrift = "connector_access_outside_accessbot"

// Reconciler compares a sync's new relations with accessbot's grants.
type Reconciler struct {
	now func() time.Time
}

type relKey struct{ identity, entitlement string } // internal ids

func (r *Reconciler) relationSet(ctx context.Context, q store.Queries, tenantID, appID string) (map[relKey]bool, error) {
	rels, err := q.ListRelations(ctx, tenantID, appID, false)
	if err != nil {
		return nil, fmt.Errorf("list relations: %w", err)
	}
	set := make(map[relKey]bool, len(rels))
	for _, x := range rels {
		set[relKey{x.IdentityID, x.EntitlementID}] = true
	}
	return set, nil
}

// report raises a drift finding per identity holding, since before, an
// entitlement that no accessbot grant of its employee covers. A grant
// covers an entitlement when its connection (of the same application) is
// named like the entitlement's external id or name, ignoring case.
func (r *Reconciler) report(ctx context.Context, q store.Queries, tenantID string, app *accessbot.Application, before map[relKey]bool, at time.Time) (int, error) {
	rels, err := q.ListRelations(ctx, tenantID, app.ID, false)
	if err != nil {
		return 0, fmt.Errorf("list relations: %w", err)
	}
	var fresh []relKey
	for _, x := range rels {
		if k := (relKey{x.IdentityID, x.EntitlementID}); !before[k] {
			fresh = append(fresh, k)
		}
	}
	if len(fresh) == 0 {
		return 0, nil
	}
	ents, err := q.ListAppEntitlements(ctx, tenantID, app.ID, false)
	if err != nil {
		return 0, fmt.Errorf("list entitlements: %w", err)
	}
	entByID := make(map[string]accessbot.AppEntitlement, len(ents))
	for _, e := range ents {
		entByID[e.ID] = e
	}
	conns, err := q.ListConnections(ctx, tenantID, app.ID)
	if err != nil {
		return 0, fmt.Errorf("list connections: %w", err)
	}
	connByName := map[string][]string{}
	for _, c := range conns {
		n := strings.ToLower(c.Name)
		connByName[n] = append(connByName[n], c.ID)
	}
	owners, err := employees(ctx, q, tenantID)
	if err != nil {
		return 0, err
	}
	byIdentity := map[string][]string{}
	idents := map[string]*accessbot.Identity{}
	grants := map[string]map[string]bool{} // user id → connection ids
	for _, k := range fresh {
		ident, ok := idents[k.identity]
		if !ok {
			if ident, err = q.GetIdentity(ctx, tenantID, k.identity); err != nil {
				return 0, fmt.Errorf("identity %s: %w", k.identity, err)
			}
			idents[k.identity] = ident
		}
		e := entByID[k.entitlement]
		if uid := owners.of(ident); uid != "" {
			g, ok := grants[uid]
			if !ok {
				es, err := q.ListEntitlements(ctx, tenantID, uid)
				if err != nil {
					return 0, fmt.Errorf("grants of %s: %w", uid, err)
				}
				g = map[string]bool{}
				for _, x := range es {
					g[x.ConnectionID] = true
				}
				grants[uid] = g
			}
			if covered(g, connByName[strings.ToLower(e.ExternalID)]) || covered(g, connByName[strings.ToLower(e.Name)]) {
				continue
			}
		}
		byIdentity[k.identity] = append(byIdentity[k.identity], e.Name)
	}
	var ms []accessbot.FindingMatch
	for id, names := range byIdentity {
		ident := idents[id]
		sort.Strings(names)
		disp := app.Name + ": " + ident.ExternalID
		if ident.Email != "" && ident.Email != ident.ExternalID {
			disp += " (" + ident.Email + ")"
		}
		d, _ := json.Marshal(map[string]any{"application": app.Name, "identity_id": ident.ExternalID, "email": ident.Email,
			"entitlements": names, "why": "the directory shows this access but accessbot never granted it"})
		ms = append(ms, accessbot.FindingMatch{Severity: accessbot.SeverityHigh, Subject: accessbot.Subject{Kind: accessbot.SubjectIdentity, ID: id, Display: disp}, Details: d})
	}
	if len(ms) == 0 {
		return 0, nil
	}
	sort.Slice(ms, func(i, k int) bool { return ms[i].Subject.ID < ms[k].Subject.ID })
	if _, err := q.ReportFindings(ctx, tenantID, RuleDrift, ms, at); err != nil {
		return 0, fmt.Errorf("report drift: %w", err)
	}
	return len(ms), nil
}

func covered(grants map[string]bool, conns []string) bool {
	for _, c := range conns {
		if grants[c] {
			return true
		}
	}
	return false
}

// owners maps identities to employees as the findings rules do: an
// explicit mapping, else the employee with the same email.
type owners struct {
	mapped  map[string]string // identity id → user id
	byEmail map[string]string // normalized email → user id
}

func employees(ctx context.Context, q store.Queries, tenantID string) (*owners, error) {
	ms, err := q.ListIdentityMappings(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("list identity mappings: %w", err)
	}
	us, err := q.ListUsers(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	o := &owners{mapped: map[string]string{}, byEmail: map[string]string{}}
	for _, m := range ms {
		o.mapped[m.IdentityID] = m.UserID
	}
	for _, u := range us {
		o.byEmail[accessbot.NormalizeEmail(u.Email)] = u.ID
	}
	return o, nil
}

func (o *owners) of(i *accessbot.Identity) string {
	if u := o.mapped[i.ID]; u != "" {
		return u
	}
	if i.Email == "" {
		return ""
	}
	return o.byEmail[accessbot.NormalizeEmail(i.Email)]
}

// RuleRevocationNotApplied is the findings rule of access accessbot
// revoked that the directory still shows: a deprovisioning flow of the
// grant finished before the sync read the directory, no grant of the same
// access was made since, and the membership is still there. Raised, never
// acted on; resolved by the first sync that no longer sees it.
const RuleRevocationNotApplied = "connector_revocation_not_applied"

// unrevoked raises a RuleRevocationNotApplied finding per identity of app
// that still holds an entitlement whose grant accessbot ended (a done
// deprovisioning flow finished before readAt) and did not grant again,
// and resolves this application's earlier ones that no longer hold.
func (r *Reconciler) unrevoked(ctx context.Context, q store.Queries, tenantID string, app *accessbot.Application, readAt, at time.Time) (int, error) {
	list, err := q.ListRevokedAccess(ctx, tenantID, app.ID, readAt)
	if err != nil {
		return 0, fmt.Errorf("list revoked access: %w", err)
	}
	type access struct{ user, conn string }
	revoked := map[access]*accessbot.RevokedAccess{}
	for i := range list { // oldest first: the latest revocation of each access wins
		revoked[access{list[i].UserID, list[i].ConnectionID}] = &list[i]
	}
	ids, err := q.ListIdentities(ctx, tenantID, app.ID, false)
	if err != nil {
		return 0, fmt.Errorf("list identities: %w", err)
	}
	subjects := make([]string, len(ids))
	for i, x := range ids {
		subjects[i] = x.ID
	}
	var ms []accessbot.FindingMatch
	if len(revoked) > 0 {
		if ms, err = r.unrevokedMatches(ctx, q, tenantID, app, ids, func(user, conn string) *accessbot.RevokedAccess { return revoked[access{user, conn}] }); err != nil {
			return 0, err
		}
	}
	if _, err := q.SyncFindingsOf(ctx, tenantID, RuleRevocationNotApplied, accessbot.SubjectIdentity, subjects, ms, at); err != nil {
		return 0, fmt.Errorf("report revocations not applied: %w", err)
	}
	return len(ms), nil
}

func (r *Reconciler) unrevokedMatches(ctx context.Context, q store.Queries, tenantID string, app *accessbot.Application, ids []accessbot.Identity,
	revokedBy func(user, conn string) *accessbot.RevokedAccess) ([]accessbot.FindingMatch, error) {
	rels, err := q.ListRelations(ctx, tenantID, app.ID, false)
	if err != nil {
		return nil, fmt.Errorf("list relations: %w", err)
	}
	ents, err := q.ListAppEntitlements(ctx, tenantID, app.ID, false)
	if err != nil {
		return nil, fmt.Errorf("list entitlements: %w", err)
	}
	entByID := make(map[string]accessbot.AppEntitlement, len(ents))
	for _, e := range ents {
		entByID[e.ID] = e
	}
	conns, err := q.ListConnections(ctx, tenantID, app.ID)
	if err != nil {
		return nil, fmt.Errorf("list connections: %w", err)
	}
	connByName := map[string][]string{}
	for _, c := range conns {
		n := strings.ToLower(c.Name)
		connByName[n] = append(connByName[n], c.ID)
	}
	identByID := make(map[string]*accessbot.Identity, len(ids))
	for i := range ids {
		identByID[ids[i].ID] = &ids[i]
	}
	owners, err := employees(ctx, q, tenantID)
	if err != nil {
		return nil, err
	}
	grants := map[string]map[string]bool{}
	type held struct{ names, flows []string }
	byIdentity := map[string]*held{}
	for _, rel := range rels {
		ident := identByID[rel.IdentityID]
		if ident == nil {
			continue
		}
		uid := owners.of(ident)
		if uid == "" {
			continue
		}
		e := entByID[rel.EntitlementID]
		cands := append(append([]string{}, connByName[strings.ToLower(e.ExternalID)]...), connByName[strings.ToLower(e.Name)]...)
		for _, c := range cands {
			f := revokedBy(uid, c)
			if f == nil {
				continue
			}
			g, ok := grants[uid]
			if !ok {
				es, err := q.ListEntitlements(ctx, tenantID, uid)
				if err != nil {
					return nil, fmt.Errorf("grants of %s: %w", uid, err)
				}
				g = map[string]bool{}
				for _, x := range es {
					g[x.ConnectionID] = true
				}
				grants[uid] = g
			}
			if g[c] { // granted again since
				continue
			}
			h := byIdentity[ident.ID]
			if h == nil {
				h = &held{}
				byIdentity[ident.ID] = h
			}
			h.names = append(h.names, e.Name)
			h.flows = append(h.flows, f.FlowID+" (done "+f.FinishedAt.UTC().Format(time.RFC3339)+")")
			break
		}
	}
	var ms []accessbot.FindingMatch
	for id, h := range byIdentity {
		ident := identByID[id]
		disp := app.Name + ": " + ident.ExternalID
		if ident.Email != "" && ident.Email != ident.ExternalID {
			disp += " (" + ident.Email + ")"
		}
		d, _ := json.Marshal(map[string]any{"application": app.Name, "identity_id": ident.ExternalID, "email": ident.Email,
			"entitlements": h.names, "deprovisioning_flows": h.flows,
			"why": "accessbot revoked this access but the directory still shows it: check the deprovisioning steps and remove it in the application"})
		ms = append(ms, accessbot.FindingMatch{Severity: accessbot.SeverityHigh, Subject: accessbot.Subject{Kind: accessbot.SubjectIdentity, ID: id, Display: disp}, Details: d})
	}
	sort.Slice(ms, func(i, k int) bool { return ms[i].Subject.ID < ms[k].Subject.ID })
	return ms, nil
}
