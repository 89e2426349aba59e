// Package conformance is the one test suite every store.Store backend must
// pass. Each backend calls Run from a small test:
//
//	func TestConformance(t *testing.T) {
//		conformance.Run(t, func(t *testing.T) store.Store { return storetest.Open(t, "sqlite") })
//	}
//
// Tests share a store per topic and isolate themselves with fresh tenants,
// which is cheap and also exercises tenant scoping all the time.
package conformance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

// Opener returns a fresh, migrated, empty store, closed on t's cleanup.
type Opener func(t *testing.T) store.Store

// Run runs the whole suite against stores made by open.
func Run(t *testing.T, open Opener) {
	t.Helper()
	topics := []struct {
		name string
		run  func(t *testing.T, s store.Store)
	}{
		{"Tenants", testTenants},
		{"Workspaces", testWorkspaces},
		{"Users", testUsers},
		{"Applications", testApplications},
		{"Connections", testConnections},
		{"Resources", testResources},
		{"Entitlements", testEntitlements},
		{"GrantEnds", testGrantEnds},                         // grants.go
		{"ConnectionAssignments", testConnectionAssignments}, // grants.go
		{"ApprovalChains", testApprovalChains},
		{"Requests", testRequests},
		{"Decisions", testDecisions},
		{"Audit", testAudit},
		{"Secrets", testSecrets},
		{"MessageRefs", testMessageRefs},
		{"Times", testTimes},
		{"Uniqueness", testUniqueness},
		{"TenantIsolation", testTenantIsolation},
		{"Transactions", testTransactions},
		{"Concurrency", testConcurrency},
		{"Inventory", testInventory}, {"InventoryKeep", testInventoryKeep}, {"ImportSettings", testImportSettings}, {"Findings", testFindings}, {"InventoryIsolation", testInventoryIsolation}, {"InventoryChanges", testInventoryChanges}, {"InventoryWritesOnlyChanges", testInventoryWritesOnlyChanges}, {"IdentitiesFrom", testIdentitiesFrom}, {"EntitlementsFrom", testEntitlementsFrom}, {"IdentityPages", testIdentityPages}, {"MappingsFrom", testMappingsFrom}, {"EntitlementsOf", testEntitlementsOf}, {"UsersOf", testUsersOf},
		{"Reviews", testReviews}, // review.go
		{"Schedules", testSchedules},
		{"ActionFlows", testActionFlows},         // provisioning.go
		{"RevokedAccess", testRevokedAccess},     // provisioning.go
		{"Connectors", testConnectors},           // connectors.go
		{"Playbooks", testPlaybooks},             // playbooks.go
		{"Purposes", testPurposes},               // purposes.go
		{"RequestPolicies", testRequestPolicies}, // policies.go
		{"StepUps", testStepUps},                 // policies.go
		{"SlackIDs", testSlackIDs},               // slackids.go
		{"UserBySlackID", testUserBySlackID},     // slackids.go
		{"HomeVersion", testHomeVersion},         // home.go
	}
	for _, tc := range topics {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, open(t))
		})
	}
}

func ctx() context.Context { return context.Background() }

func randHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// ok fails the test on an unexpected error.
func ok(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// isErr fails unless err wraps want.
func isErr(t *testing.T, err, want error, what string) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

// claims fails unless claim answers want (won or not) without an error.
func claims(t *testing.T, want bool, what string, claim func() (bool, error)) {
	t.Helper()
	won, err := claim()
	ok(t, err, what)
	if won != want {
		t.Fatalf("%s: won %v, want %v", what, won, want)
	}
}

// oneRacerWins runs claim from 8 goroutines at once and fails unless
// exactly one of them wins.
func oneRacerWins(t *testing.T, what string, claim func() (bool, error)) {
	t.Helper()
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			w, err := claim()
			if err != nil {
				t.Errorf("%s: %v", what, err)
			}
			if w {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if n := wins.Load(); n != 1 {
		t.Fatalf("%s: %d racers won, want 1", what, n)
	}
}

// fixedTime is a non-UTC time with nanoseconds, to prove storage rounds and normalizes.
func fixedTime() time.Time {
	return time.Date(2031, 3, 30, 1, 59, 58, 123456789, time.FixedZone("X", 5*3600+1800))
}

func newTenant(t *testing.T, s store.Store) *accessbot.Tenant {
	t.Helper()
	ten := &accessbot.Tenant{Slug: "t-" + randHex(6), Name: "Tenant"}
	ok(t, s.CreateTenant(ctx(), ten), "create tenant")
	return ten
}

func newUser(t *testing.T, q store.Queries, tenantID, email string) *accessbot.User {
	t.Helper()
	u := &accessbot.User{TenantID: tenantID, Email: email, Name: "User " + email, Department: "Eng"}
	ok(t, q.CreateUser(ctx(), u), "create user "+email)
	return u
}

func newApp(t *testing.T, q store.Queries, tenantID, name, ownerID string) *accessbot.Application {
	t.Helper()
	a := &accessbot.Application{TenantID: tenantID, Name: name, Connector: "manual", PrimaryOwnerID: ownerID}
	ok(t, q.CreateApplication(ctx(), a), "create application "+name)
	return a
}

func newConn(t *testing.T, q store.Queries, tenantID, appID, name string) *accessbot.Connection {
	t.Helper()
	c := &accessbot.Connection{TenantID: tenantID, AppID: appID, Name: name, Type: "group"}
	ok(t, q.CreateConnection(ctx(), c), "create connection "+name)
	return c
}

func newRequest(t *testing.T, q store.Queries, tenantID, requesterID, openKey string) *accessbot.AccessRequest {
	t.Helper()
	r := &accessbot.AccessRequest{
		TenantID: tenantID, Kind: accessbot.RequestUserAccess, RequesterID: requesterID, TargetUserID: requesterID,
		Status: accessbot.StatusPending, OpenKey: openKey,
		Levels: []accessbot.ApprovalLevel{{Approvers: []accessbot.Approver{{Kind: accessbot.ApproverManager}}, Rule: accessbot.RuleAny}},
	}
	ok(t, q.CreateRequest(ctx(), r), "create request")
	return r
}
