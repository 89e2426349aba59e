// Package oauth is Slack OAuth v2 install mode: GET /slack/install?token=…
// (an admin-issued install link, see NewLinkToken) sends the installer to
// Slack with a signed, expiring state naming the tenant; GET /slack/oauth/callback checks the state, exchanges the code, stores
// the bot token encrypted and binds the workspace to the tenant one to one.
package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/manifest"
	"github.com/accessbot/accessbot/internal/config"
	"github.com/accessbot/accessbot/internal/secrets"
	"github.com/accessbot/accessbot/store"
)

// Routes mounted by Register.
const (
	InstallPath  = "/slack/install"
	CallbackPath = "/slack/oauth/callback"
)

// BotTokenSecret is the secret name the bot token is stored under (per tenant).
const BotTokenSecret = "slack.bot_token"

// Config is the install mode's configuration.
type Config struct {
	ClientID     string         // slack.client_id
	ClientSecret secrets.Secret // slack.client_secret
	RedirectURL  string         // slack.redirect_url: this server's CallbackPath, as registered in the Slack app
	// APIURL is slack.api_url (default https://slack.com/api/). oauth.v2.access
	// is called there, and the authorize page is on the same host, so a fake
	// Slack or a proxy can stand in for both.
	APIURL   string
	Scopes   []string      // default manifest.BotScopes()
	StateKey []byte        // DeriveStateKey(encryption key); at least 32 bytes
	StateTTL time.Duration // default DefaultStateTTL
}

// Store is what the installer needs from store.Store.
type Store interface {
	GetTenant(ctx context.Context, id string) (*accessbot.Tenant, error)
	WorkspaceByTenant(ctx context.Context, tenantID string) (*accessbot.Workspace, error)
	InTx(ctx context.Context, fn func(q store.Queries) error) error
}

// Sealer encrypts the bot token; *secrets.Keyring implements it.
type Sealer interface {
	Seal(plaintext, aad []byte) (keyID string, ciphertext []byte, err error)
}

var _ Sealer = (*secrets.Keyring)(nil)

// Options are the installer's collaborators; all optional.
type Options struct {
	HTTPClient *http.Client     // for oauth.v2.access; default 15 s timeout
	Now        func() time.Time // state expiry and install time
	Log        zerolog.Logger
	// OnInstalled runs after a successful install, e.g. slackapi.Clients.Forget
	// so the new token is used at once.
	OnInstalled func(teamID string)
}

// Installer serves the two install routes.
type Installer struct {
	cfg          Config
	authorizeURL string
	apiURL       string
	store        Store
	keys         Sealer
	http         *http.Client
	now          func() time.Time
	log          zerolog.Logger
	onInstalled  func(string)
}

// New checks cfg and builds the installer.
func New(cfg Config, st Store, keys Sealer, o Options) (*Installer, error) {
	switch {
	case cfg.ClientID == "":
		return nil, errors.New("oauth install: slack.client_id is required")
	case !cfg.ClientSecret.IsSet():
		return nil, errors.New("oauth install: slack.client_secret is required")
	case cfg.RedirectURL == "":
		return nil, errors.New("oauth install: slack.redirect_url is required")
	case len(cfg.StateKey) < 32:
		return nil, errors.New("oauth install: a 32-byte state key is required (DeriveStateKey from encryption.key)")
	case keys == nil:
		return nil, errors.New("oauth install: an encryption keyring is required to store bot tokens")
	}
	if cfg.APIURL == "" {
		cfg.APIURL = slack.APIURL
	}
	if !strings.HasSuffix(cfg.APIURL, "/") {
		cfg.APIURL += "/"
	}
	authz, err := AuthorizeURL(cfg.APIURL)
	if err != nil {
		return nil, err
	}
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = manifest.BotScopes()
	}
	if cfg.StateTTL <= 0 {
		cfg.StateTTL = DefaultStateTTL
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 15 * time.Second}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Installer{
		cfg: cfg, authorizeURL: authz, apiURL: cfg.APIURL, store: st, keys: keys,
		http: o.HTTPClient, now: o.Now, log: o.Log.With().Str("component", "oauth").Logger(),
		onInstalled: o.OnInstalled,
	}, nil
}

// AuthorizeURL derives Slack's authorize page from slack.api_url: same scheme
// and host, path /oauth/v2/authorize (https://slack.com/oauth/v2/authorize by default).
func AuthorizeURL(apiURL string) (string, error) {
	u, err := url.Parse(apiURL)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("oauth install: slack.api_url %q is not an absolute URL", apiURL)
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: "/oauth/v2/authorize"}).String(), nil
}

// Mux is where routes are mounted; *httpserver.Server and *http.ServeMux fit.
type Mux interface {
	Handle(pattern string, h http.Handler)
}

// Register mounts GET InstallPath and GET CallbackPath.
func (i *Installer) Register(m Mux) {
	m.Handle("GET "+InstallPath, http.HandlerFunc(i.ServeInstall))
	m.Handle("GET "+CallbackPath, http.HandlerFunc(i.ServeCallback))
}

// askAdmin is the advice on every page that needs a new install link.
const askAdmin = "Ask your accessbot admin for an install link; they make one with: accessbot install-link --tenant SLUG"

// ServeInstall redirects to Slack's authorize page for the tenant named by an
// admin-issued install link (?token=…, see NewLinkToken). Without a valid
// token it refuses with 403, so knowing a tenant's slug is not enough to bind
// a workspace to it.
func (i *Installer) ServeInstall(w http.ResponseWriter, r *http.Request) {
	tenantID, err := VerifyLinkToken(i.cfg.StateKey, r.URL.Query().Get("token"), i.now())
	if err != nil {
		lines := []string{"Installing accessbot into a Slack workspace needs an install link from your accessbot admin.", askAdmin}
		switch {
		case r.URL.Query().Get("token") == "":
			i.log.Info().Msg("oauth install refused: no install link token")
		case errors.Is(err, ErrLinkExpired):
			lines = []string{"This install link has expired: install links work for a limited time.", askAdmin}
			i.log.Info().Msg("oauth install refused: install link expired")
		default:
			lines = []string{"This install link is not valid: it was altered, cut short, or did not come from this accessbot.", askAdmin}
			i.log.Warn().Msg("oauth install refused: bad install link token")
		}
		writePage(w, http.StatusForbidden, page{Title: "Install link required", Lines: lines})
		return
	}
	ctx := r.Context()
	t, err := i.store.GetTenant(ctx, tenantID)
	if errors.Is(err, accessbot.ErrNotFound) {
		writePage(w, http.StatusNotFound, page{Title: "Unknown tenant", Lines: []string{
			"The accessbot tenant this install link was made for no longer exists. Nothing was changed.",
		}})
		return
	}
	if err != nil {
		i.fail(w, tenantID, err, "read tenant")
		return
	}
	state, err := signState(i.cfg.StateKey, t.ID, i.now().Add(i.cfg.StateTTL))
	if err != nil {
		i.fail(w, t.ID, err, "sign state")
		return
	}
	q := url.Values{
		"client_id":    {i.cfg.ClientID},
		"scope":        {strings.Join(i.cfg.Scopes, ",")},
		"redirect_uri": {i.cfg.RedirectURL},
		"state":        {state},
	}
	// A reinstall goes to the workspace already bound, so Slack preselects it.
	if ws, err := i.store.WorkspaceByTenant(ctx, t.ID); err == nil {
		q.Set("team", ws.TeamID)
	}
	i.log.Info().Str("tenant", t.ID).Msg("oauth install started")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer") // the install URL carries the link token
	http.Redirect(w, r, i.authorizeURL+"?"+q.Encode(), http.StatusFound)
}

// conflictError is a refused binding; its lines go on the 409 page.
type conflictError struct{ lines []string }

func (e *conflictError) Error() string { return strings.Join(e.lines, " ") }

// ServeCallback finishes the install Slack redirected back to.
func (i *Installer) ServeCallback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		writePage(w, http.StatusBadRequest, page{Title: "Installation cancelled", Lines: []string{
			fmt.Sprintf("Slack did not complete the installation (%s). Nothing was changed.", e),
			"To try again, open your install link again; if it has expired, ask your accessbot admin for a new one.",
		}})
		return
	}
	tenantID, err := verifyState(i.cfg.StateKey, q.Get("state"), i.now())
	if err != nil {
		i.log.Warn().Err(err).Msg("oauth callback refused: bad state")
		lines := []string{"This install link is not valid: it was altered or did not come from this accessbot."}
		if errors.Is(err, ErrStateExpired) {
			lines = []string{fmt.Sprintf("This install link has expired (links last %s).", i.cfg.StateTTL)}
		}
		lines = append(lines, "Nothing was changed. Start again from your install link; if it has expired, ask your accessbot admin for a new one.")
		writePage(w, http.StatusBadRequest, page{Title: "Installation link not accepted", Lines: lines})
		return
	}
	code := q.Get("code")
	if code == "" {
		writePage(w, http.StatusBadRequest, page{Title: "Installation incomplete", Lines: []string{
			"Slack sent no authorization code. Nothing was changed. Start again from your install link.",
		}})
		return
	}
	ctx := r.Context()
	tenant, err := i.store.GetTenant(ctx, tenantID)
	if errors.Is(err, accessbot.ErrNotFound) {
		writePage(w, http.StatusBadRequest, page{Title: "Tenant not found", Lines: []string{
			"The tenant this installation was started for no longer exists. Nothing was changed.",
		}})
		return
	}
	if err != nil {
		i.fail(w, tenantID, err, "read tenant")
		return
	}
	log := i.log.With().Str("tenant", tenant.ID).Logger()

	resp, err := slack.GetOAuthV2ResponseContext(ctx, i.http, i.cfg.ClientID, i.cfg.ClientSecret.Reveal(),
		code, i.cfg.RedirectURL, slack.OAuthOptionAPIURL(i.apiURL))
	if err != nil {
		log.Warn().Err(err).Msg("oauth.v2.access failed")
		writePage(w, http.StatusBadGateway, page{Title: "Slack refused the installation", Lines: []string{
			fmt.Sprintf("Exchanging the authorization code with Slack failed (%s). Nothing was changed.", slackErrorCode(err)),
			"Codes expire after 10 minutes and work once: start again from your install link.",
		}})
		return
	}
	if resp.IsEnterpriseInstall || resp.Team.ID == "" {
		writePage(w, http.StatusBadRequest, page{Title: "Organisation-wide install not supported", Lines: []string{
			"accessbot links one tenant to one Slack workspace. Install it into a single workspace. Nothing was changed.",
		}})
		return
	}
	if resp.AccessToken == "" || (resp.TokenType != "" && resp.TokenType != "bot") {
		log.Warn().Str("token_type", resp.TokenType).Msg("oauth.v2.access returned no bot token")
		writePage(w, http.StatusBadGateway, page{Title: "No bot token", Lines: []string{
			"Slack's answer carried no bot token. Check that the app has a bot user and bot scopes. Nothing was changed.",
		}})
		return
	}

	err = i.bind(ctx, tenant, resp)
	var conflict *conflictError
	switch {
	case errors.As(err, &conflict):
		log.Warn().Str("team", resp.Team.ID).Str("reason", conflict.Error()).Msg("oauth install refused")
		writePage(w, http.StatusConflict, page{Title: "Installation refused", Lines: conflict.lines})
		return
	case err != nil:
		i.fail(w, tenant.ID, err, "store installation")
		return
	}
	log.Info().Str("team", resp.Team.ID).Str("team_name", resp.Team.Name).Str("bot_user", resp.BotUserID).
		Msg("slack workspace installed")
	if i.onInstalled != nil {
		i.onInstalled(resp.Team.ID)
	}
	writePage(w, http.StatusOK, page{Title: "accessbot is installed", Lines: []string{
		fmt.Sprintf("Slack workspace %s (%s) is now linked to the accessbot tenant %s (%s).",
			resp.Team.Name, resp.Team.ID, tenant.Name, tenant.Slug),
		"Open Slack and type /access help to start. You can close this page.",
	}})
}

// bind stores the sealed token and the binding in one transaction, refusing
// (with nothing written) a second workspace for the tenant or a second tenant
// for the workspace.
func (i *Installer) bind(ctx context.Context, tenant *accessbot.Tenant, resp *slack.OAuthV2Response) error {
	team := resp.Team
	refused := func(lines ...string) error {
		return &conflictError{lines: append(lines, "Nothing was changed.")}
	}
	return i.store.InTx(ctx, func(q store.Queries) error {
		cur, err := q.WorkspaceByTenant(ctx, tenant.ID)
		switch {
		case err == nil && cur.TeamID != team.ID:
			return refused(
				fmt.Sprintf("The accessbot tenant %s is already linked to the Slack workspace %s (%s), and a tenant can be linked to only one workspace.",
					tenant.Slug, cur.TeamName, cur.TeamID),
				"To move it, remove accessbot from that workspace and unbind it first.")
		case err != nil && !errors.Is(err, accessbot.ErrNotFound):
			return fmt.Errorf("read tenant %s binding: %w", tenant.ID, err)
		}
		other, err := q.WorkspaceByTeam(ctx, team.ID)
		switch {
		case err == nil && other.TenantID != tenant.ID:
			// Don't name the other tenant: the installer may not belong to it.
			return refused(
				fmt.Sprintf("The Slack workspace %s (%s) is already linked to another accessbot tenant, and a workspace can belong to only one tenant.",
					team.Name, team.ID))
		case err != nil && !errors.Is(err, accessbot.ErrNotFound):
			return fmt.Errorf("read team %s binding: %w", team.ID, err)
		}

		keyID, ct, err := i.keys.Seal([]byte(resp.AccessToken), secrets.AAD(tenant.ID, BotTokenSecret))
		if err != nil {
			return fmt.Errorf("encrypt bot token: %w", err)
		}
		if err := q.PutSecret(ctx, &accessbot.Secret{TenantID: tenant.ID, Name: BotTokenSecret, KeyID: keyID, Ciphertext: ct}); err != nil {
			return fmt.Errorf("store bot token: %w", err)
		}
		err = q.BindWorkspace(ctx, &accessbot.Workspace{
			TenantID: tenant.ID, TeamID: team.ID, TeamName: team.Name,
			BotTokenSecret: BotTokenSecret, BotUserID: resp.BotUserID, InstalledAt: i.now(),
		})
		if errors.Is(err, accessbot.ErrConflict) { // lost a race with another install
			return refused(fmt.Sprintf("The Slack workspace %s (%s) or the tenant %s was linked elsewhere meanwhile.",
				team.Name, team.ID, tenant.Slug))
		}
		if err != nil {
			return fmt.Errorf("bind workspace: %w", err)
		}
		after, _ := json.Marshal(map[string]string{
			"team_id": team.ID, "team_name": team.Name, "bot_user_id": resp.BotUserID,
			"installed_by_slack_user": resp.AuthedUser.ID, "scope": resp.Scope,
		})
		if err := q.AppendAudit(ctx, &accessbot.AuditEntry{
			TenantID: tenant.ID, At: i.now(), ActorID: "system", Action: "slack.installed",
			ObjectType: "workspace", ObjectID: team.ID, After: after,
		}); err != nil {
			return fmt.Errorf("audit install: %w", err)
		}
		return nil
	})
}

func (i *Installer) fail(w http.ResponseWriter, tenantID string, err error, what string) {
	e := i.log.Error().Err(err).Str("step", what)
	if tenantID != "" {
		e = e.Str("tenant", tenantID)
	}
	e.Msg("oauth install failed")
	writePage(w, http.StatusInternalServerError, page{Title: "Something went wrong", Lines: []string{
		"accessbot could not finish the installation (" + what + "). Nothing was changed; try again, and if it keeps failing ask your accessbot operator to check the logs.",
	}})
}

func slackErrorCode(err error) string {
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		return se.Err
	}
	return "no answer from Slack"
}

// ConfigFrom maps the loaded configuration to the installer's Config.
func ConfigFrom(s config.Slack, enc config.Encryption) (Config, error) {
	key, err := StateKeyFromConfig(enc.Key)
	if err != nil {
		return Config{}, err
	}
	return Config{
		ClientID:     s.ClientID,
		ClientSecret: s.ClientSecret,
		RedirectURL:  s.RedirectURL,
		APIURL:       s.APIURL,
		StateKey:     key,
	}, nil
}
