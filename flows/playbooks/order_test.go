package playbooks_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/playbooks"
)

// For an application's event, its integration-specific playbooks run
// before the global ones: the global deliveries start only once the
// integration-specific one's first attempt has ended (here it takes a
// second), though both jobs are ready at once.
func TestIntegrationSpecificRunsBeforeGlobal(t *testing.T) {
	f := newFixture(t, "sqlite", fixtureOpts{timeout: 10 * time.Second})
	type arrival struct {
		name string
		at   time.Time
	}
	var mu sync.Mutex
	var got []arrival
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var env struct {
			Data playbooks.Body `json:"data"`
		}
		_ = json.NewDecoder(r.Body).Decode(&env)
		mu.Lock()
		got = append(got, arrival{env.Data.Playbook.Name, time.Now()})
		mu.Unlock()
		if env.Data.Playbook.Scope == "application" {
			time.Sleep(time.Second) // a slow integration-specific server
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	ctx := context.Background()
	app := &accessbot.Application{TenantID: f.tenant.ID, Name: "GitLab", Connector: "manual"}
	must(t, f.st.CreateApplication(ctx, app))
	f.playbook("a-global", accessbot.PlaybookRequest, srv.URL, nil)
	f.playbook("b-global", accessbot.PlaybookRequest, srv.URL, nil)
	f.playbook("z-gitlab", accessbot.PlaybookRequest, srv.URL, func(p *accessbot.Playbook) { p.AppID = app.ID })

	ev := requestEvent("r1", "approved")
	ev.AppID = app.ID
	runs, err := f.svc.Emit(ctx, f.tenant.ID, ev)
	if err != nil || len(runs) != 3 {
		t.Fatalf("emit: %v, %d runs", err, len(runs))
	}
	for _, r := range runs {
		if run := f.waitRun(r.ID); run.Status != accessbot.RunDelivered {
			t.Fatalf("run %+v", run)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 3 || got[0].name != "z-gitlab" {
		t.Fatalf("arrivals %+v; want z-gitlab first", got)
	}
	for _, a := range got[1:] {
		if d := a.at.Sub(got[0].at); d < time.Second {
			t.Fatalf("%s arrived %s after z-gitlab, before its attempt ended (1s)", a.name, d)
		}
	}
}
