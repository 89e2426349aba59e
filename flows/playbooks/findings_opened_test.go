package playbooks_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/findings"
	"github.com/accessbot/accessbot/flows/playbooks"
)

// Findings from the tenant's own tools (POST /api/v1/findings) reach the
// finding playbooks as finding.opened: a finding about an application goes
// to that application's playbooks as well as the global ones, never to
// another application's; a finding already open sends nothing again.
func TestFindingOpenedFromFindingsAPI(t *testing.T) {
	f := newFixture(t, "sqlite", fixtureOpts{})
	ctx := context.Background()
	gitlab := &accessbot.Application{TenantID: f.tenant.ID, Name: "GitLab", Connector: "manual"}
	wiki := &accessbot.Application{TenantID: f.tenant.ID, Name: "Wiki", Connector: "manual"}
	must(t, f.st.CreateApplication(ctx, gitlab))
	must(t, f.st.CreateApplication(ctx, wiki))
	f.playbook("gitlab-findings", accessbot.PlaybookFinding, f.recv.URL(), func(p *accessbot.Playbook) { p.AppID = gitlab.ID })
	f.playbook("wiki-findings", accessbot.PlaybookFinding, f.recv.URL(), func(p *accessbot.Playbook) { p.AppID = wiki.ID })
	f.playbook("all-findings", accessbot.PlaybookFinding, f.recv.URL(), nil)
	f.playbook("requests", accessbot.PlaybookRequest, f.recv.URL(), nil)

	tok, err := findings.NewToken(ctx, f.st, f.tenant.ID, time.Now())
	must(t, err)
	srv := httptest.NewServer(findings.NewHandler(f.st, time.Now, zerolog.Nop()).WithAfterRecord(f.svc.FindingsOpened))
	t.Cleanup(srv.Close)
	post := func() {
		t.Helper()
		body, _ := json.Marshal([]map[string]any{
			{"rule": "scanner.public_repo", "severity": "high", "subject": map[string]string{"kind": "application", "id": gitlab.ID, "display": "GitLab"}},
			{"rule": "scanner.no_mfa", "severity": "medium", "subject": map[string]string{"kind": "employee", "id": "e-1", "display": "Rita"}},
		})
		req, _ := http.NewRequest("POST", srv.URL, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		must(t, err)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("POST findings: HTTP %d", resp.StatusCode)
		}
	}
	post()
	// The GitLab finding: gitlab-findings and all-findings; the employee one: all-findings.
	waitDeliveries(t, f, 3)
	got := eventTypes(t, f)
	want := map[string]int{playbooks.FindingOpened + "/gitlab-findings": 1, playbooks.FindingOpened + "/all-findings": 2}
	for _, g := range got {
		want[g]--
	}
	for k, n := range want {
		if n != 0 {
			t.Fatalf("deliveries %v; %s off by %d", got, k, n)
		}
	}
	post() // already open: seen, not opened
	waitDeliveries(t, f, 3)
	if s := strings.Join(got, " "); strings.Contains(s, "wiki-findings") || strings.Contains(s, "requests") {
		t.Fatalf("deliveries %s reach another application's or type's playbook", s)
	}
}
