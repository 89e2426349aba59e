package azuread_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/connectors/azuread"
	"github.com/accessbot/accessbot/connectors/azuread/graphfake"
	"github.com/accessbot/accessbot/flows/provision"
	"github.com/accessbot/accessbot/internal/secrets"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/storetest"
)

// The runner a running accessbot registers builds its client from the
// tenant file's connector: settings in the store, the secret sealed.
func TestRunnerFromStoredConnector(t *testing.T) {
	ctx := context.Background()
	f := graphfake.New()
	defer f.Close()
	alice := f.PutUser(graphfake.User{UPN: "alice@contoso.com", DisplayName: "Alice", AccountEnabled: true})
	sales := f.PutGroup(graphfake.Group{DisplayName: "Sales"})

	st := storetest.Open(t, "sqlite")
	ten := &accessbot.Tenant{Slug: "contoso", Name: "Contoso"}
	must(t, st.CreateTenant(ctx, ten))
	keys, err := secrets.NewKeyring(secrets.Key{ID: "k1", Key: bytes.Repeat([]byte{7}, secrets.KeySize)})
	must(t, err)
	must(t, st.PutConnector(ctx, &store.Connector{TenantID: ten.ID, Name: "entra", Type: azuread.Type, Settings: map[string]string{
		"tenant_id": f.TenantID, "client_id": f.ClientID, "authority_url": f.URL(), "graph_url": f.GraphURL(), "client_secret_env": "ENTRA_SECRET"}}))
	sn := store.ConnectorSecretName("entra", "client_secret")
	kid, ct, err := keys.Seal([]byte(f.ClientSecret), secrets.AAD(ten.ID, sn))
	must(t, err)
	must(t, st.PutSecret(ctx, &accessbot.Secret{TenantID: ten.ID, Name: sn, KeyID: kid, Ciphertext: ct}))

	r := azuread.NewRunner(st, keys, zerolog.Nop())
	s := step("add_user_to_group", nil)
	s.TenantID = ten.ID
	s.Fields.Application.Connector = "entra"
	// The fake listens on loopback: refused until the tenant allows it.
	if _, err := r.Run(ctx, s); err == nil || !strings.Contains(err.Error(), "allow-listed") {
		t.Fatalf("loopback without an allow-list: %v", err)
	}
	must(t, st.PutOutboundAllow(ctx, ten.ID, []string{"127.0.0.1"}))
	// A changed connector (allow-list aside) builds a new client; the
	// allow-list is read per build, so touch the connector.
	must(t, st.PutConnector(ctx, &store.Connector{TenantID: ten.ID, Name: "entra", Type: azuread.Type, Settings: map[string]string{
		"tenant_id": f.TenantID, "client_id": f.ClientID, "authority_url": f.URL(), "graph_url": f.GraphURL(), "client_secret_env": "ENTRA_SECRET"}}))
	if _, err := r.Run(ctx, s); err != nil {
		t.Fatal(err)
	}
	if !f.IsMember(sales, alice) {
		t.Fatal("alice not added")
	}
	s.Op, s.Type = "remove_user_from_group", "azuread_api_remove_user_from_group"
	if _, err := r.Run(ctx, s); err != nil || f.IsMember(sales, alice) {
		t.Fatalf("remove: %v", err)
	}
	must(t, st.PutConnector(ctx, &store.Connector{TenantID: ten.ID, Name: "hooks", Type: "webhook", Settings: map[string]string{"url": "https://example.com"}}))
	s.Fields.Application.Connector = "hooks"
	if _, err := r.Run(ctx, s); !provision.IsPermanent(err) || !strings.Contains(err.Error(), "connector hooks is of type webhook") {
		t.Fatalf("unknown connector label: %v", err)
	}
}
