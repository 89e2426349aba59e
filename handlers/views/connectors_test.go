package views_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/blockkit"
	. "github.com/accessbot/accessbot/handlers/views"
)

func js(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestHomeConnectorsGolden(t *testing.T) {
	at := time.Date(2026, 3, 2, 6, 0, 0, 0, time.UTC)
	rows := []ConnectorStatus{
		{App: "Entra ID", Connector: "azuread", Status: "Connected", Message: "Data available", LastSync: &at, Schedule: "17 */6 * * * UTC",
			Counts: "delta sync of Entra ID: 12 identities, 3 entitlements, 20 relations"},
		{App: "Wiki <prod>", Connector: "scim", Status: "Error", Message: "Data available (from the last good sync)", LastSync: &at,
			LastError: "scim: read users: HTTP 401 (the bearer token was refused: check the connector's token)"},
		{App: "Jira", Connector: "scim", Status: "Pending", Message: "No data yet"},
	}
	blocks := HomeConnectors(rows)
	golden(t, "home_connectors", blocks)
	if !strings.Contains(js(t, blocks[2]), "Wiki \\u0026lt;prod\\u0026gt;") {
		t.Errorf("the name is not escaped: %v", blocks[2])
	}

	// Many applications: ten shown, the rest counted; the home view stays valid.
	var many []ConnectorStatus
	for i := range 25 {
		many = append(many, ConnectorStatus{App: fmt.Sprintf("App %d", i), Connector: "scim", Status: "Pending", Message: "No data yet"})
	}
	blocks = HomeConnectors(many)
	if len(blocks) != 12 || !strings.Contains(js(t, blocks[11]), "and 15 more") {
		t.Fatalf("%d blocks; last %v", len(blocks), blocks[len(blocks)-1])
	}
	home := Home(HomeInfo{Tenant: tenant, User: accessbot.User{Name: "Ada", Email: "ada@acme.test", Role: accessbot.RoleAdmin}})
	home.Blocks.BlockSet = append(home.Blocks.BlockSet, blocks...)
	if err := blockkit.ValidateHome(home); err != nil {
		t.Fatal(err)
	}
	if b := HomeConnectors(nil); len(b) != 2 || b[1].BlockType() != slack.MBTContext {
		t.Fatalf("empty: %v", b)
	}
}
