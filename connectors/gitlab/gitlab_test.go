package gitlab_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot/connectors/gitlab"
	"github.com/accessbot/accessbot/connectors/gitlab/gitlabfake"
	"github.com/accessbot/accessbot/connectors/outbound"
	"github.com/accessbot/accessbot/internal/secrets"
)

const token = secrets.Secret("glpat-test-token-9d2f71aa")

type bundle struct {
	fake    *gitlabfake.Server
	client  *gitlab.Client
	pid     int64
	project string
	logs    *bytes.Buffer
}

func setup(t *testing.T) bundle {
	t.Helper()
	fake := gitlabfake.Start(token.Reveal())
	t.Cleanup(fake.Close)
	pid := fake.AddProject("platform/access")
	fake.AddUser(gitlabfake.User{ID: 7, Username: "alice", Name: "Alice"})
	fake.AddUser(gitlabfake.User{ID: 8, Username: "bob", Name: "Bob"})

	roots := x509.NewCertPool()
	roots.AddCert(fake.HTTPServer().Certificate())
	al, err := outbound.ParseAllowlist([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	hc := outbound.New(outbound.Options{Allow: al, RootCAs: roots, Timeout: 5 * time.Second}).HTTPClient()
	var logs bytes.Buffer
	c, err := gitlab.New(gitlab.Config{BaseURL: fake.URL(), Token: token}, hc, zerolog.New(&logs))
	if err != nil {
		t.Fatal(err)
	}
	return bundle{fake: fake, client: c, pid: pid, project: "platform/access", logs: &logs}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestCreateIssueIsIdempotentByKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	in := gitlab.NewIssue{Key: "flow-1.step-1", Title: "Grant Editor on grafana to alice", Description: "Requested by alice.", Labels: []string{"access"}}
	first, err := b.client.CreateIssue(ctx(t), b.project, in)
	if err != nil {
		t.Fatal(err)
	}
	// The step is re-run (its answer was lost): same key, no second issue.
	again, err := b.client.CreateIssue(ctx(t), b.project, in)
	if err != nil {
		t.Fatal(err)
	}
	if first.IID != again.IID || b.fake.Issues(b.pid) != 1 || b.fake.Calls("POST", "/issues") != 1 {
		t.Fatalf("iids %d/%d, %d issues, %d creates; want one issue", first.IID, again.IID, b.fake.Issues(b.pid), b.fake.Calls("POST", "/issues"))
	}
	is, _ := b.fake.Issue(b.pid, first.IID)
	if is.Title != in.Title || !strings.HasPrefix(is.Description, "Requested by alice.") || !slices.Equal(is.Labels, []string{"access"}) || is.State != "opened" {
		t.Fatalf("stored issue %+v", is)
	}
	if !strings.HasSuffix(first.WebURL, fmt.Sprintf("/-/issues/%d", first.IID)) {
		t.Fatalf("web url %q", first.WebURL)
	}
	// A different key is a different issue; the project can be named by id too.
	other, err := b.client.CreateIssue(ctx(t), fmt.Sprint(b.pid), gitlab.NewIssue{Key: "flow-1.step-9", Title: "Another"})
	if err != nil || other.IID == first.IID {
		t.Fatalf("second issue: %+v %v", other, err)
	}
}

func TestAddCommentIsIdempotentByKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	iid := b.fake.SeedIssue(b.pid, gitlabfake.Issue{Title: "t"})
	for range 2 {
		if err := b.client.AddComment(ctx(t), b.project, iid, "flow-2.step-3", "Access granted until 5 Dec."); err != nil {
			t.Fatal(err)
		}
	}
	is, _ := b.fake.Issue(b.pid, iid)
	if len(is.Notes) != 1 || !strings.HasPrefix(is.Notes[0].Body, "Access granted until 5 Dec.") {
		t.Fatalf("notes %+v; want exactly one", is.Notes)
	}
	if err := b.client.AddComment(ctx(t), b.project, iid, "flow-2.step-4", "Revoked."); err != nil {
		t.Fatal(err)
	}
	if is, _ = b.fake.Issue(b.pid, iid); len(is.Notes) != 2 {
		t.Fatalf("notes %+v; want two", is.Notes)
	}
}

// Each script run twice: the second run finds the state already true and
// sends no update. Table rows: the call, the PUTs expected over both runs,
// and what the issue must look like after.
func TestStateScriptsAreIdempotent(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		seed  gitlabfake.Issue
		call  func(c *gitlab.Client, ctx context.Context, p string, iid int64) error
		puts  int
		check func(is gitlabfake.Issue) bool
	}{
		{"add label", gitlabfake.Issue{Labels: []string{"access"}},
			func(c *gitlab.Client, ctx context.Context, p string, iid int64) error {
				return c.AddLabel(ctx, p, iid, "granted")
			},
			1, func(is gitlabfake.Issue) bool { return slices.Equal(is.Labels, []string{"access", "granted"}) }},
		{"add label already present", gitlabfake.Issue{Labels: []string{"granted"}},
			func(c *gitlab.Client, ctx context.Context, p string, iid int64) error {
				return c.AddLabel(ctx, p, iid, "granted")
			},
			0, func(is gitlabfake.Issue) bool { return slices.Equal(is.Labels, []string{"granted"}) }},
		{"remove label", gitlabfake.Issue{Labels: []string{"pending", "access"}},
			func(c *gitlab.Client, ctx context.Context, p string, iid int64) error {
				return c.RemoveLabel(ctx, p, iid, "pending")
			},
			1, func(is gitlabfake.Issue) bool { return slices.Equal(is.Labels, []string{"access"}) }},
		{"remove label absent", gitlabfake.Issue{Labels: []string{"access"}},
			func(c *gitlab.Client, ctx context.Context, p string, iid int64) error {
				return c.RemoveLabel(ctx, p, iid, "pending")
			},
			0, func(is gitlabfake.Issue) bool { return slices.Equal(is.Labels, []string{"access"}) }},
		{"close", gitlabfake.Issue{},
			func(c *gitlab.Client, ctx context.Context, p string, iid int64) error {
				return c.CloseIssue(ctx, p, iid)
			},
			1, func(is gitlabfake.Issue) bool { return is.State == "closed" }},
		{"close already closed", gitlabfake.Issue{State: "closed"},
			func(c *gitlab.Client, ctx context.Context, p string, iid int64) error {
				return c.CloseIssue(ctx, p, iid)
			},
			0, func(is gitlabfake.Issue) bool { return is.State == "closed" }},
		{"assign by username, keeping others", gitlabfake.Issue{AssigneeIDs: []int64{8}},
			func(c *gitlab.Client, ctx context.Context, p string, iid int64) error {
				return c.AssignUser(ctx, p, iid, "alice")
			},
			1, func(is gitlabfake.Issue) bool { return slices.Equal(is.AssigneeIDs, []int64{8, 7}) }},
		{"assign already assigned, by id", gitlabfake.Issue{AssigneeIDs: []int64{7}},
			func(c *gitlab.Client, ctx context.Context, p string, iid int64) error {
				return c.AssignUser(ctx, p, iid, "7")
			},
			0, func(is gitlabfake.Issue) bool { return slices.Equal(is.AssigneeIDs, []int64{7}) }},
		{"unassign one of two", gitlabfake.Issue{AssigneeIDs: []int64{7, 8}},
			func(c *gitlab.Client, ctx context.Context, p string, iid int64) error {
				return c.UnassignUser(ctx, p, iid, "@alice")
			},
			1, func(is gitlabfake.Issue) bool { return slices.Equal(is.AssigneeIDs, []int64{8}) }},
		{"unassign the last one", gitlabfake.Issue{AssigneeIDs: []int64{7}},
			func(c *gitlab.Client, ctx context.Context, p string, iid int64) error {
				return c.UnassignUser(ctx, p, iid, "alice")
			},
			1, func(is gitlabfake.Issue) bool { return len(is.AssigneeIDs) == 0 }},
		{"unassign someone not assigned", gitlabfake.Issue{AssigneeIDs: []int64{8}},
			func(c *gitlab.Client, ctx context.Context, p string, iid int64) error {
				return c.UnassignUser(ctx, p, iid, "alice")
			},
			0, func(is gitlabfake.Issue) bool { return slices.Equal(is.AssigneeIDs, []int64{8}) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			tc.seed.Title = "t"
			iid := b.fake.SeedIssue(b.pid, tc.seed)
			for run := 1; run <= 2; run++ {
				if err := tc.call(b.client, ctx(t), b.project, iid); err != nil {
					t.Fatalf("run %d: %v", run, err)
				}
			}
			is, _ := b.fake.Issue(b.pid, iid)
			if !tc.check(is) {
				t.Fatalf("issue after: %+v", is)
			}
			if n := b.fake.Calls("PUT", fmt.Sprintf("/issues/%d", iid)); n != tc.puts {
				t.Fatalf("%d updates sent; want %d", n, tc.puts)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	iid := b.fake.SeedIssue(b.pid, gitlabfake.Issue{Title: "t"})
	for _, tc := range []struct {
		name       string
		fault      *gitlabfake.Fault
		call       func(c *gitlab.Client) error
		status     int
		retryable  bool
		retryAfter time.Duration
		notFound   bool
	}{
		{name: "unknown project", status: 404, notFound: true,
			call: func(c *gitlab.Client) error { return c.CloseIssue(ctx(t), "platform/nope", 1) }},
		{name: "unknown issue", status: 404, notFound: true,
			call: func(c *gitlab.Client) error { return c.AddLabel(ctx(t), b.project, 999, "x") }},
		{name: "unknown user", status: 404, notFound: true,
			call: func(c *gitlab.Client) error { return c.AssignUser(ctx(t), b.project, iid, "mallory") }},
		{name: "rate limited", status: 429, retryable: true, retryAfter: 30 * time.Second,
			fault: &gitlabfake.Fault{Method: "PUT", Status: 429, RetryAfter: 30 * time.Second},
			call:  func(c *gitlab.Client) error { return c.CloseIssue(ctx(t), b.project, iid) }},
		{name: "conflict", status: 409, retryable: true,
			fault: &gitlabfake.Fault{Method: "PUT", Status: 409, Message: "409 Conflict: another update is in progress"},
			call:  func(c *gitlab.Client) error { return c.AddLabel(ctx(t), b.project, iid, "x") }},
		{name: "server error", status: 502, retryable: true,
			fault: &gitlabfake.Fault{Method: "POST", PathSuffix: "/notes", Status: 502},
			call:  func(c *gitlab.Client) error { return c.AddComment(ctx(t), b.project, iid, "k1", "hi") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.fault != nil {
				b.fake.InjectFaults(*tc.fault)
			}
			err := tc.call(b.client)
			var ae *gitlab.APIError
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v; want *gitlab.APIError", err)
			}
			if ae.Status != tc.status || ae.Retryable != tc.retryable || ae.RetryAfter != tc.retryAfter {
				t.Fatalf("got status %d retryable %v retry-after %v; want %d %v %v (%v)", ae.Status, ae.Retryable, ae.RetryAfter, tc.status, tc.retryable, tc.retryAfter, err)
			}
			if errors.Is(err, gitlab.ErrNotFound) != tc.notFound {
				t.Fatalf("errors.Is(ErrNotFound) = %v; want %v", !tc.notFound, tc.notFound)
			}
		})
	}
	if is, _ := b.fake.Issue(b.pid, iid); is.State != "opened" || len(is.Labels) != 0 || len(is.Notes) != 0 {
		t.Fatalf("a refused call changed the issue: %+v", is)
	}
	// Once the fault is gone, the same call succeeds (the job's retry).
	if err := b.client.CloseIssue(ctx(t), b.project, iid); err != nil {
		t.Fatal(err)
	}
}

func TestBadTokenIsClearAndNotShown(t *testing.T) {
	t.Parallel()
	b := setup(t)
	roots := x509.NewCertPool()
	roots.AddCert(b.fake.HTTPServer().Certificate())
	al, _ := outbound.ParseAllowlist([]string{"127.0.0.1"})
	hc := outbound.New(outbound.Options{Allow: al, RootCAs: roots}).HTTPClient()
	var logs bytes.Buffer
	wrong := secrets.Secret("glpat-wrong-token-00112233")
	c, err := gitlab.New(gitlab.Config{BaseURL: b.fake.URL(), Token: wrong}, hc, zerolog.New(&logs))
	if err != nil {
		t.Fatal(err)
	}
	err = c.CloseIssue(ctx(t), b.project, 1)
	var ae *gitlab.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized || ae.Retryable || !strings.Contains(err.Error(), "401 Unauthorized") {
		t.Fatalf("err = %v; want a non-retryable 401 with GitLab's message", err)
	}
	for what, s := range map[string]string{"error": err.Error(), "error %+v": fmt.Sprintf("%+v", err), "logs": logs.String() + b.logs.String()} {
		if strings.Contains(s, wrong.Reveal()) || strings.Contains(s, token.Reveal()) {
			t.Errorf("%s shows a token: %s", what, s)
		}
	}
	if logs.Len() == 0 {
		t.Fatal("the failure was not logged")
	}
}

func TestBlockedBaseURL(t *testing.T) {
	t.Parallel()
	c, err := gitlab.New(gitlab.Config{BaseURL: "https://169.254.169.254", Token: token}, outbound.New(outbound.Options{}).HTTPClient(), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	err = c.CloseIssue(ctx(t), "g/p", 1)
	var ae *gitlab.APIError
	if !errors.Is(err, outbound.ErrBlocked) || !errors.As(err, &ae) || ae.Retryable {
		t.Fatalf("err = %v; want a non-retryable outbound.ErrBlocked", err)
	}
	if _, err := gitlab.New(gitlab.Config{BaseURL: "https://gitlab.example.com"}, http.DefaultClient, zerolog.Nop()); err == nil {
		t.Fatal("a client without a token was accepted")
	}
}
