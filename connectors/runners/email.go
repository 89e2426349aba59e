package runners

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"html"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/connectors/catalog"
	"github.com/accessbot/accessbot/connectors/email"
	"github.com/accessbot/accessbot/flows/provision"
)

// Users finds the tenant user an email_approval asks; store.Store has it.
type Users interface {
	GetUserByEmail(ctx context.Context, tenantID, email string) (*accessbot.User, error)
	GetUser(ctx context.Context, tenantID, id string) (*accessbot.User, error)
}

// Email runs email_notification and email_approval over the tenant's email
// connector. Params: connector (when there are several), subject, text;
// notification: to (comma-separated addresses, default the target's
// email); approval: approver (a tenant user's email), valid_for (how long
// the links work, default 72h).
type Email struct {
	cat   *catalog.Loader
	users Users
	links *Links // nil: email_approval is refused (no http.public_url)
	log   zerolog.Logger
	// RootCAs, when set, is trusted for the SMTP server (tests).
	RootCAs *x509.CertPool
}

// NewEmail builds the email runner. links may be nil when accessbot has no
// public URL for the Approve and Deny links.
func NewEmail(cat *catalog.Loader, users Users, links *Links, log zerolog.Logger) *Email {
	return &Email{cat: cat, users: users, links: links, log: log}
}

var _ provision.Runner = (*Email)(nil)

// DefaultLinkValidity is how long email_approval links work by default.
const DefaultLinkValidity = 72 * time.Hour

func (e *Email) client(ctx context.Context, s provision.Step) (*email.Client, error) {
	in, err := e.cat.Find(ctx, s.TenantID, catalog.Email, s.Params["connector"])
	if err != nil {
		return nil, setupErr(err)
	}
	hc, err := e.cat.HTTP(ctx, s.TenantID)
	if err != nil {
		return nil, setupErr(err)
	}
	port := 0
	if p := in.Settings["port"]; p != "" {
		port, _ = strconv.Atoi(p)
	}
	cl, err := email.New(email.Config{
		Host: in.Settings["host"], Port: port, TLS: email.TLSMode(in.Settings["tls"]),
		Username: in.Settings["username"], Password: in.Secret("password"), AuthMechanism: in.Settings["auth"],
		From: in.Settings["from"], RootCAs: e.RootCAs, Dial: hc.DialContext,
	}, e.log)
	if err != nil {
		return nil, provision.Permanent(err)
	}
	return cl, nil
}

func (e *Email) Run(ctx context.Context, s provision.Step) (provision.Result, error) {
	subject, err := param(s, "subject")
	if err != nil {
		return provision.Result{}, err
	}
	text, err := param(s, "text")
	if err != nil {
		return provision.Result{}, err
	}
	switch s.Op {
	case "notification":
		to := splitList(s.Params["to"])
		if len(to) == 0 && s.Fields.Target.Email != "" {
			to = []string{s.Fields.Target.Email}
		}
		if len(to) == 0 {
			return provision.Result{}, provision.Permanent(fmt.Errorf("step %d (%s): parameter to is required", s.Index+1, s.Type))
		}
		cl, err := e.client(ctx, s)
		if err != nil {
			return provision.Result{}, err
		}
		if err := cl.Notify(ctx, email.Notification{ID: stableID(s.Key), To: to, Subject: subject, Text: text}); err != nil {
			return provision.Result{}, mailErr(err)
		}
		return provision.Result{Note: "email sent to " + strings.Join(to, ", ")}, nil
	case "approval":
		return e.approval(ctx, s, subject, text)
	}
	return provision.Result{}, provision.Permanent(fmt.Errorf("%s: %w", s.Type, provision.ErrUnknownScript))
}

func (e *Email) approval(ctx context.Context, s provision.Step, subject, text string) (provision.Result, error) {
	if e.links == nil {
		return provision.Result{}, provision.Permanent(errors.New("email_approval needs http.public_url: the Approve and Deny links point at accessbot"))
	}
	addr, err := param(s, "approver")
	if err != nil {
		return provision.Result{}, err
	}
	u, err := e.users.GetUserByEmail(ctx, s.TenantID, addr)
	if errors.Is(err, accessbot.ErrNotFound) {
		return provision.Result{}, provision.Permanent(fmt.Errorf("step %d (%s): approver %s is not a user of this tenant", s.Index+1, s.Type, addr))
	}
	if err != nil {
		return provision.Result{}, fmt.Errorf("find approver %s: %w", addr, err)
	}
	if u.Status != accessbot.UserActive {
		return provision.Result{}, provision.Permanent(fmt.Errorf("step %d (%s): approver %s is not active", s.Index+1, s.Type, addr))
	}
	valid := DefaultLinkValidity
	if v := strings.TrimSpace(s.Params["valid_for"]); v != "" {
		if valid, err = time.ParseDuration(v); err != nil || valid <= 0 {
			return provision.Result{}, provision.Permanent(fmt.Errorf("step %d (%s): valid_for %q is not a duration such as 72h", s.Index+1, s.Type, v))
		}
	}
	approve, err := e.links.URL(Link{TenantID: s.TenantID, FlowID: s.FlowID, Index: s.Index, UserID: u.ID, Outcome: provision.OutcomeDone}, valid)
	if err != nil {
		return provision.Result{}, err
	}
	deny, err := e.links.URL(Link{TenantID: s.TenantID, FlowID: s.FlowID, Index: s.Index, UserID: u.ID, Outcome: provision.OutcomeFailed}, valid)
	if err != nil {
		return provision.Result{}, err
	}
	body := text + "\n\nApprove: " + approve + "\nDeny: " + deny + "\n\nEach link works once, until the request is answered, for " + valid.String() + ".\n"
	htmlBody := "<p>" + strings.ReplaceAll(html.EscapeString(text), "\n", "<br>") + "</p>" +
		`<p><a href="` + html.EscapeString(approve) + `">Approve</a> &nbsp; <a href="` + html.EscapeString(deny) + `">Deny</a></p>` +
		"<p>Each link works once, until the request is answered, for " + html.EscapeString(valid.String()) + ".</p>"
	cl, err := e.client(ctx, s)
	if err != nil {
		return provision.Result{}, err
	}
	if err := cl.Notify(ctx, email.Notification{ID: stableID(s.Key), To: []string{u.Email}, Subject: subject, Text: body, HTML: htmlBody}); err != nil {
		return provision.Result{}, mailErr(err)
	}
	return provision.Result{Wait: true, Note: "approval asked of " + u.Email + " by email"}, nil
}

// mailErr: a refused login or address will not pass on a retry.
func mailErr(err error) error {
	if errors.Is(err, email.ErrAuth) {
		return provision.Permanent(err)
	}
	return setupErr(err)
}

func splitList(s string) []string {
	var out []string
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
