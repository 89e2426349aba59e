package main

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot/flows/provision"
	"github.com/accessbot/accessbot/internal/config"
	"github.com/accessbot/accessbot/internal/httpserver"
	"github.com/accessbot/accessbot/internal/secrets"
	"github.com/accessbot/accessbot/store/storetest"
)

type registrar struct{ kinds []string }

func (r *registrar) Register(k provision.Kind, _ provision.Runner) {
	r.kinds = append(r.kinds, string(k))
}
func (r *registrar) RegisterProvider(k provision.Kind, p string, _ provision.Runner) {
	r.kinds = append(r.kinds, string(k)+":"+p)
}

// TestRegisterConnectors: the connector runners go to the engine, and the
// email approval links are served on the public listener once
// http.public_url and encryption.key are set.
func TestRegisterConnectors(t *testing.T) {
	keys, err := secrets.NewKeyring(secrets.Key{ID: "k1", Key: make([]byte, secrets.KeySize)})
	if err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{}
	cfg.HTTP.PublicURL = "https://accessbot.example.com"
	srv := httpserver.New("127.0.0.1:0", "", zerolog.Nop())
	rt := &Runtime{Config: cfg, Store: storetest.Open(t, "sqlite"), Keyring: keys, HTTP: srv, Now: time.Now, Log: zerolog.Nop()}
	var reg registrar
	if steps := rt.registerConnectors(&reg, nil, nil); steps != nil {
		t.Fatal("Slack steps without Slack")
	}
	if want := []string{"webhook:", "gitlab_issue", "email", "api:azuread", "api:scim"}; !slices.Equal(reg.kinds, want) {
		t.Fatalf("registered %v, want %v", reg.kinds, want)
	}
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/approvals/email/forged.token.here", nil))
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "This link is not valid") {
		t.Fatalf("link route: %d %s", rec.Code, rec.Body.String())
	}
}
