package main

import (
	"context"
	"net/http"

	"github.com/accessbot/accessbot/connectors/catalog"
	"github.com/accessbot/accessbot/connectors/outbound"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/flows/stepup"
	"github.com/accessbot/accessbot/handlers"
)

// mountStepUp serves step-up links (GET /stepup/start, /stepup/callback)
// under http.public_url and lets approvers of high-risk requests use them.
// Without a public URL high-risk approvals are refused with a message
// saying step-up is not set up (docs/approval-policies.md).
func (rt *Runtime) mountStepUp(svc *requests.Service, h *handlers.Requests) {
	if rt.Config.HTTP.PublicURL == "" || rt.HTTP == nil {
		return
	}
	// The provider is reached through the tenant's outbound client: SSRF
	// checks and its outbound: allow-list.
	cat := catalog.NewLoader(rt.Store, rt.Keyring, outbound.Options{})
	cfg := stepup.Config{Store: rt.Store, Decider: svc, PublicURL: rt.Config.HTTP.PublicURL, Now: rt.Now, Log: rt.Log,
		HTTPClient: func(ctx context.Context, tenantID string) (*http.Client, error) {
			c, err := cat.HTTP(ctx, tenantID)
			if err != nil {
				return nil, err
			}
			return c.HTTPClient(), nil
		}}
	if rt.Keyring != nil {
		cfg.Keys = rt.Keyring
	}
	su, err := stepup.New(cfg)
	if err != nil {
		rt.Log.Error().Err(err).Msg("step-up disabled")
		return
	}
	su.Register(rt.HTTP)
	h.WithStepUp(su)
}
