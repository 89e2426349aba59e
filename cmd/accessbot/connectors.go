package main

import (
	"github.com/accessbot/accessbot/connectors/azuread"
	"github.com/accessbot/accessbot/connectors/catalog"
	"github.com/accessbot/accessbot/connectors/outbound"
	"github.com/accessbot/accessbot/connectors/runners"
	"github.com/accessbot/accessbot/connectors/scim"
	"github.com/accessbot/accessbot/flows/provision"
	"github.com/accessbot/accessbot/handlers"
)

// registerConnectors registers the connector runners on the provisioning
// engine (reg): {provider}_webhook_{endpoint}, gitlab_issue_* and email_*
// over the tenants' connectors: (docs/connectors.md), and, with Slack
// (notifier not nil), the Slack steps slack_approval and
// slack_notification, whose handlers also answer the manual step's Done /
// Can't do it buttons (the manual runner itself is the notifier's Fulfilment). email_approval's links are served
// on the public listener when http.public_url and encryption.key are set.
// It returns the Slack steps' button handlers for handlers.Deps.Steps (nil
// without Slack).
func (rt *Runtime) registerConnectors(reg runners.Registrar, resolver provision.Resolver, notifier *handlers.Notifier) *handlers.Steps {
	cat := catalog.NewLoader(rt.Store, rt.Keyring, outbound.Options{})
	var links *runners.Links
	if rt.Config.HTTP.PublicURL != "" && rt.Keyring.CanSeal() {
		links = runners.NewLinks(rt.Keyring, rt.Config.HTTP.PublicURL, rt.Now)
		runners.NewLinkHandler(links, resolver, rt.Store, rt.Log).Mount(rt.HTTP)
	}
	runners.Register(reg, runners.NewWebhook(cat, rt.Log), runners.NewGitLab(cat, rt.Log), runners.NewEmail(cat, rt.Store, links, rt.Log))
	reg.RegisterProvider(provision.KindProviderAPI, azuread.Provider, azuread.NewRunner(rt.Store, rt.Keyring, rt.Log))
	reg.RegisterProvider(provision.KindProviderAPI, scim.Provider, scim.NewRunner(rt.Store, rt.Keyring, rt.Log))
	if notifier == nil {
		return nil
	}
	steps := handlers.NewSteps(notifier, rt.Store, resolver, rt.Log)
	reg.Register(provision.KindSlack, steps)
	return steps
}
