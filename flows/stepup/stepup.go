// Package stepup makes an approver of a high-risk request re-authenticate
// with the tenant's OpenID Connect provider before the approval counts
// (issue 16). The Approve click gets a short-lived, single-use link to
// accessbot's HTTP server (Begin); opening it sends the approver to the
// provider with max_age=0 and prompt=login, so the provider asks again; the
// callback checks the ID token (signature, audience, nonce, auth_time) and
// that its email is the approver's, and only then records the approval,
// once. A mismatch, an expired or replayed link, or a provider error
// records nothing and says why.
package stepup

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/rs/zerolog"
	"golang.org/x/oauth2"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/internal/secrets"
)

// Paths served under http.public_url.
const (
	StartPath    = "/stepup/start"
	CallbackPath = "/stepup/callback"
)

// DefaultTTL is how long a step-up link and its round trip may take.
const DefaultTTL = 5 * time.Minute

// authTimeSkew tolerates clocks a little apart when checking that the
// provider authenticated the approver after the link was opened.
const authTimeSkew = 30 * time.Second

// Store is what step-up reads and writes; store.Queries has it.
type Store interface {
	GetRequest(ctx context.Context, tenantID, id string) (*accessbot.AccessRequest, error)
	GetUser(ctx context.Context, tenantID, id string) (*accessbot.User, error)
	GetRequestPolicy(ctx context.Context, tenantID string) (*accessbot.RequestPolicy, error)
	GetSecret(ctx context.Context, tenantID, name string) (*accessbot.Secret, error)
	CreateStepUp(ctx context.Context, s *accessbot.StepUp) error
	GetStepUp(ctx context.Context, tenantID, id string) (*accessbot.StepUp, error)
	GetStepUpByState(ctx context.Context, tenantID, state string) (*accessbot.StepUp, error)
	StartStepUp(ctx context.Context, tenantID, id, state, nonce string, now time.Time) error
	CompleteStepUp(ctx context.Context, tenantID, id string, now time.Time) error
}

// Decider records the approval; *requests.Service is one.
type Decider interface {
	Decide(ctx context.Context, in requests.DecideInput) (*requests.Outcome, error)
}

// Opener opens sealed tenant secrets; *secrets.Keyring is one.
type Opener interface {
	Open(keyID string, ciphertext, aad []byte) ([]byte, error)
}

// Config wires a Service.
type Config struct {
	Store   Store
	Decider Decider
	Keys    Opener // nil: providers without a client secret only
	// PublicURL is http.public_url: links and the redirect URI are under it.
	PublicURL string
	TTL       time.Duration // default DefaultTTL
	Now       func() time.Time
	// HTTPClient is the outbound client for the tenant's provider (SSRF
	// checks and the tenant's allow-list); nil uses http.DefaultClient.
	HTTPClient func(ctx context.Context, tenantID string) (*http.Client, error)
	Log        zerolog.Logger
}

// Service begins step-ups and serves their links.
type Service struct{ cfg Config }

// New builds a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Decider == nil {
		return nil, errors.New("stepup: Store and Decider are required")
	}
	if cfg.PublicURL == "" {
		return nil, errors.New("stepup: http.public_url is required (the step-up links and the OIDC redirect URI are under it)")
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{cfg: cfg}, nil
}

// TTL is how long a link stays valid.
func (s *Service) TTL() time.Duration { return s.cfg.TTL }

// RedirectURL is the redirect URI to register with the tenant's provider.
func (s *Service) RedirectURL() string { return s.cfg.PublicURL + CallbackPath }

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

func hashToken(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}

func random() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// Begin makes a single-use link for approverID to approve request
// requestID at level once they re-authenticate. Only the token's hash is
// stored. Whether the approver may approve is checked again when the
// approval is recorded.
func (s *Service) Begin(ctx context.Context, tenantID, requestID string, level int, approverID string) (string, error) {
	p, err := s.cfg.Store.GetRequestPolicy(ctx, tenantID)
	if err != nil && !errors.Is(err, accessbot.ErrNotFound) {
		return "", fmt.Errorf("begin step-up: %w", err)
	}
	if p == nil || p.StepUp == nil {
		return "", fmt.Errorf("begin step-up: %w", ErrNoProvider)
	}
	tok := random()
	su := &accessbot.StepUp{TenantID: tenantID, ID: hashToken(tok), RequestID: requestID, Level: level, ApproverID: approverID,
		ExpiresAt: s.now().Add(s.cfg.TTL)}
	if err := s.cfg.Store.CreateStepUp(ctx, su); err != nil {
		return "", fmt.Errorf("begin step-up: %w", err)
	}
	return s.cfg.PublicURL + StartPath + "?t=" + tenantID + "." + tok, nil
}

// ErrNoProvider: the tenant has no step_up: provider in its tenant file.
var ErrNoProvider = errors.New("the tenant has no step-up provider (step_up: in the tenant file)")

// Register adds the link's two routes to mux.
func (s *Service) Register(mux interface {
	Handle(pattern string, h http.Handler)
}) {
	mux.Handle("GET "+StartPath, http.HandlerFunc(s.start))
	mux.Handle("GET "+CallbackPath, http.HandlerFunc(s.callback))
}

// provider builds the tenant's OIDC client, discovery through the
// tenant's outbound client.
func (s *Service) provider(ctx context.Context, tenantID string) (context.Context, *oidc.Provider, *oauth2.Config, error) {
	p, err := s.cfg.Store.GetRequestPolicy(ctx, tenantID)
	if err != nil || p.StepUp == nil {
		return nil, nil, nil, ErrNoProvider
	}
	if s.cfg.HTTPClient != nil {
		hc, err := s.cfg.HTTPClient(ctx, tenantID)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("outbound client: %w", err)
		}
		ctx = oidc.ClientContext(ctx, hc)
	}
	prov, err := oidc.NewProvider(ctx, p.StepUp.Issuer)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("discover %s: %w", p.StepUp.Issuer, err)
	}
	oc := &oauth2.Config{ClientID: p.StepUp.ClientID, Endpoint: prov.Endpoint(), RedirectURL: s.RedirectURL(),
		Scopes: []string{oidc.ScopeOpenID, "email"}}
	if p.StepUp.HasSecret {
		sec, err := s.cfg.Store.GetSecret(ctx, tenantID, accessbot.StepUpSecretName)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("step-up client secret: %w", err)
		}
		if s.cfg.Keys == nil {
			return nil, nil, nil, errors.New("step-up client secret: encryption.key is not set")
		}
		plain, err := s.cfg.Keys.Open(sec.KeyID, sec.Ciphertext, secrets.AAD(tenantID, accessbot.StepUpSecretName))
		if err != nil {
			return nil, nil, nil, fmt.Errorf("open step-up client secret: %w", err)
		}
		oc.ClientSecret = string(plain)
	}
	return ctx, prov, oc, nil
}

// start opens a link: once, before it expires, it sends the approver to
// the provider.
func (s *Service) start(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	tenantID, tok, ok := strings.Cut(r.URL.Query().Get("t"), ".")
	if !ok || tenantID == "" || tok == "" {
		s.page(w, http.StatusBadRequest, "This link is not valid", "Click Approve again in Slack for a new one.")
		return
	}
	su, err := s.cfg.Store.GetStepUp(ctx, tenantID, hashToken(tok))
	switch {
	case errors.Is(err, accessbot.ErrNotFound):
		s.page(w, http.StatusNotFound, "This link is not valid", "Click Approve again in Slack for a new one. Nothing was recorded.")
		return
	case err != nil:
		s.fail(w, r, err)
		return
	case su.StartedAt != nil:
		s.page(w, http.StatusGone, "This link was already used", "Each link works once. Click Approve again in Slack for a new one. Nothing was recorded.")
		return
	case !s.now().Before(su.ExpiresAt):
		s.page(w, http.StatusGone, "This link has expired", "Links work for "+s.cfg.TTL.String()+". Click Approve again in Slack for a new one. Nothing was recorded.")
		return
	}
	_, _, oc, err := s.provider(ctx, tenantID)
	if err != nil {
		s.cfg.Log.Warn().Err(err).Str("tenant", tenantID).Msg("step-up provider unusable")
		s.page(w, http.StatusBadGateway, "Your sign-in provider cannot be reached", "Nothing was recorded. Try again later, or ask your accessbot admin to check step_up: in the tenant file.")
		return
	}
	state, nonce, verifier := tenantID+"."+random(), random(), oauth2.GenerateVerifier()
	// The PKCE verifier rides with the nonce: both stay on the server.
	if err := s.cfg.Store.StartStepUp(ctx, tenantID, su.ID, state, nonce+"."+verifier, s.now()); err != nil {
		if errors.Is(err, accessbot.ErrStale) {
			s.page(w, http.StatusGone, "This link was already used, or has expired", "Click Approve again in Slack for a new one. Nothing was recorded.")
			return
		}
		s.fail(w, r, err)
		return
	}
	// max_age=0 and prompt=login: the provider must authenticate the
	// approver again, whatever session it holds.
	url := oc.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("max_age", "0"), oauth2.SetAuthURLParam("prompt", "login"))
	http.Redirect(w, r, url, http.StatusFound)
}

// claims are the ID token claims step-up reads.
type claims struct {
	Email         string `json:"email"`
	EmailVerified *bool  `json:"email_verified"`
	AuthTime      int64  `json:"auth_time"`
}

// callback checks the provider's answer and records the approval, once.
func (s *Service) callback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	state := q.Get("state")
	tenantID, _, ok := strings.Cut(state, ".")
	if !ok || tenantID == "" {
		s.page(w, http.StatusBadRequest, "This sign-in answer is not valid", "Click Approve again in Slack. Nothing was recorded.")
		return
	}
	su, err := s.cfg.Store.GetStepUpByState(ctx, tenantID, state)
	switch {
	case errors.Is(err, accessbot.ErrNotFound):
		s.page(w, http.StatusBadRequest, "This sign-in answer is not valid", "Click Approve again in Slack. Nothing was recorded.")
		return
	case err != nil:
		s.fail(w, r, err)
		return
	case su.CompletedAt != nil:
		s.page(w, http.StatusGone, "This link was already used", "Your approval was already recorded once; nothing more was recorded.")
		return
	case !s.now().Before(su.ExpiresAt):
		s.page(w, http.StatusGone, "This link has expired", "Click Approve again in Slack for a new one. Nothing was recorded.")
		return
	}
	log := s.cfg.Log.With().Str("tenant", tenantID).Str("request", su.RequestID).Str("approver", su.ApproverID).Logger()
	if e := q.Get("error"); e != "" {
		log.Info().Str("error", e).Msg("step-up: the provider answered an error")
		s.page(w, http.StatusUnauthorized, "Your sign-in provider refused", "It answered: "+e+" "+q.Get("error_description")+". Nothing was recorded; click Approve again in Slack to retry.")
		return
	}
	pctx, prov, oc, err := s.provider(ctx, tenantID)
	if err != nil {
		log.Warn().Err(err).Msg("step-up provider unusable")
		s.page(w, http.StatusBadGateway, "Your sign-in provider cannot be reached", "Nothing was recorded. Try again later.")
		return
	}
	nonce, verifier, _ := strings.Cut(su.Nonce, ".")
	tok, err := oc.Exchange(pctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		log.Info().Err(err).Msg("step-up: code exchange failed")
		s.page(w, http.StatusUnauthorized, "Your sign-in provider refused", "The sign-in could not be completed. Nothing was recorded; click Approve again in Slack to retry.")
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := prov.Verifier(&oidc.Config{ClientID: oc.ClientID, Now: s.now}).Verify(pctx, raw)
	if err != nil || idt.Nonce != nonce {
		log.Warn().AnErr("verify", err).Msg("step-up: ID token refused")
		s.page(w, http.StatusUnauthorized, "The sign-in answer could not be verified", "Nothing was recorded; click Approve again in Slack to retry.")
		return
	}
	var c claims
	if err := idt.Claims(&c); err != nil {
		s.page(w, http.StatusUnauthorized, "The sign-in answer could not be read", "Nothing was recorded.")
		return
	}
	approver, err := s.cfg.Store.GetUser(ctx, tenantID, su.ApproverID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if c.Email == "" || !strings.EqualFold(c.Email, approver.Email) || (c.EmailVerified != nil && !*c.EmailVerified) {
		log.Warn().Str("signed_in_as", c.Email).Msg("step-up: a different identity signed in")
		s.page(w, http.StatusForbidden, "You signed in as someone else", "You signed in as "+c.Email+", but this approval is "+approver.Email+"'s. Nothing was recorded.")
		return
	}
	authTime := time.Unix(c.AuthTime, 0).UTC()
	if c.AuthTime == 0 || authTime.Before(su.StartedAt.Add(-authTimeSkew)) {
		log.Warn().Time("auth_time", authTime).Msg("step-up: the provider did not authenticate again")
		s.page(w, http.StatusUnauthorized, "Your sign-in provider did not ask you again", "It reused an earlier sign-in (auth_time before this link was opened). Nothing was recorded.")
		return
	}
	if err := s.cfg.Store.CompleteStepUp(ctx, tenantID, su.ID, s.now()); err != nil {
		if errors.Is(err, accessbot.ErrStale) {
			s.page(w, http.StatusGone, "This link was already used", "Nothing more was recorded.")
			return
		}
		s.fail(w, r, err)
		return
	}
	_, err = s.cfg.Decider.Decide(ctx, requests.DecideInput{TenantID: tenantID, RequestID: su.RequestID, ActorID: su.ApproverID,
		Level: su.Level, Decision: accessbot.DecisionApprove,
		StepUp: &requests.StepUpProof{StepUpID: su.ID, Issuer: idt.Issuer, Email: c.Email, AuthTime: authTime}})
	var already *requests.AlreadyDecidedError
	switch {
	case err == nil:
		log.Info().Time("auth_time", authTime).Msg("step-up approval recorded")
		s.page(w, http.StatusOK, "Approved", "You signed in again, and your approval of request "+su.RequestID+" is recorded. You can close this page.")
	case errors.As(err, &already):
		s.page(w, http.StatusConflict, "This request has already moved on", "Your approval was not needed; nothing was recorded.")
	case errors.Is(err, requests.ErrNotApprover), errors.Is(err, requests.ErrSelfApproval):
		s.page(w, http.StatusForbidden, "You can no longer approve this request", "Nothing was recorded.")
	default:
		s.fail(w, r, err)
	}
}

func (s *Service) fail(w http.ResponseWriter, r *http.Request, err error) {
	s.cfg.Log.Error().Err(err).Str("path", r.URL.Path).Msg("step-up failed")
	s.page(w, http.StatusInternalServerError, "Something went wrong", "Nothing was recorded. Try again in a moment.")
}

var pageTmpl = template.Must(template.New("p").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>accessbot: {{.Title}}</title></head>
<body><h1>{{.Title}}</h1><p>{{.Body}}</p></body></html>
`))

func (s *Service) page(w http.ResponseWriter, code int, title, body string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(code)
	_ = pageTmpl.Execute(w, struct{ Title, Body string }{title, body})
}
