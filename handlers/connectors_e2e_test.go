package handlers_test

import (
	"strings"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/flows/dirsync"
	"github.com/accessbot/accessbot/store"
)

// An admin's Home tab shows each directory application's connector
// status (the seed's "Connected" / "Data available", the last sync, its
// counts, the schedule, the last error); a member's does not.
func TestE2EAppHomeConnectorStatus(t *testing.T) {
	e := start(t, e2eOpts{connections: 1, connectors: true})
	ten, err := e.st.GetTenantBySlug(e.ctx, "acme")
	must(t, err)
	ada, err := e.st.GetUserByEmail(e.ctx, ten.ID, "ada@acme.test")
	must(t, err)
	at := time.Date(2026, 3, 2, 6, 0, 0, 0, time.UTC)
	for _, a := range []struct {
		name, connector string
		sync            *accessbot.ConnectorSync
	}{
		{"Entra ID", "azuread", &accessbot.ConnectorSync{Connector: "azuread", LastRunAt: &at, LastOKAt: &at, Summary: "full sync of Entra ID: 12 identities, 3 entitlements, 20 relations"}},
		{"Wiki", "scim", &accessbot.ConnectorSync{Connector: "scim", LastRunAt: &at, LastError: "scim: read users: HTTP 401 (the bearer token was refused: check the connector's token)"}},
		{"Jira", "scim", nil},
		{"GitLab", "gitlab", nil}, // not a directory: not listed
	} {
		app := &accessbot.Application{TenantID: ten.ID, Name: a.name, Connector: a.connector, PrimaryOwnerID: ada.ID}
		must(t, e.st.CreateApplication(e.ctx, app))
		if a.sync != nil {
			a.sync.TenantID, a.sync.AppID = ten.ID, app.ID
			must(t, e.st.PutConnectorSync(e.ctx, a.sync))
		}
	}
	must(t, e.st.PutSchedule(e.ctx, &store.Schedule{TenantID: ten.ID, Job: dirsync.JobName("Entra ID"), Cron: "17 */6 * * *", TimeZone: "UTC", Since: at}))

	e.fake.SendEvent(e.fake.AppHomeOpened(e.team.ID, "UADA"))
	got := e.home("UADA", "Directory connectors")
	for _, want := range []string{
		"*Entra ID* (azuread): *Connected* · Data available",
		"Schedule: `17 */6 * * * UTC`",
		"full sync of Entra ID: 12 identities, 3 entitlements, 20 relations",
		"*Wiki* (scim): *Error* · No data yet",
		"Last error: scim: read users: HTTP 401",
		"*Jira* (scim): *Pending* · No data yet",
		"Last sync: never · Schedule: on demand",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("admin's home lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "GitLab") {
		t.Errorf("a non-directory application is listed:\n%s", got)
	}

	if _, err := e.fake.AddUser(slackfake.User{ID: "UBOB", TeamID: "T1", Name: "bob", Email: "bob@acme.test"}); err != nil {
		t.Fatal(err)
	}
	must(t, e.st.CreateUser(e.ctx, &accessbot.User{TenantID: ten.ID, Email: "bob@acme.test", Name: "Bob", Status: accessbot.UserActive, Role: accessbot.RoleMember}))
	e.fake.SendEvent(e.fake.AppHomeOpened(e.team.ID, "UBOB"))
	if got := e.home("UBOB", "Linked"); strings.Contains(got, "Directory connectors") {
		t.Fatalf("a member sees the connectors:\n%s", got)
	}
}
