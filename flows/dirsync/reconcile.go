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
// never acted on: neither side is overwritten. It is resolved once the
// identity holds none of the access it named.
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

// driftDetails is a drift finding's details: the entitlements by name
// (for people) and by external id (to find them again next sync).
type driftDetails struct {
	Application    string   `json:"application"`
	IdentityID     string   `json:"identity_id"`
	Email          string   `json:"email"`
	Entitlements   []string `json:"entitlements"`
	EntitlementIDs []string `json:"entitlement_ids,omitempty"`
	Why            string   `json:"why"`
}

// report raises a drift finding per identity of app holding an
// entitlement that no accessbot grant of its employee covers, when that
// membership appeared since the last sync (before) or an open drift
// finding already named it. A grant covers an entitlement when its
// connection (of the same application) is named like the entitlement's
// external id or name, ignoring case. A finding keeps every entitlement it
// named while the identity still holds it uncovered, and is resolved by
// the first sync after which none is left (the membership was removed, or
// accessbot granted it since); neither side is ever changed.
func (r *Reconciler) report(ctx context.Context, q store.Queries, tenantID string, app *accessbot.Application, before map[relKey]bool, at time.Time) (int, error) {
	rels, err := q.ListRelations(ctx, tenantID, app.ID, false)
	if err != nil {
		return 0, fmt.Errorf("list relations: %w", err)
	}
	ids, err := q.ListIdentities(ctx, tenantID, app.ID, true) // removed ones too: their findings resolve
	if err != nil {
		return 0, fmt.Errorf("list identities: %w", err)
	}
	identByID := make(map[string]*accessbot.Identity, len(ids))
	for i := range ids {
		identByID[ids[i].ID] = &ids[i]
	}
	ents, err := q.ListAppEntitlements(ctx, tenantID, app.ID, false)
	if err != nil {
		return 0, fmt.Errorf("list entitlements: %w", err)
	}
	entByID := make(map[string]accessbot.AppEntitlement, len(ents))
	for _, e := range ents {
		entByID[e.ID] = e
	}
	// What open drift findings of this application's identities named.
	open, err := q.ListFindings(ctx, tenantID, accessbot.FindingFilter{Rule: RuleDrift,
		Statuses: []accessbot.FindingStatus{accessbot.FindingOpen, accessbot.FindingAcknowledged}})
	if err != nil {
		return 0, fmt.Errorf("list drift findings: %w", err)
	}
	named := map[string]map[string]bool{} // identity id → entitlement external ids and names
	for _, f := range open {
		if f.Subject.Kind != accessbot.SubjectIdentity || identByID[f.Subject.ID] == nil {
			continue
		}
		var d driftDetails
		_ = json.Unmarshal(f.Details, &d) // unreadable details name nothing
		set := map[string]bool{}
		for _, x := range append(d.EntitlementIDs, d.Entitlements...) {
			set[x] = true
		}
		named[f.Subject.ID] = set
	}
	var cands []relKey
	for _, x := range rels {
		k := relKey{x.IdentityID, x.EntitlementID}
		e := entByID[x.EntitlementID]
		if n := named[x.IdentityID]; !before[k] || n[e.ExternalID] || (len(n) > 0 && n[e.Name]) {
			cands = append(cands, k)
		}
	}
	if len(cands) == 0 && len(named) == 0 {
		return 0, nil
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
	type held struct{ names, ids []string }
	byIdentity := map[string]*held{}
	grants := map[string]map[string]bool{} // user id → connection ids
	for _, k := range cands {
		ident := identByID[k.identity]
		if ident == nil {
			continue
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
		h := byIdentity[k.identity]
		if h == nil {
			h = &held{}
			byIdentity[k.identity] = h
		}
		h.names, h.ids = append(h.names, e.Name), append(h.ids, e.ExternalID)
	}
	ms := make([]accessbot.FindingMatch, 0, len(byIdentity))
	for id, h := range byIdentity {
		ident := identByID[id]
		disp := app.Name + ": " + ident.ExternalID
		if ident.Email != "" && ident.Email != ident.ExternalID {
			disp += " (" + ident.Email + ")"
		}
		sort.Strings(h.names)
		sort.Strings(h.ids)
		d, _ := json.Marshal(driftDetails{Application: app.Name, IdentityID: ident.ExternalID, Email: ident.Email,
			Entitlements: h.names, EntitlementIDs: h.ids, Why: "the directory shows this access but accessbot never granted it"})
		ms = append(ms, accessbot.FindingMatch{Severity: accessbot.SeverityHigh, Subject: accessbot.Subject{Kind: accessbot.SubjectIdentity, ID: id, Display: disp}, Details: d})
	}
	sort.Slice(ms, func(i, k int) bool { return ms[i].Subject.ID < ms[k].Subject.ID })
	// Only these identities can have a drift finding to open, keep or
	// resolve: the ones an open finding names, and the ones drifting now.
	subjects := make([]string, 0, len(named)+len(ms))
	for id := range named {
		subjects = append(subjects, id)
	}
	for _, m := range ms {
		if named[m.Subject.ID] == nil {
			subjects = append(subjects, m.Subject.ID)
		}
	}
	sort.Strings(subjects)
	if _, err := q.SyncFindingsOf(ctx, tenantID, RuleDrift, accessbot.SubjectIdentity, subjects, ms, at); err != nil {
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
