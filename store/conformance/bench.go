package conformance

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

// Sizes of the benchmark tenant: the identity lookups pick among benchUsers
// people, the type-ahead searches benchApps applications.
const (
	benchUsers = 1000
	benchApps  = 500
)

// benchAppWords name the benchmark applications: each word 50 times
// ("gitlab-007"), so a type-ahead query for one word matches 50 of 500.
var benchAppWords = [...]string{"gitlab", "github", "jira", "confluence", "aws", "gcp", "datadog", "pagerduty", "sentry", "okta"}

// Bench measures a backend's hot queries on s, a fresh store. Each backend
// calls it from a tiny benchmark:
//
//	func BenchmarkStore(b *testing.B) { conformance.Bench(b, storetest.Open(b, "sqlite")) }
//
// The operations run against one tenant of benchUsers users and benchApps
// applications, beside a second tenant of the same size, so every query
// also has another tenant's rows to skip.
func Bench(b *testing.B, s store.Store) {
	ten := benchTenant(b, s)
	benchTenant(b, s) // the neighbour

	b.Run("GetUserByEmail", func(b *testing.B) {
		emails := benchEmails(ten.Slug)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			u, err := s.GetUserByEmail(ctx(), ten.ID, emails[i%len(emails)])
			if err != nil || u.TenantID != ten.ID {
				b.Fatalf("get user by email: %v", err)
			}
			i++
		}
	})
	b.Run("GetUserByEmailParallel", func(b *testing.B) {
		emails := benchEmails(ten.Slug)
		var next atomic.Int64
		b.ReportAllocs()
		b.SetParallelism(4) // 4 per CPU: like the Slack workers, more callers than cores
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := next.Add(1)
				if _, err := s.GetUserByEmail(ctx(), ten.ID, emails[int(i)%len(emails)]); err != nil {
					b.Errorf("get user by email: %v", err)
					return
				}
			}
		})
	})
	b.Run("ListApplications/query", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			// What a user has typed so far: "git" matches gitlab-* and github-*.
			q := []string{"git", "Jira", "conf", "duty", "aws-01"}[i%5]
			apps, err := s.ListApplications(ctx(), ten.ID, q, 100)
			if err != nil || len(apps) == 0 {
				b.Fatalf("list applications %q: %d, %v", q, len(apps), err)
			}
			i++
		}
	})
	keys := 0 // open keys used, across the runs of the benchmark
	b.Run("CreateRequest+TransitionRequest", func(b *testing.B) {
		u, err := s.GetUserByEmail(ctx(), ten.ID, benchEmails(ten.Slug)[0])
		if err != nil {
			b.Fatal(err)
		}
		levels := []accessbot.ApprovalLevel{
			{Rule: accessbot.RuleAny, Approvers: []accessbot.Approver{{Kind: accessbot.ApproverManager, UserID: u.ID}}},
			{Rule: accessbot.RuleAny, Approvers: []accessbot.Approver{{Kind: accessbot.ApproverOwners, UserID: u.ID}}},
		}
		b.ReportAllocs()
		for b.Loop() {
			// A new open key each time, as for distinct requesters or
			// connections. (Reusing one key, each insert into PostgreSQL's
			// partial unique index also meets every earlier, dead entry
			// of that key, and slows down linearly until a vacuum.)
			keys++
			r := &accessbot.AccessRequest{
				TenantID: ten.ID, Kind: accessbot.RequestUserAccess, RequesterID: u.ID, TargetUserID: u.ID,
				Duration: 8 * time.Hour, Justification: "Need to fix the release pipeline this week.",
				Status: accessbot.StatusPending, OpenKey: fmt.Sprintf("bench-%d", keys), Levels: levels,
			}
			if err := s.CreateRequest(ctx(), r); err != nil {
				b.Fatalf("create request: %v", err)
			}
			next := *r
			now := time.Now()
			next.Status, next.DecidedAt = accessbot.StatusApproved, &now
			if err := s.TransitionRequest(ctx(), ten.ID, r.ID, accessbot.StatusPending, 0, &next); err != nil {
				b.Fatalf("transition request: %v", err)
			}
		}
	})
	b.Run("AppendAudit", func(b *testing.B) {
		before := json.RawMessage(`{"status":"pending","level":0}`)
		after := json.RawMessage(`{"status":"pending","level":1}`)
		b.ReportAllocs()
		for b.Loop() {
			e := &accessbot.AuditEntry{
				TenantID: ten.ID, ActorID: "system", Action: "request.approved",
				ObjectType: "request", ObjectID: "r-bench", Before: before, After: after,
			}
			if err := s.AppendAudit(ctx(), e); err != nil {
				b.Fatalf("append audit: %v", err)
			}
		}
	})
}

// benchTenant stores a tenant with benchUsers users and benchApps applications.
func benchTenant(b *testing.B, s store.Store) *accessbot.Tenant {
	b.Helper()
	ten := &accessbot.Tenant{Slug: "b-" + randHex(6), Name: "Bench"}
	if err := s.CreateTenant(ctx(), ten); err != nil {
		b.Fatalf("create tenant: %v", err)
	}
	err := s.InTx(ctx(), func(q store.Queries) error {
		var owner string
		for i, email := range benchEmails(ten.Slug) {
			u := &accessbot.User{TenantID: ten.ID, Email: strings.ToLower(email), Name: fmt.Sprintf("User %d", i),
				Department: "Eng", Status: accessbot.UserActive, Role: accessbot.RoleMember}
			if err := q.CreateUser(ctx(), u); err != nil {
				return fmt.Errorf("create user %d: %w", i, err)
			}
			owner = u.ID
		}
		for i := range benchApps {
			a := &accessbot.Application{TenantID: ten.ID, Name: fmt.Sprintf("%s-%03d", benchAppWords[i%len(benchAppWords)], i/len(benchAppWords)),
				Connector: "manual", PrimaryOwnerID: owner}
			if err := q.CreateApplication(ctx(), a); err != nil {
				return fmt.Errorf("create application %d: %w", i, err)
			}
		}
		return nil
	})
	if err != nil {
		b.Fatalf("fill bench tenant: %v", err)
	}
	return ten
}

// benchEmails are the tenant's users' addresses, capitalised as Slack
// profiles sometimes are: lookups must match case-insensitively.
func benchEmails(slug string) []string {
	out := make([]string, benchUsers)
	for i := range out {
		out[i] = fmt.Sprintf("Person.%04d@%s.Example.com", i, slug)
	}
	return out
}
