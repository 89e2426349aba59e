package playbooks_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/dirsync"
	"github.com/accessbot/accessbot/flows/findings"
	"github.com/accessbot/accessbot/flows/inventory"
	"github.com/accessbot/accessbot/flows/playbooks"
	"github.com/accessbot/accessbot/store"
)

func TestSelect(t *testing.T) {
	all := []accessbot.Playbook{
		{Name: "a-global", Type: accessbot.PlaybookRequest, Active: true},
		{Name: "b-app1", Type: accessbot.PlaybookRequest, Active: true, AppID: "app1"},
		{Name: "c-app2", Type: accessbot.PlaybookRequest, Active: true, AppID: "app2"},
		{Name: "d-disabled", Type: accessbot.PlaybookRequest, Active: false},
		{Name: "e-finding", Type: accessbot.PlaybookFinding, Active: true, OnSync: true},
		{Name: "f-review-app1-sync", Type: accessbot.PlaybookReview, Active: true, AppID: "app1", OnSync: true},
		{Name: "g-disabled-sync", Type: accessbot.PlaybookReview, Active: false, OnSync: true},
	}
	for _, tc := range []struct {
		event, app string
		want       []string
	}{
		{playbooks.RequestApproved, "app1", []string{"b-app1", "a-global"}}, // integration-specific first
		{playbooks.RequestCreated, "", []string{"a-global"}},
		{playbooks.FindingOpened, "", []string{"e-finding"}},
		{playbooks.ReviewDecided, "app2", nil},
		{playbooks.SyncCompleted, "app1", []string{"f-review-app1-sync", "e-finding"}},
		{playbooks.SyncCompleted, "app2", []string{"e-finding"}},
	} {
		var got []string
		for _, p := range playbooks.Select(all, tc.event, tc.app) {
			got = append(got, p.Name)
		}
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("Select(%s, %q) = %v; want %v", tc.event, tc.app, got, tc.want)
		}
	}
}

func eventTypes(t *testing.T, f *fixture) []string {
	t.Helper()
	var out []string
	for _, d := range f.recv.Deliveries() {
		var env struct {
			Data playbooks.Body `json:"data"`
		}
		if err := json.Unmarshal(d.Body, &env); err != nil {
			t.Fatal(err)
		}
		out = append(out, env.Data.Type+"/"+env.Data.Playbook.Name)
	}
	return out
}

func waitDeliveries(t *testing.T, f *fixture, n int) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for len(f.recv.Deliveries()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d deliveries after 90s; want %d: %v", len(f.recv.Deliveries()), n, eventTypes(t, f))
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(150 * time.Millisecond) // nothing more may come
	if got := len(f.recv.Deliveries()); got != n {
		t.Fatalf("%d deliveries; want %d: %v", got, n, eventTypes(t, f))
	}
}

// The request notifier's calls (from durable jobs, possibly repeated)
// become request events; a disabled playbook is skipped.
func TestRequestEventsAutomatic(t *testing.T) {
	f := newFixture(t, "sqlite", fixtureOpts{})
	f.playbook("on", accessbot.PlaybookRequest, f.recv.URL(), nil)
	f.playbook("off", accessbot.PlaybookRequest, f.recv.URL(), func(p *accessbot.Playbook) { p.Active = false })
	f.playbook("findings", accessbot.PlaybookFinding, f.recv.URL(), nil)
	n := f.svc.Requests(nil)
	ctx := context.Background()
	r := &accessbot.AccessRequest{ID: "req-1", TenantID: f.tenant.ID, Kind: accessbot.RequestUserAccess, AppID: "app", Status: accessbot.StatusPending}
	for range 2 { // a retried job calls again
		if err := n.RequestCreated(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	r.Status = accessbot.StatusApproved
	if err := n.RequestFinished(ctx, r); err != nil {
		t.Fatal(err)
	}
	r2 := &accessbot.AccessRequest{ID: "req-2", TenantID: f.tenant.ID, Status: accessbot.StatusDenied}
	if err := n.RequestFinished(ctx, r2); err != nil {
		t.Fatal(err)
	}
	r3 := &accessbot.AccessRequest{ID: "req-3", TenantID: f.tenant.ID, Status: accessbot.StatusCancelled}
	if err := n.RequestFinished(ctx, r3); err != nil {
		t.Fatal(err)
	}
	waitDeliveries(t, f, 3)
	got := strings.Join(eventTypes(t, f), " ")
	for _, want := range []string{"request.created/on", "request.approved/on", "request.denied/on"} {
		if !strings.Contains(got, want) {
			t.Fatalf("deliveries %s; want %s", got, want)
		}
	}
	if strings.Contains(got, "/off") {
		t.Fatalf("the disabled playbook fired: %s", got)
	}
}

// A manual upload is a sync: the recurrence playbooks run, and findings it
// opened reach the finding playbooks, queued in the upload's transaction
// (a dry run queues nothing).
func TestSyncAfterUpload(t *testing.T) {
	f := newFixture(t, "sqlite", fixtureOpts{})
	ctx := context.Background()
	app := &accessbot.Application{TenantID: f.tenant.ID, Name: "GitLab", Connector: "manual"}
	if err := f.st.CreateApplication(ctx, app); err != nil {
		t.Fatal(err)
	}
	f.playbook("gitlab-sync", accessbot.PlaybookReview, f.recv.URL(), func(p *accessbot.Playbook) { p.OnSync, p.AppID = true, app.ID })
	f.playbook("global-sync", accessbot.PlaybookFinding, f.recv.URL(), func(p *accessbot.Playbook) { p.OnSync = true })
	f.playbook("no-recurrence", accessbot.PlaybookRequest, f.recv.URL(), nil)
	im := inventory.NewImporter(f.st, findings.NewEngine(time.Now, zerolog.Nop()), time.Now, zerolog.Nop()).WithAfterImport(f.svc.AfterImport)
	csv := "identity_id,email\nghost,ghost@nowhere.example\n" // no such employee: an orphan finding

	if _, err := im.Import(ctx, f.tenant.ID, inventory.Identities, "GitLab", "ids.csv", strings.NewReader(csv), inventory.Options{DryRun: true}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if n := len(f.recv.Deliveries()); n != 0 {
		t.Fatalf("a dry run delivered %d events", n)
	}
	res, err := im.Import(ctx, f.tenant.ID, inventory.Identities, "GitLab", "ids.csv", strings.NewReader(csv), inventory.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Findings == nil || res.Findings.Total().Opened == 0 {
		t.Fatalf("the upload opened no finding: %+v", res.Findings)
	}
	// sync.completed to both recurrence playbooks, finding.opened to the finding playbook.
	waitDeliveries(t, f, 3)
	got := strings.Join(eventTypes(t, f), " ")
	for _, want := range []string{"sync.completed/gitlab-sync", "sync.completed/global-sync", "finding.opened/global-sync"} {
		if !strings.Contains(got, want) {
			t.Fatalf("deliveries %s; want %s", got, want)
		}
	}
}

// A review decision queues review.decided in the decision's transaction.
func TestReviewDecided(t *testing.T) {
	f := newFixture(t, "sqlite", fixtureOpts{})
	f.playbook("reviews", accessbot.PlaybookReview, f.recv.URL(), nil)
	now := time.Now()
	it := accessbot.ReviewItem{ID: "item-1", TenantID: f.tenant.ID, AppID: "a", Status: accessbot.ReviewRevoked, DecidedBy: "u-9", DecidedAt: &now}
	err := f.st.InTx(context.Background(), func(q store.Queries) error { return f.svc.ReviewDecided(context.Background(), q, it) })
	if err != nil {
		t.Fatal(err)
	}
	waitDeliveries(t, f, 1)
	if got := eventTypes(t, f); got[0] != "review.decided/reviews" {
		t.Fatalf("got %v", got)
	}
}

func TestCheckURL(t *testing.T) {
	for _, tc := range []struct {
		url   string
		allow []string
		want  string // "" = accepted
	}{
		{"https://hooks.example.com/a", nil, ""},
		{"http://hooks.example.com/a", nil, "only https"},
		{"http://hooks.corp/a", []string{"hooks.corp"}, ""},
		{"https://10.1.2.3/", nil, "non-public"},
		{"https://10.1.2.3/", []string{"10.0.0.0/8"}, ""},
		{"https://[::ffff:169.254.169.254]/", nil, "non-public"},
		{"https://127.0.0.1:8443/", nil, "non-public"},
		{"https://localhost/", nil, "localhost"},
		{"ftp://hooks.example.com/", nil, "want https"},
		{"hooks.example.com/a", nil, "not an absolute URL"},
		{"https://user:pw@hooks.example.com/", nil, "credentials"},
		{"", nil, "required"},
	} {
		err := playbooks.CheckURL(tc.url, tc.allow)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("CheckURL(%q, %v) = %v; want accepted", tc.url, tc.allow, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("CheckURL(%q, %v) = %v; want an error with %q", tc.url, tc.allow, err, tc.want)
		}
	}
}

// dirSource is a directory of two accounts in one group, read in full
// every time: the connector side of a sync, which this test does not test.
type dirSource struct{}

func (dirSource) Read(_ context.Context, _ string, _ *dirsync.Current, rel dirsync.RelationWriter) (*dirsync.Read, error) {
	if err := rel.Write("u1", "g1"); err != nil {
		return nil, err
	}
	return &dirsync.Read{Full: true, Cursor: "c1",
		Identities:   []dirsync.Identity{{ExternalID: "u1", Email: "u1@acme.test"}, {ExternalID: "u2", Email: "u2@acme.test"}},
		Entitlements: []dirsync.Entitlement{{ExternalID: "g1", Name: "devs", Type: "group"}}}, nil
}

// A connector sync (flows/dirsync) runs the recurrence playbooks after
// every written snapshot, once per sync however many files it wrote; a
// dry run and playbooks without the recurrence send nothing.
func TestSyncAfterConnectorSync(t *testing.T) {
	f := newFixture(t, "sqlite", fixtureOpts{})
	ctx := context.Background()
	app := &accessbot.Application{TenantID: f.tenant.ID, Name: "Entra", Connector: "azuread"}
	if err := f.st.CreateApplication(ctx, app); err != nil {
		t.Fatal(err)
	}
	f.playbook("entra-sync", accessbot.PlaybookReview, f.recv.URL(), func(p *accessbot.Playbook) { p.OnSync, p.AppID = true, app.ID })
	f.playbook("no-recurrence", accessbot.PlaybookRequest, f.recv.URL(), nil)
	sy := dirsync.New(f.st, findings.NewEngine(time.Now, zerolog.Nop()), time.Now, zerolog.Nop()).WithAfterImport(f.svc.AfterImport)

	if _, err := sy.Sync(ctx, f.tenant.ID, app, dirSource{}, dirsync.Options{DryRun: true, TempDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 2; i++ {
		res, err := sy.Sync(ctx, f.tenant.ID, app, dirSource{}, dirsync.Options{TempDir: t.TempDir()})
		if err != nil || !res.Written {
			t.Fatalf("sync %d: %+v, %v", i, res, err)
		}
		waitDeliveries(t, f, i) // the dry run sent nothing, each sync one event
	}
	ids := map[string]bool{}
	for _, d := range f.recv.Deliveries() {
		var env struct {
			Data struct {
				playbooks.Body
				Object playbooks.SyncObject `json:"object"`
			} `json:"data"`
		}
		if err := json.Unmarshal(d.Body, &env); err != nil {
			t.Fatal(err)
		}
		if env.Data.Type != playbooks.SyncCompleted || env.Data.Playbook.Name != "entra-sync" || env.Data.Trigger.Kind != playbooks.TriggerSync ||
			env.Data.Object.AppName != "Entra" || d.Rejected != "" {
			t.Fatalf("delivery %s (rejected %q); want sync.completed of Entra to entra-sync", d.Body, d.Rejected)
		}
		ids[d.ID] = true
	}
	if len(ids) != 2 {
		t.Fatalf("%d distinct event ids over two syncs; want 2", len(ids))
	}
}
