package oauth_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/manifest"
	"github.com/accessbot/accessbot/bot/oauth"
	"github.com/accessbot/accessbot/bot/slackapi"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/internal/secrets"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/storetest"
)

const (
	clientID     = "111.222"
	clientSecret = "shh-client-secret"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	st        store.Store
	fake      *slackfake.Server
	keys      *secrets.Keyring
	clock     *clock
	srv       *httptest.Server
	redirect  string
	stateKey  []byte
	tenants   map[string]*accessbot.Tenant // by slug
	teams     map[string]slackfake.Team    // by id
	logs      *syncBuffer
	mu        sync.Mutex
	installed []string
}

func setup(t *testing.T, driver string) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{
		st:      storetest.Open(t, driver),
		fake:    slackfake.New(slackfake.WithOAuthClient(clientID, clientSecret)),
		clock:   &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)},
		tenants: map[string]*accessbot.Tenant{},
		teams:   map[string]slackfake.Team{},
		logs:    &syncBuffer{},
	}
	t.Cleanup(e.fake.Close)
	var err error
	e.keys, err = secrets.NewKeyring(secrets.Key{ID: "k1", Key: bytes.Repeat([]byte{9}, secrets.KeySize)})
	if err != nil {
		t.Fatal(err)
	}
	for _, tn := range []accessbot.Tenant{{Slug: "acme", Name: "Acme Inc"}, {Slug: "beta", Name: "Beta GmbH"}} {
		if err := e.st.CreateTenant(ctx, &tn); err != nil {
			t.Fatal(err)
		}
		e.tenants[tn.Slug] = &tn
	}
	for _, tm := range []slackfake.Team{{ID: "T0ACME", Name: "Acme Slack"}, {ID: "T0SECOND", Name: "Acme Other Slack"}} {
		e.teams[tm.ID] = e.fake.AddTeam(tm)
	}

	mux := http.NewServeMux()
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	e.redirect = e.srv.URL + oauth.CallbackPath
	e.stateKey = oauth.DeriveStateKey(bytes.Repeat([]byte{9}, secrets.KeySize))
	in, err := oauth.New(oauth.Config{
		ClientID:     clientID,
		ClientSecret: secrets.Secret(clientSecret),
		RedirectURL:  e.redirect,
		APIURL:       e.fake.URL(),
		StateKey:     e.stateKey,
	}, e.st, e.keys, oauth.Options{
		Now: e.clock.Now,
		Log: zerolog.New(e.logs).Level(zerolog.DebugLevel),
		OnInstalled: func(team string) {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.installed = append(e.installed, team)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	in.Register(mux)
	return e
}

// noRedirect lets tests read the Location header instead of following it.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func get(t *testing.T, u string) (int, http.Header, string) {
	t.Helper()
	resp, err := noRedirect.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// link is an admin-issued install link for slug, valid for a day.
func (e *env) link(t *testing.T, slug string) string {
	t.Helper()
	tok, err := oauth.NewLinkToken(e.stateKey, e.tenants[slug].ID, e.clock.Now().Add(oauth.DefaultLinkTTL))
	if err != nil {
		t.Fatal(err)
	}
	u, err := oauth.InstallLinkURL(e.srv.URL, tok)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// start opens slug's install link and returns the authorize URL's query.
func (e *env) start(t *testing.T, slug string) url.Values {
	t.Helper()
	status, h, body := get(t, e.link(t, slug))
	if status != http.StatusFound {
		t.Fatalf("install %s: status %d: %s", slug, status, body)
	}
	loc, err := url.Parse(h.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if want := e.fake.BaseURL() + "/oauth/v2/authorize"; loc.Scheme+"://"+loc.Host+loc.Path != want {
		t.Fatalf("redirected to %s, want %s", loc, want)
	}
	return loc.Query()
}

// finish plays Slack: issues a code for team and calls the callback with state.
func (e *env) finish(t *testing.T, team, state string) (int, string) {
	t.Helper()
	code, err := e.fake.IssueOAuthCode(team, "UINSTALLER", e.redirect)
	if err != nil {
		t.Fatal(err)
	}
	status, _, body := get(t, e.srv.URL+oauth.CallbackPath+"?"+url.Values{"code": {code}, "state": {state}}.Encode())
	return status, body
}

func (e *env) install(t *testing.T, slug, team string) (int, string) {
	t.Helper()
	return e.finish(t, team, e.start(t, slug).Get("state"))
}

// bound returns the team bound to a tenant, "" if none.
func (e *env) bound(t *testing.T, slug string) string {
	t.Helper()
	w, err := e.st.WorkspaceByTenant(context.Background(), e.tenants[slug].ID)
	if errors.Is(err, accessbot.ErrNotFound) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return w.TeamID
}

// token decrypts the tenant's stored bot token, "" if none.
func (e *env) token(t *testing.T, slug string) string {
	t.Helper()
	tid := e.tenants[slug].ID
	s, err := e.st.GetSecret(context.Background(), tid, oauth.BotTokenSecret)
	if errors.Is(err, accessbot.ErrNotFound) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	plain, err := e.keys.Open(s.KeyID, s.Ciphertext, secrets.AAD(tid, oauth.BotTokenSecret))
	if err != nil {
		t.Fatal(err)
	}
	return string(plain)
}

func TestInstallHappyPath(t *testing.T) {
	t.Parallel()
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			e := setup(t, driver)
			ctx := context.Background()
			q := e.start(t, "acme")
			for k, want := range map[string]string{"client_id": clientID, "scope": manifest.BotScopesCSV, "redirect_uri": e.redirect} {
				if got := q.Get(k); got != want {
					t.Errorf("authorize %s = %q, want %q", k, got, want)
				}
			}
			status, body := e.finish(t, "T0ACME", q.Get("state"))
			if status != http.StatusOK {
				t.Fatalf("callback: status %d: %s", status, body)
			}
			for _, want := range []string{"Acme Slack", "T0ACME", "Acme Inc", "acme"} {
				if !strings.Contains(body, want) {
					t.Errorf("success page lacks %q:\n%s", want, body)
				}
			}

			tok := e.teams["T0ACME"].BotToken
			ws, err := e.st.WorkspaceByTeam(ctx, "T0ACME")
			if err != nil {
				t.Fatal(err)
			}
			if ws.TenantID != e.tenants["acme"].ID || ws.BotTokenSecret != oauth.BotTokenSecret ||
				ws.TeamName != "Acme Slack" || ws.BotUserID != e.teams["T0ACME"].BotUserID {
				t.Errorf("binding = %+v", ws)
			}
			sec, err := e.st.GetSecret(ctx, ws.TenantID, oauth.BotTokenSecret)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(sec.Ciphertext, []byte(tok)) || sec.KeyID != "k1" {
				t.Errorf("token stored in plaintext or without key id: %+v", sec)
			}
			if got := e.token(t, "acme"); got != tok {
				t.Errorf("decrypted token = %q, want the team's bot token", got)
			}
			if call := e.fake.Calls("oauth.v2.access"); len(call) != 1 || !call[0].OK() {
				t.Errorf("oauth.v2.access calls = %+v", call)
			}
			e.mu.Lock()
			if len(e.installed) != 1 || e.installed[0] != "T0ACME" {
				t.Errorf("OnInstalled calls = %v", e.installed)
			}
			e.mu.Unlock()
			audit, err := e.st.ListAudit(ctx, ws.TenantID, "T0ACME")
			if err != nil || len(audit) != 1 || audit[0].Action != "slack.installed" {
				t.Errorf("audit = %+v, %v", audit, err)
			}
			for _, secret := range []string{tok, clientSecret} {
				if strings.Contains(e.logs.String(), secret) {
					t.Errorf("logs contain a secret:\n%s", e.logs.String())
				}
			}

			// The stored token is what slackapi.Clients uses for the team.
			clients := slackapi.NewClients(e.st, e.keys, "", slackapi.Options{APIURL: e.fake.URL(), Guard: slackapi.Strict{}})
			c, err := clients.For(ctx, "T0ACME")
			if err != nil {
				t.Fatal(err)
			}
			if r, err := c.AuthTest(ctx); err != nil || r.TeamID != "T0ACME" {
				t.Errorf("auth.test with the installed token: %+v, %v", r, err)
			}

			// Reinstalling the same workspace is allowed and preselects it.
			q = e.start(t, "acme")
			if q.Get("team") != "T0ACME" {
				t.Errorf("reinstall authorize team = %q, want T0ACME", q.Get("team"))
			}
			if status, body := e.finish(t, "T0ACME", q.Get("state")); status != http.StatusOK {
				t.Errorf("reinstall: status %d: %s", status, body)
			}
		})
	}
}

func TestInstallRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// run performs the refused step after any setup and returns status and page.
		run        func(t *testing.T, e *env) (int, string)
		wantStatus int
		wantInPage []string
		// wantBound/wantToken: the team bound and token stored per tenant afterwards.
		wantBound  map[string]string
		noExchange bool // oauth.v2.access must not have been called by the refused step
	}{
		{
			name: "tampered state",
			run: func(t *testing.T, e *env) (int, string) {
				state := e.start(t, "acme").Get("state")
				body, sig, _ := strings.Cut(state, ".")
				b := []byte(body)
				b[len(b)/2] ^= 1 // flip a bit of the signed payload
				return e.finish(t, "T0ACME", string(b)+"."+sig)
			},
			wantStatus: http.StatusBadRequest, wantInPage: []string{"not valid", "Nothing was changed"},
			wantBound: map[string]string{"acme": "", "beta": ""}, noExchange: true,
		},
		{
			name: "state signed with another key",
			run: func(t *testing.T, e *env) (int, string) {
				e.start(t, "acme")
				forged := oauth.SignStateForTest(oauth.DeriveStateKey(bytes.Repeat([]byte{1}, 32)), e.tenants["beta"].ID, e.clock.Now().Add(time.Minute))
				return e.finish(t, "T0ACME", forged)
			},
			wantStatus: http.StatusBadRequest, wantInPage: []string{"not valid"},
			wantBound: map[string]string{"acme": "", "beta": ""}, noExchange: true,
		},
		{
			name: "expired state",
			run: func(t *testing.T, e *env) (int, string) {
				state := e.start(t, "acme").Get("state")
				e.clock.Add(oauth.DefaultStateTTL + time.Second)
				return e.finish(t, "T0ACME", state)
			},
			wantStatus: http.StatusBadRequest, wantInPage: []string{"expired", "Nothing was changed"},
			wantBound: map[string]string{"acme": "", "beta": ""}, noExchange: true,
		},
		{
			name: "second workspace for a tenant",
			run: func(t *testing.T, e *env) (int, string) {
				mustInstall(t, e, "acme", "T0ACME")
				return e.install(t, "acme", "T0SECOND")
			},
			wantStatus: http.StatusConflict,
			wantInPage: []string{"acme", "already linked", "Acme Slack", "only one workspace", "Nothing was changed"},
			wantBound:  map[string]string{"acme": "T0ACME", "beta": ""},
		},
		{
			name: "workspace for a second tenant",
			run: func(t *testing.T, e *env) (int, string) {
				mustInstall(t, e, "acme", "T0ACME")
				return e.install(t, "beta", "T0ACME")
			},
			wantStatus: http.StatusConflict,
			wantInPage: []string{"Acme Slack", "another accessbot tenant", "only one tenant", "Nothing was changed"},
			wantBound:  map[string]string{"acme": "T0ACME", "beta": ""},
		},
		{
			name: "user cancelled in Slack",
			run: func(t *testing.T, e *env) (int, string) {
				state := e.start(t, "acme").Get("state")
				status, _, body := get(t, e.srv.URL+oauth.CallbackPath+"?error=access_denied&state="+url.QueryEscape(state))
				return status, body
			},
			wantStatus: http.StatusBadRequest, wantInPage: []string{"access_denied", "Nothing was changed"},
			wantBound: map[string]string{"acme": "", "beta": ""}, noExchange: true,
		},
		{
			name: "code Slack refuses",
			run: func(t *testing.T, e *env) (int, string) {
				state := e.start(t, "acme").Get("state")
				status, _, body := get(t, e.srv.URL+oauth.CallbackPath+"?code=bogus&state="+url.QueryEscape(state))
				return status, body
			},
			wantStatus: http.StatusBadGateway, wantInPage: []string{"invalid_code", "Nothing was changed"},
			wantBound: map[string]string{"acme": "", "beta": ""},
		},
		{
			name: "install without a link token",
			run: func(t *testing.T, e *env) (int, string) {
				status, _, body := get(t, e.srv.URL+oauth.InstallPath)
				return status, body
			},
			wantStatus: http.StatusForbidden, wantInPage: []string{"needs an install link", "accessbot install-link"},
			wantBound: map[string]string{"acme": "", "beta": ""}, noExchange: true,
		},
		{
			name: "install by tenant slug alone",
			run: func(t *testing.T, e *env) (int, string) {
				status, _, body := get(t, e.srv.URL+oauth.InstallPath+"?tenant=acme")
				return status, body
			},
			wantStatus: http.StatusForbidden, wantInPage: []string{"needs an install link", "Ask your accessbot admin"},
			wantBound: map[string]string{"acme": "", "beta": ""}, noExchange: true,
		},
		{
			name: "link token signed with another key",
			run: func(t *testing.T, e *env) (int, string) {
				tok, err := oauth.NewLinkToken(oauth.DeriveStateKey(bytes.Repeat([]byte{1}, 32)), e.tenants["acme"].ID, e.clock.Now().Add(time.Hour))
				if err != nil {
					t.Fatal(err)
				}
				status, _, body := get(t, e.srv.URL+oauth.InstallPath+"?token="+url.QueryEscape(tok))
				return status, body
			},
			wantStatus: http.StatusForbidden, wantInPage: []string{"not valid", "accessbot install-link"},
			wantBound: map[string]string{"acme": "", "beta": ""}, noExchange: true,
		},
		{
			name: "tampered link token",
			run: func(t *testing.T, e *env) (int, string) {
				u := e.link(t, "acme")
				tok, _ := url.Parse(u)
				body, sig, _ := strings.Cut(tok.Query().Get("token"), ".")
				b := []byte(body)
				b[len(b)/2] ^= 1
				status, _, page := get(t, e.srv.URL+oauth.InstallPath+"?token="+url.QueryEscape(string(b)+"."+sig))
				return status, page
			},
			wantStatus: http.StatusForbidden, wantInPage: []string{"not valid"},
			wantBound: map[string]string{"acme": "", "beta": ""}, noExchange: true,
		},
		{
			name: "expired link",
			run: func(t *testing.T, e *env) (int, string) {
				u := e.link(t, "acme")
				e.clock.Add(oauth.DefaultLinkTTL)
				status, _, body := get(t, u)
				return status, body
			},
			wantStatus: http.StatusForbidden, wantInPage: []string{"expired", "accessbot install-link"},
			wantBound: map[string]string{"acme": "", "beta": ""}, noExchange: true,
		},
		{
			name: "a state is not a link token",
			run: func(t *testing.T, e *env) (int, string) {
				state := e.start(t, "acme").Get("state")
				status, _, body := get(t, e.srv.URL+oauth.InstallPath+"?token="+url.QueryEscape(state))
				return status, body
			},
			wantStatus: http.StatusForbidden, wantInPage: []string{"not valid"},
			wantBound: map[string]string{"acme": "", "beta": ""}, noExchange: true,
		},
		{
			name: "a link token is not a state",
			run: func(t *testing.T, e *env) (int, string) {
				tok, _ := url.Parse(e.link(t, "acme"))
				return e.finish(t, "T0ACME", tok.Query().Get("token"))
			},
			wantStatus: http.StatusBadRequest, wantInPage: []string{"not valid", "Nothing was changed"},
			wantBound: map[string]string{"acme": "", "beta": ""}, noExchange: true,
		},
		{
			name: "link for a tenant that no longer exists",
			run: func(t *testing.T, e *env) (int, string) {
				tok, err := oauth.NewLinkToken(e.stateKey, "no-such-tenant-id", e.clock.Now().Add(time.Hour))
				if err != nil {
					t.Fatal(err)
				}
				status, _, body := get(t, e.srv.URL+oauth.InstallPath+"?token="+url.QueryEscape(tok))
				return status, body
			},
			wantStatus: http.StatusNotFound, wantInPage: []string{"no longer exists"},
			wantBound: map[string]string{"acme": "", "beta": ""}, noExchange: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, "sqlite")
			status, page := tt.run(t, e)
			if status != tt.wantStatus {
				t.Errorf("status %d, want %d:\n%s", status, tt.wantStatus, page)
			}
			if !strings.Contains(page, "<html") {
				t.Errorf("answer is not an HTML page:\n%s", page)
			}
			for _, want := range tt.wantInPage {
				if !strings.Contains(page, want) {
					t.Errorf("page lacks %q:\n%s", want, page)
				}
			}
			for slug, team := range tt.wantBound {
				if got := e.bound(t, slug); got != team {
					t.Errorf("tenant %s bound to %q, want %q", slug, got, team)
				}
				want := ""
				if team != "" {
					want = e.teams[team].BotToken
				}
				if got := e.token(t, slug); got != want {
					t.Errorf("tenant %s token = %q, want %q", slug, got, want)
				}
			}
			if tt.noExchange && len(e.fake.Calls("oauth.v2.access")) != 0 {
				t.Errorf("oauth.v2.access was called for a refused request")
			}
		})
	}
}

func mustInstall(t *testing.T, e *env, slug, team string) {
	t.Helper()
	if status, body := e.install(t, slug, team); status != http.StatusOK {
		t.Fatalf("install %s into %s: status %d: %s", slug, team, status, body)
	}
}
