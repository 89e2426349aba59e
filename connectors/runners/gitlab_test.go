package runners

import (
	"context"
	"crypto/x509"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/accessbot/accessbot/connectors/gitlab/gitlabfake"
	"github.com/accessbot/accessbot/connectors/outbound"
	"github.com/accessbot/accessbot/flows/provision"
)

const testGitLabToken = "glpat-TOPSECRET-abcdef"

func gitlabEnv(t *testing.T) (*env, *gitlabfake.Server, int64) {
	t.Helper()
	srv := gitlabfake.Start(testGitLabToken)
	t.Cleanup(srv.Close)
	pid := srv.AddProject("it/access")
	srv.AddUser(gitlabfake.User{ID: 42, Username: "ops-lead", Name: "Ops Lead"})
	roots := x509.NewCertPool()
	roots.AddCert(srv.HTTPServer().Certificate())
	e := newEnv(t, outbound.Options{RootCAs: roots})
	e.connector("git", "gitlab", map[string]string{"base_url": srv.URL(), "project": "it/access"}, map[string]string{"token": testGitLabToken})
	e.allow("127.0.0.1")
	return e, srv, pid
}

// TestGitLabRunnerChain runs the issue scripts the way a flow does: create,
// then later steps on the iid it put in the outputs; each step twice, as a
// retry after a lost answer would, changing nothing the second time.
func TestGitLabRunnerChain(t *testing.T) {
	t.Parallel()
	e, srv, pid := gitlabEnv(t)
	r := NewGitLab(e.cat, e.log)
	ctx := context.Background()
	outputs := map[string]string{}
	steps := []struct {
		typ    string
		params map[string]string
	}{
		{"gitlab_issue_create", map[string]string{"title": "Grant ada Editor on grafana", "description": "Requested by bob", "labels": "access, grafana"}},
		{"gitlab_issue_add_comment", map[string]string{"body": "Approved by carol"}},
		{"gitlab_issue_add_label", map[string]string{"label": "approved"}},
		{"gitlab_issue_remove_label", map[string]string{"label": "grafana"}},
		{"gitlab_issue_assign_user", map[string]string{"user": "ops-lead"}},
		{"gitlab_issue_unassign_user", map[string]string{"user": "ops-lead"}},
		{"gitlab_issue_close", nil},
	}
	for i, st := range steps {
		s := e.step(st.typ, i, st.params)
		s.Fields.Outputs = outputs
		for attempt := range 2 {
			res, err := r.Run(ctx, s)
			if err != nil {
				t.Fatalf("%s (attempt %d): %v", st.typ, attempt+1, err)
			}
			for k, v := range res.Outputs {
				outputs[k] = v
			}
			if res.Note == "" || res.Wait {
				t.Fatalf("%s: result %+v", st.typ, res)
			}
		}
	}
	if outputs[OutputIssueIID] == "" || !strings.HasSuffix(outputs[OutputIssueURL], "/issues/1") {
		t.Fatalf("outputs %v", outputs)
	}
	if n := srv.Issues(pid); n != 1 {
		t.Fatalf("%d issues, want 1 (the retried create must find the first)", n)
	}
	is, _ := srv.Issue(pid, 1)
	if is.State != "closed" || !slices.Equal(is.Labels, []string{"access", "approved"}) || len(is.Notes) != 1 || len(is.AssigneeIDs) != 0 {
		t.Fatalf("issue %+v", is)
	}
}

func TestGitLabRunnerErrors(t *testing.T) {
	t.Parallel()
	e, srv, _ := gitlabEnv(t)
	r := NewGitLab(e.cat, e.log)
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		fault     *gitlabfake.Fault
		typ       string
		params    map[string]string
		permanent bool
		want      string
	}{
		{"5xx is retried", &gitlabfake.Fault{Status: http.StatusBadGateway}, "gitlab_issue_create", map[string]string{"title": "x"}, false, "HTTP 502"},
		{"429 is retried", &gitlabfake.Fault{Status: http.StatusTooManyRequests}, "gitlab_issue_create", map[string]string{"title": "x"}, false, "HTTP 429"},
		{"403 is permanent", &gitlabfake.Fault{Status: http.StatusForbidden, Message: "403 Forbidden"}, "gitlab_issue_create", map[string]string{"title": "x"}, true, "HTTP 403"},
		{"unknown project", nil, "gitlab_issue_create", map[string]string{"title": "x", "project": "nope/nope"}, true, "404"},
		{"no issue to close", nil, "gitlab_issue_close", nil, true, "parameter issue"},
		{"missing title", nil, "gitlab_issue_create", nil, true, "parameter title is required"},
		{"unknown user", nil, "gitlab_issue_assign_user", map[string]string{"issue": "1", "user": "nobody"}, true, `no GitLab user "nobody"`},
	} {
		if tc.fault != nil {
			srv.InjectFaults(*tc.fault)
		}
		_, err := r.Run(ctx, e.step(tc.typ, 0, tc.params))
		if err == nil || provision.IsPermanent(err) != tc.permanent || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v (permanent %v), want %q, permanent %v", tc.name, err, provision.IsPermanent(err), tc.want, tc.permanent)
		}
		e.noSecret(err)
	}
	// A wrong token: GitLab's 401 is permanent and the error does not hold the token.
	e.connector("git", "gitlab", map[string]string{"base_url": srv.URL(), "project": "it/access"}, map[string]string{"token": "glpat-WRONG-TOKEN-zzz"})
	_, err := r.Run(ctx, e.step("gitlab_issue_create", 0, map[string]string{"title": "x"}))
	if !provision.IsPermanent(err) || !strings.Contains(err.Error(), "401") {
		t.Fatalf("wrong token: %v", err)
	}
	e.noSecret(err)
}
