package handlers_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/handlers"
)

// A failed run reaches each active admin once, however often the report
// job runs; a delivered run and members get nothing.
func TestPlaybookFailureReportedOnce(t *testing.T) {
	e := &reviewOnce{onceEnv: newOnceEnv(t, "sqlite", time.Minute)}
	owen := e.users["owen"]
	owen.Role = accessbot.RoleAdmin
	rqMust(t, e.st.UpdateUser(context.Background(), owen))
	r := handlers.NewPlaybookReporter(e.st, handlers.ReviewNotifierConfig{Now: e.clock.Now, Log: zerolog.Nop(),
		Clients: handlers.ChatClientsFunc(func(context.Context, string) (handlers.ChatAPI, error) { return e.cl, nil })})
	p := &accessbot.Playbook{ID: "pb1", TenantID: owen.TenantID, Name: "open-ticket"}
	ok := &accessbot.PlaybookRun{ID: "run0", TenantID: owen.TenantID, Status: accessbot.RunDelivered, EventType: "request.approved"}
	failed := &accessbot.PlaybookRun{ID: "run1", TenantID: owen.TenantID, Status: accessbot.RunFailed, EventType: "request.approved",
		EventID: "msg_1", Attempts: 8, ResponseStatus: 500, Error: "the server answered HTTP 500: down"}
	rqMust(t, r.RunFinished(context.Background(), p, ok))
	for range 3 { // the report job retried
		rqMust(t, r.RunFinished(context.Background(), p, failed))
	}
	got := e.dmTexts("owen")
	if len(got) != 1 || !strings.Contains(got[0], "open-ticket failed") || !strings.Contains(got[0], "HTTP 500") {
		t.Fatalf("owen's DMs %q; want one failure report", got)
	}
	for name, u := range e.users {
		if u.Role != accessbot.RoleAdmin && len(e.dmTexts(name)) != 0 {
			t.Fatalf("member %s was told: %q", name, e.dmTexts(name))
		}
	}
	e.onePostPerKey(t)
}
