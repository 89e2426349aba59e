package runners

import "github.com/accessbot/accessbot/flows/provision"

// Registrar takes runners; *provision.Engine is one.
type Registrar interface {
	Register(k provision.Kind, r provision.Runner)
	RegisterProvider(k provision.Kind, provider string, r provision.Runner)
}

// Register makes w run every {provider}_webhook_{endpoint} step (the
// provider names a webhook connector), g the gitlab_issue_* steps and m
// the email_* steps. A nil runner is left out.
func Register(reg Registrar, w *Webhook, g *GitLab, m *Email) {
	if w != nil {
		reg.RegisterProvider(provision.KindWebhook, "", w)
	}
	if g != nil {
		reg.Register(provision.KindGitLabIssue, g)
	}
	if m != nil {
		reg.Register(provision.KindEmail, m)
	}
}
