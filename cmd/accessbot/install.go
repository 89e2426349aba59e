package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/oauth"
	"github.com/accessbot/accessbot/internal/config"
)

// installLinkCommand prints an admin-issued OAuth install link for a tenant.
func (m *Main) installLinkCommand() *cobra.Command {
	var (
		slug string
		ttl  time.Duration
	)
	cmd := &cobra.Command{
		Use:   "install-link --tenant SLUG [--ttl 24h]",
		Short: "Print a signed, expiring link that installs the Slack app for a tenant (OAuth install mode)",
		Long: `Print a link that installs accessbot's Slack app into one workspace and links
that workspace to the tenant SLUG (OAuth install mode: slack.client_id,
slack.client_secret and slack.redirect_url set). /slack/install refuses
requests without such a link, so knowing a tenant's slug is not enough to
bind a workspace to it.

The link is signed with a key derived from encryption.key and works until
--ttl passes (at most 720h). Anyone holding it can link a workspace to the
tenant until then, but a tenant links to only one workspace: once installed,
the link can only reinstall into that same workspace. The link starts with
http.public_url (or, when that is unset, the scheme and host of
slack.redirect_url). Issuing a link is recorded in the tenant's audit log.`,
		Example: `  accessbot install-link --tenant acme
  accessbot install-link --tenant acme --ttl 1h`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return m.installLink(cmd, slug, ttl)
		},
	}
	cmd.Flags().StringVar(&slug, "tenant", "", "`SLUG` of the tenant the workspace will belong to")
	cmd.Flags().DurationVar(&ttl, "ttl", oauth.DefaultLinkTTL, "how long the link works")
	_ = cmd.MarkFlagRequired("tenant")
	return cmd
}

func (m *Main) installLink(cmd *cobra.Command, slug string, ttl time.Duration) error {
	if ttl <= 0 || ttl > oauth.MaxLinkTTL {
		return fmt.Errorf("--ttl must be between 1s and %s (got %s)", oauth.MaxLinkTTL, ttl)
	}
	cfg, log, err := m.boot()
	if err != nil {
		return err
	}
	if !cfg.Slack.OAuth() {
		return errors.New("OAuth install mode is not configured, so `accessbot run` serves no /slack/install: " +
			"set slack.client_id, slack.client_secret and slack.redirect_url (docs/slack-setup.md)")
	}
	base, err := publicBase(cfg)
	if err != nil {
		return err
	}
	key, err := oauth.StateKeyFromConfig(cfg.Encryption.Key)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	st, err := m.openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	t, err := st.GetTenantBySlug(ctx, slug)
	if errors.Is(err, accessbot.ErrNotFound) {
		return fmt.Errorf("--tenant %q: no such tenant: create it first with `accessbot apply -f tenant.yaml`", slug)
	}
	if err != nil {
		return fmt.Errorf("--tenant %q: %w", slug, err)
	}
	expires := m.Now().Add(ttl).Truncate(time.Second)
	tok, err := oauth.NewLinkToken(key, t.ID, expires)
	if err != nil {
		return err
	}
	link, err := oauth.InstallLinkURL(base, tok)
	if err != nil {
		return err
	}
	after, _ := json.Marshal(map[string]string{"expires": expires.UTC().Format(time.RFC3339)})
	if err := st.AppendAudit(ctx, &accessbot.AuditEntry{
		TenantID: t.ID, At: m.Now(), ActorID: "cli", Action: "slack.install_link_issued",
		ObjectType: "tenant", ObjectID: t.ID, After: after,
	}); err != nil {
		return fmt.Errorf("audit install link for tenant %q: %w", slug, err)
	}

	note := fmt.Sprintf("# install link for tenant %s (%s), valid until %s; anyone holding it can link a Slack workspace to this tenant until then",
		t.Slug, t.Name, expires.UTC().Format(time.RFC3339))
	if ws, err := st.WorkspaceByTenant(ctx, t.ID); err == nil {
		note += fmt.Sprintf("\n# tenant %s is already linked to Slack workspace %s (%s): this link can only reinstall into that workspace",
			t.Slug, ws.TeamName, ws.TeamID)
	}
	fmt.Fprintln(cmd.ErrOrStderr(), note)
	_, err = fmt.Fprintln(cmd.OutOrStdout(), link)
	return err
}

// publicBase is where browsers reach this server: http.public_url, else the
// origin of slack.redirect_url (which must point at this server anyway).
func publicBase(cfg *config.Config) (string, error) {
	if cfg.HTTP.PublicURL != "" {
		return cfg.HTTP.PublicURL, nil
	}
	u, err := url.Parse(cfg.Slack.RedirectURL)
	if err != nil || u.Host == "" {
		return "", errors.New("set http.public_url (e.g. https://accessbot.example.com): install links start with it")
	}
	return u.Scheme + "://" + u.Host, nil
}

// mountInstaller serves OAuth v2 install mode (/slack/install and
// /slack/oauth/callback) when slack.client_id is set. After an install the
// workspace's cached Web API client is dropped, so a reinstall's new token is
// used at once.
func (m *Main) mountInstaller(rt *Runtime, onInstalled func(teamID string)) error {
	cfg := rt.Config
	if !cfg.Slack.OAuth() {
		return nil
	}
	oc, err := oauth.ConfigFrom(cfg.Slack, cfg.Encryption)
	if err != nil {
		return fmt.Errorf("slack oauth install: %w", err)
	}
	if rt.Keyring == nil || !rt.Keyring.CanSeal() {
		return errors.New("slack oauth install: encryption.key is required to store bot tokens")
	}
	in, err := oauth.New(oc, rt.Store, rt.Keyring, oauth.Options{Now: rt.Now, Log: rt.Log, OnInstalled: onInstalled})
	if err != nil {
		return err
	}
	in.Register(rt.HTTP)
	rt.Log.Info().Str("install", oauth.InstallPath).Str("callback", cfg.Slack.RedirectURL).
		Msg("slack oauth install mode on: issue install links with `accessbot install-link --tenant SLUG`")
	return nil
}

// lateForgetter lets handlers registered while the Slack app is assembled
// drop what the app built afterwards caches about a workspace (bot.App.Forget).
type lateForgetter struct {
	forget atomic.Pointer[func(teamID string)]
}

func (f *lateForgetter) set(forget func(teamID string)) { f.forget.Store(&forget) }

func (f *lateForgetter) Forget(teamID string) {
	if fn := f.forget.Load(); fn != nil {
		(*fn)(teamID)
	}
}
