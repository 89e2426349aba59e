package playground_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/connectors/outbound"
	"github.com/accessbot/accessbot/connectors/webhook"
	"github.com/accessbot/accessbot/connectors/webhook/receiver"
	"github.com/accessbot/accessbot/internal/secrets"
	"github.com/accessbot/accessbot/playground"
)

// TestWebhooksAPI: the page's /api/webhooks lists what the playground's
// receiver accepted (a signed delivery, its retry counted once), and says
// 404 when the playground has none.
func TestWebhooksAPI(t *testing.T) {
	t.Parallel()
	const secret = "whsec_cGxheWdyb3VuZC10ZXN0LXNlY3JldC0wMTIzNDU2Nzg5"
	rcv, err := receiver.New(secret)
	if err != nil {
		t.Fatal(err)
	}
	hooks := httptest.NewServer(rcv)
	t.Cleanup(hooks.Close)

	fake := slackfake.New()
	t.Cleanup(fake.Close)
	fake.AddTeam(slackfake.Team{ID: "T1", Name: "Acme"})
	if _, err := fake.AddUser(slackfake.User{ID: "UADA", TeamID: "T1", Email: "ada@acme.test"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		webhooks playground.Webhooks
		want     int
	}{{"with a receiver", rcv, http.StatusOK}, {"without", nil, http.StatusNotFound}} {
		t.Run(tc.name, func(t *testing.T) {
			pg, err := playground.New(playground.Config{Fake: fake, TeamID: "T1", People: []playground.Person{{ID: "UADA", Name: "Ada"}},
				Webhooks: tc.webhooks, Log: zerolog.Nop()})
			if err != nil {
				t.Fatal(err)
			}
			srv := newServer(t, pg)
			if tc.webhooks != nil {
				al, _ := outbound.ParseAllowlist([]string{"127.0.0.1"})
				c := webhook.New(outbound.New(outbound.Options{Allow: al}), zerolog.Nop())
				msg := webhook.Message{ID: "msg_1", Type: "playground.grant", Timestamp: time.Now(), Data: map[string]string{"user": "ada@acme.test"}}
				ep := webhook.Endpoint{Name: "grant", URL: hooks.URL + "/hooks/grant", SigningSecrets: []secrets.Secret{secret}}
				for range 2 {
					if _, err := c.Send(context.Background(), ep, msg); err != nil {
						t.Fatal(err)
					}
				}
			}
			resp, err := http.Get(srv.URL + "/api/webhooks")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("GET /api/webhooks = %d, want %d", resp.StatusCode, tc.want)
			}
			if tc.webhooks == nil {
				return
			}
			var got struct {
				Deliveries []receiver.Delivery `json:"deliveries"`
				Stats      receiver.Stats      `json:"stats"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
				t.Fatal(err)
			}
			if len(got.Deliveries) != 1 || got.Deliveries[0].Endpoint != "grant" || got.Deliveries[0].Repeats != 1 ||
				string(got.Deliveries[0].Data) != `{"user":"ada@acme.test"}` || got.Stats != (receiver.Stats{Accepted: 1, Repeats: 1}) {
				t.Fatalf("webhooks %+v", got)
			}
		})
	}
}
