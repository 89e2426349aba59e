// Package manifest builds the Slack app manifest for accessbot: Socket Mode,
// the /access command, interactivity, the App Home tab, the events the bot
// handles and exactly the bot scopes the code calls for.
package manifest

import (
	"bytes"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/accessbot/accessbot"
)

// BotScopesCSV is the bot scope list in the comma-separated form the OAuth v2
// authorize URL takes (scope=...). Each scope is there because code calls for it:
//
//	channels:history conversations.history/replies of a digest or alert channel
//	chat:write       post and update approval DMs, digests and reminders
//	commands         the /access slash command
//	files:write      files.getUploadURLExternal/completeUploadExternal: a report in a DM
//	groups:history   the same for a private digest or alert channel
//	im:history       the same for the bot's DMs
//	im:write         conversations.open to DM a requester or approver
//	users:read       users.info (also needed to receive user_change)
//	users:read.email the email on users.info, matched to tenant users
//
// The history scopes let a retry after a crash or an outage look for the
// post it may have made (by its message metadata) before posting again:
// without them a notification could be sent twice. They let the bot read
// only conversations it is in: its own DMs and the channels it posts to.
const BotScopesCSV = "channels:history,chat:write,commands,files:write,groups:history,im:history,im:write,users:read,users:read.email"

// BotScopes returns the bot scopes (a fresh slice each call). The manifest and
// the OAuth install URL both use it, so they cannot drift apart.
func BotScopes() []string { return strings.Split(BotScopesCSV, ",") }

// BotEvents returns the bot events the app subscribes to. Subscribe only to
// events the bot handles: slack-go cannot ack an event it fails to parse.
func BotEvents() []string {
	return []string{"app_home_opened", "user_change", "app_uninstalled", "tokens_revoked"}
}

const (
	// DefaultName is the app and bot name when Options.Name is empty.
	DefaultName = "accessbot"
	// Command is the slash command the router registers.
	Command = "/access"

	maxNameRunes = 35 // display_information.name in Slack's manifest schema
	maxBotName   = 80 // features.bot_user.display_name
)

// Options are the few things an admin may change.
type Options struct {
	Name        string // app and bot display name; DefaultName when empty
	RedirectURL string // OAuth redirect (multi-workspace install); omitted when empty
}

// The manifest's shape; field order is the order in the YAML.
type (
	document struct {
		Metadata    metadata    `yaml:"_metadata"`
		Display     display     `yaml:"display_information"`
		Features    features    `yaml:"features"`
		OAuthConfig oauthConfig `yaml:"oauth_config"`
		Settings    settings    `yaml:"settings"`
	}
	metadata struct {
		MajorVersion int `yaml:"major_version"`
		MinorVersion int `yaml:"minor_version"`
	}
	display struct {
		Name        string `yaml:"name"`
		Description string `yaml:"description"`
	}
	features struct {
		AppHome       appHome        `yaml:"app_home"`
		BotUser       botUser        `yaml:"bot_user"`
		SlashCommands []slashCommand `yaml:"slash_commands"`
	}
	appHome struct {
		HomeTabEnabled             bool `yaml:"home_tab_enabled"`
		MessagesTabEnabled         bool `yaml:"messages_tab_enabled"`
		MessagesTabReadOnlyEnabled bool `yaml:"messages_tab_read_only_enabled"`
	}
	botUser struct {
		DisplayName  string `yaml:"display_name"`
		AlwaysOnline bool   `yaml:"always_online"`
	}
	slashCommand struct {
		Command      string `yaml:"command"`
		Description  string `yaml:"description"`
		UsageHint    string `yaml:"usage_hint"`
		ShouldEscape bool   `yaml:"should_escape"`
	}
	oauthConfig struct {
		RedirectURLs []string `yaml:"redirect_urls,omitempty"`
		Scopes       scopes   `yaml:"scopes"`
	}
	scopes struct {
		Bot []string `yaml:"bot"`
	}
	settings struct {
		EventSubscriptions   eventSubscriptions `yaml:"event_subscriptions"`
		Interactivity        interactivity      `yaml:"interactivity"`
		OrgDeployEnabled     bool               `yaml:"org_deploy_enabled"`
		SocketModeEnabled    bool               `yaml:"socket_mode_enabled"`
		TokenRotationEnabled bool               `yaml:"token_rotation_enabled"`
	}
	eventSubscriptions struct {
		BotEvents []string `yaml:"bot_events"`
	}
	interactivity struct {
		IsEnabled bool `yaml:"is_enabled"` // no request_url: Socket Mode
	}
)

func build(opts Options) (document, error) {
	name := strings.TrimSpace(opts.Name)
	if name == "" {
		name = DefaultName
	}
	if n := utf8.RuneCountInString(name); n > maxNameRunes {
		return document{}, fmt.Errorf("app name %q has %d characters; Slack allows %d: %w", name, n, maxNameRunes, accessbot.ErrInvalid)
	}
	if strings.ContainsAny(name, "\n\r\t") {
		return document{}, fmt.Errorf("app name %q contains control characters: %w", name, accessbot.ErrInvalid)
	}
	var redirects []string
	if opts.RedirectURL != "" {
		u, err := url.Parse(opts.RedirectURL)
		// Slack requires HTTPS redirect URIs without a fragment.
		if err != nil || u.Scheme != "https" || u.Host == "" || u.Fragment != "" || strings.Contains(opts.RedirectURL, "#") {
			return document{}, fmt.Errorf("redirect URL %q must be an absolute https URL without #: %w", opts.RedirectURL, accessbot.ErrInvalid)
		}
		redirects = []string{opts.RedirectURL}
	}
	return document{
		Metadata: metadata{MajorVersion: 1, MinorVersion: 1},
		Display: display{
			Name:        name,
			Description: "Request, approve and review access without leaving Slack.",
		},
		Features: features{
			// The messages tab stays on and writable so the bot's DMs reach people.
			AppHome: appHome{HomeTabEnabled: true, MessagesTabEnabled: true, MessagesTabReadOnlyEnabled: false},
			BotUser: botUser{DisplayName: name, AlwaysOnline: true},
			SlashCommands: []slashCommand{{
				Command:     Command,
				Description: "Request access, approve requests and review grants",
				UsageHint:   "[help | request | connection | mine | approvals | reviews]",
			}},
		},
		OAuthConfig: oauthConfig{RedirectURLs: redirects, Scopes: scopes{Bot: BotScopes()}},
		Settings: settings{
			EventSubscriptions: eventSubscriptions{BotEvents: BotEvents()},
			Interactivity:      interactivity{IsEnabled: true},
			SocketModeEnabled:  true,
		},
	}, nil
}

// YAML returns the manifest as YAML, ready to paste into "Create an app →
// From an app manifest" at api.slack.com/apps.
func YAML(opts Options) ([]byte, error) {
	doc, err := build(opts)
	if err != nil {
		return nil, fmt.Errorf("build manifest: %w", err)
	}
	var buf bytes.Buffer
	buf.WriteString("# Slack app manifest for accessbot, generated by `accessbot manifest`.\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	return buf.Bytes(), nil
}
