package runners

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot/connectors/catalog"
	"github.com/accessbot/accessbot/connectors/outbound"
	"github.com/accessbot/accessbot/connectors/webhook"
	"github.com/accessbot/accessbot/flows/provision"
	"github.com/accessbot/accessbot/internal/secrets"
)

// Webhook runs {provider}_webhook_{endpoint}: the provider is the name of
// a webhook connector, the endpoint replaces {endpoint} in its URL. The
// body's data is the step's rendered params; the webhook-id is the step's
// key, so a receiver drops a retry it already processed.
type Webhook struct {
	cat *catalog.Loader
	log zerolog.Logger
	now func() time.Time
}

// NewWebhook builds the webhook runner.
func NewWebhook(cat *catalog.Loader, log zerolog.Logger) *Webhook {
	return &Webhook{cat: cat, log: log, now: time.Now}
}

var _ provision.Runner = (*Webhook)(nil)

func (w *Webhook) Run(ctx context.Context, s provision.Step) (provision.Result, error) {
	in, err := w.cat.Find(ctx, s.TenantID, catalog.Webhook, s.Provider)
	if err != nil {
		return provision.Result{}, setupErr(err)
	}
	hc, err := w.cat.HTTP(ctx, s.TenantID)
	if err != nil {
		return provision.Result{}, setupErr(err)
	}
	ep := webhook.Endpoint{Name: in.Name + "/" + s.Op, URL: strings.ReplaceAll(in.Settings["url"], "{endpoint}", s.Op), Bearer: in.Secret("bearer")}
	if sec := in.Secret("signing_secret"); sec.IsSet() {
		ep.SigningSecrets = []secrets.Secret{sec}
	}
	data := map[string]string{}
	for k, v := range s.Params {
		if k != "connector" {
			data[k] = v
		}
	}
	// The body's timestamp is when the step first ran: with the webhook-id,
	// the same on every retry, so a receiver sees one event.
	at := s.Started
	if at.IsZero() {
		at = w.now()
	}
	msg := webhook.Message{ID: stableID(s.Key), Type: in.Name + "." + s.Op, Timestamp: at, Data: data}
	res, err := webhook.New(hc, w.log).Send(ctx, ep, msg)
	if err != nil {
		var de *webhook.DeliveryError
		if errors.As(err, &de) && (!de.Retryable || errors.Is(de.Err, outbound.ErrBlocked) || errors.Is(de.Err, outbound.ErrInsecureScheme)) {
			return provision.Result{}, provision.Permanent(err)
		}
		return provision.Result{}, err
	}
	return provision.Result{Note: fmt.Sprintf("webhook %s delivered (HTTP %d)", ep.Name, res.Status)}, nil
}
