package handlers_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"
	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/flows/stepup"
	"github.com/accessbot/accessbot/handlers"
	"github.com/accessbot/accessbot/handlers/views"
	"github.com/accessbot/accessbot/internal/secrets"
	"github.com/accessbot/accessbot/store/storetest"
)

// oidcUser is a mockoidc user whose ID token carries auth_time (when the
// provider authenticated them: now, as a provider does under max_age=0).
type oidcUser struct {
	*mockoidc.MockUser
	authTime time.Time
}

type oidcClaims struct {
	*mockoidc.IDTokenClaims
	Email         string `json:"email,omitempty"`
	EmailVerified bool   `json:"email_verified,omitempty"`
	AuthTime      int64  `json:"auth_time,omitempty"`
}

func (u oidcUser) Claims(_ []string, base *mockoidc.IDTokenClaims) (jwt.Claims, error) {
	return &oidcClaims{IDTokenClaims: base, Email: u.Email, EmailVerified: true, AuthTime: u.authTime.Unix()}, nil
}

func person(email string) oidcUser {
	return oidcUser{MockUser: &mockoidc.MockUser{Subject: "sub-" + email, Email: email, EmailVerified: true}, authTime: time.Now()}
}

// stepUpEnv is the request env with a step-up server and a test OIDC provider.
type stepUpEnv struct {
	*rqEnv
	oidc  *mockoidc.MockOIDC
	shift atomic.Int64 // added to the step-up server's clock
	// authorize records the provider's authorize requests; failNext makes
	// the next one answer error=access_denied, as a provider refusing does.
	mu        sync.Mutex
	authorize []url.Values
	failNext  atomic.Bool
	browser   *http.Client
	// landed is the last URL open ended on: the callback, with the
	// provider's code and state.
	landed string
}

func startStepUp(t *testing.T, driver string) *stepUpEnv {
	t.Helper()
	su := &stepUpEnv{}
	m, err := mockoidc.NewServer(nil)
	rqMust(t, err)
	rqMust(t, m.AddMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/authorize") {
				su.mu.Lock()
				su.authorize = append(su.authorize, r.URL.Query())
				su.mu.Unlock()
				if su.failNext.CompareAndSwap(true, false) {
					q := url.Values{"error": {"access_denied"}, "error_description": {"the user cancelled"}, "state": {r.URL.Query().Get("state")}}
					http.Redirect(w, r, r.URL.Query().Get("redirect_uri")+"?"+q.Encode(), http.StatusFound)
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	rqMust(t, err)
	rqMust(t, m.Start(ln, nil))
	t.Cleanup(func() { _ = m.Shutdown() })
	su.oidc = m

	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	su.browser = &http.Client{Timeout: 20 * time.Second}
	keys, err := secrets.NewKeyring(secrets.Key{ID: "k1", Key: make([]byte, 32)})
	rqMust(t, err)
	su.rqEnv = startRequestsWith(t, driver, requests.Policy{}, rqOpts{deps: func(e *rqEnv, d *handlers.Deps) {
		svc, err := stepup.New(stepup.Config{Store: e.st, Decider: e.svc, Keys: keys, PublicURL: srv.URL, TTL: 5 * time.Minute,
			Now: func() time.Time { return time.Now().Add(time.Duration(su.shift.Load())) },
			Log: zerolog.New(zerolog.NewTestWriter(t))})
		rqMust(t, err)
		svc.Register(mux)
		d.Requests.WithStepUp(svc)
	}})
	e := su.rqEnv
	cfg := m.Config()
	// GitLab is high-risk; the provider is the test's, its client secret
	// sealed as apply seals it.
	keyID, ct, err := keys.Seal([]byte(cfg.ClientSecret), secrets.AAD(e.tenant.ID, accessbot.StepUpSecretName))
	rqMust(t, err)
	rqMust(t, e.st.PutSecret(e.ctx, &accessbot.Secret{TenantID: e.tenant.ID, Name: accessbot.StepUpSecretName, KeyID: keyID, Ciphertext: ct}))
	rqMust(t, e.st.PutRequestPolicy(e.ctx, &accessbot.RequestPolicy{TenantID: e.tenant.ID,
		Risk:   accessbot.Risk{Apps: map[string]accessbot.RiskTier{e.gitlab.ID: accessbot.RiskHigh}},
		StepUp: &accessbot.StepUpProvider{Issuer: cfg.Issuer, ClientID: cfg.ClientID, HasSecret: true}}))
	return su
}

// link clicks Approve as user on m and returns the step-up link shown
// only to them.
func (s *stepUpEnv) link(user string, m slackfake.Message, id string) string {
	s.t.Helper()
	s.click(user, m, views.ActionApprove, id)
	var found string
	err := s.fake.WaitFor(s.ctx, func() bool {
		for _, msg := range s.fake.AllMessages() {
			if !strings.Contains(msg.Text, "counts only after you sign in again") || (msg.Recipient != user && msg.Channel != slackfake.DMChannel(user)) {
				continue
			}
			var blocks []struct {
				Elements []struct {
					URL string `json:"url"`
				} `json:"elements"`
			}
			_ = json.Unmarshal(msg.Blocks, &blocks)
			for _, b := range blocks {
				for _, el := range b.Elements {
					if el.URL != "" && !s.seen(el.URL) {
						found = el.URL
						return true
					}
				}
			}
		}
		return false
	})
	if err != nil {
		s.t.Fatalf("no step-up link for %s", user)
	}
	return found
}

var seenLinks sync.Map

func (s *stepUpEnv) seen(u string) bool {
	_, loaded := seenLinks.LoadOrStore(s.t.Name()+u, true)
	return loaded
}

// open follows link in a browser and returns the final page's status and body.
func (s *stepUpEnv) open(link string) (int, string) {
	s.t.Helper()
	resp, err := s.browser.Get(link)
	rqMust(s.t, err)
	defer resp.Body.Close()
	s.landed = resp.Request.URL.String()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// A high-risk approval counts only after the approver signs in again with
// the tenant's OIDC provider (asked with max_age=0), exactly once; a
// different identity, an expired link, a replayed link and a provider
// error record nothing and say why.
func TestE2EStepUpHighRiskApproval(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			s := startStepUp(t, driver)
			s.chainFor("Developers", accessbot.ApprovalLevel{Rule: accessbot.RuleAny, Approvers: s.approversOf("owen", "olga")})
			r, err := s.svc.Create(s.ctx, requests.UserAccess{TenantID: s.tenant.ID, RequesterID: s.users["rita"].ID,
				AppID: s.gitlab.ID, ConnectionID: s.conns["Developers"].ID, Duration: 4 * time.Hour,
				Justification: "Release 4.2 needs me to merge the hotfix branches and tag the release candidates tonight."})
			rqMust(t, err)
			if !r.Levels[0].StepUp {
				t.Fatalf("a high-risk request's level does not need step-up: %+v", r.Levels[0])
			}
			owen := slackID("owen")
			msg := s.approvalDM(owen, r.ID)
			noDecision := func(what string) {
				t.Helper()
				if ds := s.decisions(r.ID); len(ds) != 0 {
					t.Fatalf("%s: a decision was recorded: %+v", what, ds)
				}
				if got := s.request(r.ID); got.Status != accessbot.StatusPending {
					t.Fatalf("%s: status %s", what, got.Status)
				}
			}

			// The click alone records nothing.
			link := s.link(owen, msg, r.ID)
			noDecision("the click")

			// Signed in as someone else: refused, nothing recorded.
			s.oidc.QueueUser(person("olga@acme.test"))
			code, body := s.open(link)
			if code != http.StatusForbidden || !strings.Contains(body, "You signed in as someone else") || !strings.Contains(body, "olga@acme.test") {
				t.Fatalf("mismatch: %d %s", code, body)
			}
			noDecision("a mismatch")
			s.mu.Lock()
			q := s.authorize[len(s.authorize)-1]
			s.mu.Unlock()
			if q.Get("max_age") != "0" || q.Get("prompt") != "login" || q.Get("nonce") == "" || q.Get("code_challenge") == "" {
				t.Fatalf("the provider was not asked to authenticate again: %v", q)
			}
			// The same link again: used.
			if code, body := s.open(link); code != http.StatusGone || !strings.Contains(body, "already used") {
				t.Fatalf("replayed link: %d %s", code, body)
			}

			// An expired link.
			link = s.link(owen, msg, r.ID)
			s.shift.Store(int64(6 * time.Minute))
			if code, body := s.open(link); code != http.StatusGone || !strings.Contains(body, "expired") {
				t.Fatalf("expired link: %d %s", code, body)
			}
			s.shift.Store(0)
			noDecision("an expired link")

			// The provider refuses.
			link = s.link(owen, msg, r.ID)
			s.failNext.Store(true)
			if code, body := s.open(link); code != http.StatusUnauthorized || !strings.Contains(body, "access_denied") {
				t.Fatalf("provider error: %d %s", code, body)
			}
			noDecision("a provider error")

			// Owen signs in again as himself: the approval counts, once.
			link = s.link(owen, msg, r.ID)
			s.oidc.QueueUser(person("owen@acme.test"))
			code, body = s.open(link)
			if code != http.StatusOK || !strings.Contains(body, "Approved") {
				t.Fatalf("step-up: %d %s", code, body)
			}
			if err := s.fake.WaitFor(s.ctx, func() bool { return s.request(r.ID).Status == accessbot.StatusApproved }); err != nil {
				t.Fatalf("not approved: %s", s.request(r.ID).Status)
			}
			ds := s.decisions(r.ID)
			if len(ds) != 1 || ds[0].ApproverID != s.users["owen"].ID {
				t.Fatalf("decisions %+v, want Owen's one", ds)
			}
			audit, err := s.st.ListAudit(s.ctx, s.tenant.ID, r.ID)
			rqMust(t, err)
			var stepped []accessbot.AuditEntry
			for _, a := range audit {
				if a.Action == requests.ActionSteppedUp {
					stepped = append(stepped, a)
				}
			}
			if len(stepped) != 1 || stepped[0].ActorID != s.users["owen"].ID || !strings.Contains(string(stepped[0].After), `"auth_time"`) ||
				!strings.Contains(string(stepped[0].After), "owen@acme.test") {
				t.Fatalf("step-up audit %+v", stepped)
			}
			// Replaying the provider's answer (the callback with its code and
			// state), then the finished link, records nothing more.
			callback := s.landed
			if !strings.Contains(callback, stepup.CallbackPath+"?") || !strings.Contains(callback, "state=") {
				t.Fatalf("the sign-in did not end on the callback: %s", callback)
			}
			if code, body := s.open(callback); code != http.StatusGone || !strings.Contains(body, "already used") {
				t.Fatalf("replayed callback: %d %s", code, body)
			}
			if code, _ := s.open(link); code != http.StatusGone {
				t.Fatalf("replay after success: %d", code)
			}
			if n := len(s.decisions(r.ID)); n != 1 {
				t.Fatalf("%d decisions after a replay", n)
			}
			s.waitUpdated(msg, "Approved by Owen")
		})
	}
}

// High risk asks for more words and a shorter grant, and never permanent.
func TestHighRiskRequestLimits(t *testing.T) {
	s := startStepUp(t, "sqlite")
	for _, tc := range []struct {
		name, justification string
		dur                 time.Duration
		want                string
	}{
		{"too few words", "Release work tonight.", 4 * time.Hour, "at least 12 words"},
		{"too long", "Release 4.2 needs me to merge the hotfix branches and tag the release candidates tonight.", 24 * time.Hour, "at most 8 hours"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.svc.Prepare(context.Background(), requests.UserAccess{TenantID: s.tenant.ID, RequesterID: s.users["rita"].ID,
				AppID: s.gitlab.ID, ConnectionID: s.conns["Developers"].ID, Duration: tc.dur, Justification: tc.justification})
			var fe *requests.FieldErrors
			if !errors.As(err, &fe) || !strings.Contains(strings.Join(values(fe.Fields), " "), tc.want) {
				t.Fatalf("err %v, want a field error saying %q", err, tc.want)
			}
		})
	}
}
