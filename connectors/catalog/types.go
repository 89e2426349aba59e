// Package catalog knows the connector types a tenant file may declare
// (their settings and which of them are secrets) and, at run time, loads a
// tenant's connector instances from the store with their secrets opened and
// hands out the tenant's outbound HTTP client.
package catalog

import (
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Field is one setting of a connector type.
type Field struct {
	Key      string
	Required bool
	// Secret fields are never written in the tenant file: it names the
	// environment variable that holds the value, as Key+"_env".
	Secret bool
	Doc    string
	check  func(v string) error
}

// EnvKey is how the tenant file spells a secret field.
func (f Field) EnvKey() string { return f.Key + "_env" }

// Type is one kind of connector.
type Type struct {
	Name   string
	Doc    string
	Fields []Field
}

// The connector types.
const (
	Webhook = "webhook"
	Email   = "email"
	GitLab  = "gitlab"
	Slack   = "slack"
	AzureAD = "azuread"
	SCIM    = "scim"
)

var types = []Type{
	{Name: Webhook, Doc: "HTTP POST of a JSON body, signed with Standard Webhooks headers", Fields: []Field{
		{Key: "url", Required: true, Doc: "receiver URL; {endpoint} in it is replaced by the script's endpoint name", check: checkURL},
		{Key: "bearer", Secret: true, Doc: "optional token sent as Authorization: Bearer"},
		{Key: "signing_secret", Secret: true, Doc: "optional whsec_... secret: signs each delivery (webhook-signature)"},
	}},
	{Name: Email, Doc: "SMTP", Fields: []Field{
		{Key: "host", Required: true, Doc: "SMTP server host name"},
		{Key: "port", Doc: "default 587 (465 with tls: tls)", check: checkPort},
		{Key: "tls", Doc: "starttls (default, required), tls (implicit) or none (local relay only, no AUTH)", check: oneOf("starttls", "tls", "none")},
		{Key: "username", Doc: "SMTP AUTH user; leave out for no AUTH"},
		{Key: "password", Secret: true, Doc: "SMTP AUTH password"},
		{Key: "auth", Doc: "AUTH mechanism: PLAIN (default), LOGIN, CRAM-MD5, SCRAM-SHA-256, ..."},
		{Key: "from", Required: true, Doc: `sender, e.g. "accessbot <accessbot@example.com>"`, check: checkAddress},
	}},
	{Name: GitLab, Doc: "GitLab issues through the official Go client", Fields: []Field{
		{Key: "base_url", Doc: "https://gitlab.example.com for a self-hosted instance; default gitlab.com", check: checkURL},
		{Key: "project", Doc: "default project (id or group/name) of the gitlab_issue_* scripts"},
		{Key: "token", Secret: true, Required: true, Doc: "personal, group or project access token with the api scope"},
	}},
	{Name: Slack, Doc: "the tenant's own Slack workspace (the bot's token); no settings", Fields: nil},
	{Name: AzureAD, Doc: "Microsoft Entra ID (Azure AD) through Microsoft Graph: inventory sync and the azuread_api_* scripts", Fields: []Field{
		{Key: "tenant_id", Required: true, Doc: "Directory (tenant) ID of the app registration"},
		{Key: "client_id", Required: true, Doc: "Application (client) ID of the app registration"},
		{Key: "client_secret", Secret: true, Required: true, Doc: "the client secret's Value (not its Secret ID)"},
		{Key: "authority_url", Doc: "default https://login.microsoftonline.com (national clouds differ)", check: checkURL},
		{Key: "graph_url", Doc: "default https://graph.microsoft.com/v1.0", check: checkURL},
	}},
	{Name: SCIM, Doc: "any SCIM 2.0 application (RFC 7643/7644) with a bearer token: inventory sync and the scim_api_* scripts", Fields: []Field{
		{Key: "base_url", Required: true, Doc: "the SCIM base URL, e.g. https://app.example.com/scim/v2 (/Users, /Groups and /ServiceProviderConfig are under it)", check: checkURL},
		{Key: "token", Secret: true, Required: true, Doc: "the application's SCIM bearer token"},
	}},
}

// Lookup returns the type named t.
func Lookup(t string) (Type, bool) {
	if t == "smtp" {
		t = Email
	}
	i := slices.IndexFunc(types, func(x Type) bool { return x.Name == t })
	if i < 0 {
		return Type{}, false
	}
	return types[i], true
}

// Types lists every connector type, for docs and messages.
func Types() []Type { return slices.Clone(types) }

// Names lists the type names.
func Names() []string {
	out := make([]string, len(types))
	for i, t := range types {
		out[i] = t.Name
	}
	return out
}

// Field returns the type's field whose key (or, for a secret, env key) is k.
func (t Type) Field(k string) (Field, bool) {
	for _, f := range t.Fields {
		if f.Key == k || (f.Secret && f.EnvKey() == k) {
			return f, true
		}
	}
	return Field{}, false
}

// Keys lists the keys the tenant file may use for t.
func (t Type) Keys() []string {
	var out []string
	for _, f := range t.Fields {
		if f.Secret {
			out = append(out, f.EnvKey())
		} else {
			out = append(out, f.Key)
		}
	}
	return out
}

// Check validates a plain setting's value. It never sees secrets.
func (f Field) Check(v string) error {
	if f.check == nil {
		return nil
	}
	return f.check(v)
}

var envRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)

// CheckEnvName validates an environment variable name. Its message never
// repeats the value: a pasted secret must not reach the output.
func CheckEnvName(v string) error {
	if !envRE.MatchString(v) {
		return fmt.Errorf("not an environment variable name (letters, digits and _, such as GITLAB_TOKEN); the value itself is never written in the tenant file")
	}
	return nil
}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// CheckName validates a connector name: it is the {provider} of script
// types such as NAME_webhook_ENDPOINT, so it cannot hold _api_ or _webhook_.
func CheckName(n string) error {
	if !nameRE.MatchString(n) || strings.Contains(n, "_api_") || strings.Contains(n, "_webhook_") ||
		strings.HasSuffix(n, "_api") || strings.HasSuffix(n, "_webhook") {
		return fmt.Errorf("%q is not a connector name: use 1-32 lower-case letters, digits and _, starting with a letter, without _api_ or _webhook_", n)
	}
	return nil
}

func checkURL(v string) error {
	u, err := url.Parse(strings.ReplaceAll(v, "{endpoint}", "x"))
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("%q is not an http(s) URL", v)
	}
	if u.User != nil {
		return fmt.Errorf("the URL carries a user or password: give secrets as *_env references instead")
	}
	return nil
}

func checkPort(v string) error {
	if p, err := strconv.Atoi(v); err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("%q is not a port (1-65535)", v)
	}
	return nil
}

func checkAddress(v string) error {
	if _, err := mail.ParseAddress(v); err != nil {
		return fmt.Errorf("%q is not an email address", v)
	}
	return nil
}

func oneOf(allowed ...string) func(string) error {
	return func(v string) error {
		if !slices.Contains(allowed, v) {
			return fmt.Errorf("%q is not one of: %s", v, strings.Join(allowed, ", "))
		}
		return nil
	}
}
