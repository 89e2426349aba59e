package grants

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

// ErrNoGrant: the access found in the inventory maps to no connection
// accessbot knows (no connection of the application has the inventory
// entitlement's name) or to no employee, so there is no chain to run.
var ErrNoGrant = errors.New("no connection of the application matches this access")

// RevokeAccess ends what a review item or a finding points at: userID's
// access to the application's inventory entitlement invEntitlementID. The
// connection of the same name (case-insensitive) is the grant's; a grant
// accessbot did not make (imported access) is recorded first, with no
// request, so that it has a deprovisioning flow. It returns the flow.
func (s *Service) RevokeAccess(ctx context.Context, tenantID, appID, userID, invEntitlementID, actorID, reason string) (string, error) {
	var flow string
	err := s.st.InTx(ctx, func(q store.Queries) error {
		var err error
		flow, err = s.RevokeAccessTx(ctx, q, tenantID, appID, userID, invEntitlementID, actorID, reason)
		return err
	})
	return flow, err
}

// RevokeAccessTx is RevokeAccess inside the caller's transaction q (a
// review's decision): the deprovisioning flow and its first job commit with
// it. ErrNoGrant is found before anything is written.
func (s *Service) RevokeAccessTx(ctx context.Context, q store.Queries, tenantID, appID, userID, invEntitlementID, actorID, reason string) (string, error) {
	if userID == "" {
		return "", fmt.Errorf("revoke access: the account maps to no employee: %w", ErrNoGrant)
	}
	ents, err := q.ListAppEntitlements(ctx, tenantID, appID, true)
	if err != nil {
		return "", fmt.Errorf("revoke access: %w", err)
	}
	var name string
	for _, e := range ents {
		if e.ID == invEntitlementID {
			name = e.Name
			if name == "" {
				name = e.ExternalID
			}
		}
	}
	if name == "" {
		return "", fmt.Errorf("revoke access: inventory entitlement %s: %w", invEntitlementID, ErrNoGrant)
	}
	conns, err := q.ListConnections(ctx, tenantID, appID)
	if err != nil {
		return "", fmt.Errorf("revoke access: %w", err)
	}
	for _, c := range conns {
		if strings.EqualFold(c.Name, name) {
			return s.revokeUserConnectionTx(ctx, q, tenantID, userID, c.ID, actorID, reason)
		}
	}
	return "", fmt.Errorf("revoke access to %q: %w", name, ErrNoGrant)
}

// RevokeUserConnection ends userID's grant of a connection, recording the
// grant first when accessbot did not make it.
func (s *Service) RevokeUserConnection(ctx context.Context, tenantID, userID, connID, actorID, reason string) (string, error) {
	var flow string
	err := s.st.InTx(ctx, func(q store.Queries) error {
		var err error
		flow, err = s.revokeUserConnectionTx(ctx, q, tenantID, userID, connID, actorID, reason)
		return err
	})
	return flow, err
}

func (s *Service) revokeUserConnectionTx(ctx context.Context, q store.Queries, tenantID, userID, connID, actorID, reason string) (string, error) {
	g, err := s.grantOf(ctx, q, tenantID, userID, connID)
	if err != nil {
		return "", err
	}
	if g.Ending() {
		return g.EndingFlowID, nil
	}
	return s.endTx(ctx, q, g, actorID, reason, ActionRevoked)
}

// grantOf is userID's grant of connID, recorded now (imported access) when
// there is none. A racing transaction that records it first makes this one
// fail with ErrConflict (try again).
func (s *Service) grantOf(ctx context.Context, q store.Queries, tenantID, userID, connID string) (*accessbot.Entitlement, error) {
	held, err := q.ListEntitlements(ctx, tenantID, userID)
	if err != nil {
		return nil, fmt.Errorf("grants of %s: %w", userID, err)
	}
	for i := range held {
		if held[i].ConnectionID == connID {
			return &held[i], nil
		}
	}
	g := &accessbot.Entitlement{TenantID: tenantID, UserID: userID, ConnectionID: connID, GrantedAt: s.clock().UTC()}
	if err := q.CreateEntitlement(ctx, g); err != nil {
		return nil, fmt.Errorf("record imported grant of %s to %s: %w", userID, connID, err)
	}
	return g, nil
}

// RevokeIdentity ends all of an employee's access to one application (a
// terminated employee's account still active): every grant of theirs on
// its connections, and every inventory relation of the account that maps to
// a connection. It returns the flows started (or already running) and how
// many relations mapped to no connection.
func (s *Service) RevokeIdentity(ctx context.Context, tenantID, appID, identityID, userID, actorID, reason string) (flows []string, unmapped int, err error) {
	conns, err := s.st.ListConnections(ctx, tenantID, appID)
	if err != nil {
		return nil, 0, fmt.Errorf("revoke identity: %w", err)
	}
	byName := map[string]string{}
	inApp := map[string]bool{}
	for _, c := range conns {
		byName[strings.ToLower(c.Name)] = c.ID
		inApp[c.ID] = true
	}
	targets := map[string]bool{}
	held, err := s.st.ListEntitlements(ctx, tenantID, userID)
	if err != nil {
		return nil, 0, fmt.Errorf("revoke identity: %w", err)
	}
	for _, g := range held {
		if inApp[g.ConnectionID] {
			targets[g.ConnectionID] = true
		}
	}
	rels, err := s.st.ListRelations(ctx, tenantID, appID, false)
	if err != nil {
		return nil, 0, fmt.Errorf("revoke identity: %w", err)
	}
	ents, err := s.st.ListAppEntitlements(ctx, tenantID, appID, true)
	if err != nil {
		return nil, 0, fmt.Errorf("revoke identity: %w", err)
	}
	names := map[string]string{}
	for _, e := range ents {
		n := e.Name
		if n == "" {
			n = e.ExternalID
		}
		names[e.ID] = strings.ToLower(n)
	}
	for _, r := range rels {
		if r.IdentityID != identityID {
			continue
		}
		if c, ok := byName[names[r.EntitlementID]]; ok {
			targets[c] = true
		} else {
			unmapped++
		}
	}
	var errs []error
	for _, c := range conns { // connection order: stable
		if !targets[c.ID] {
			continue
		}
		f, err := s.RevokeUserConnection(ctx, tenantID, userID, c.ID, actorID, reason)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		flows = append(flows, f)
	}
	return flows, unmapped, errors.Join(errs...)
}
