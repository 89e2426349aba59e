package runners

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/provision"
)

// LinkPath is where email_approval links point, under http.public_url.
const LinkPath = "/approvals/email/"

const linkPurpose = "email-approval-link"

// Link is what an email_approval link says: who may answer which waiting
// step, and how. It is signed; the server trusts nothing else in the URL.
type Link struct {
	TenantID string            `json:"t"`
	FlowID   string            `json:"f"`
	Index    int               `json:"i"`
	UserID   string            `json:"u"`
	Outcome  provision.Outcome `json:"o"`
	Expires  int64             `json:"e"` // Unix seconds
}

// MACKeys sign and check links; *secrets.Keyring is one.
type MACKeys interface {
	MAC(purpose string, msg []byte) (keyID string, mac []byte, err error)
	VerifyMAC(keyID, purpose string, msg, mac []byte) bool
}

// Links makes and reads signed links.
type Links struct {
	keys MACKeys
	base string // http.public_url, without a trailing /
	now  func() time.Time
}

// NewLinks builds Links for links under publicURL.
func NewLinks(keys MACKeys, publicURL string, now func() time.Time) *Links {
	if now == nil {
		now = time.Now
	}
	return &Links{keys: keys, base: strings.TrimRight(publicURL, "/"), now: now}
}

// Link errors, each with its own page.
var (
	ErrLinkInvalid = errors.New("this link is not valid")
	ErrLinkExpired = errors.New("this link has expired")
)

// URL signs l, valid for d from now.
func (ls *Links) URL(l Link, d time.Duration) (string, error) {
	l.Expires = ls.now().Add(d).Unix()
	payload, err := json.Marshal(l)
	if err != nil {
		return "", fmt.Errorf("encode link: %w", err)
	}
	p := base64.RawURLEncoding.EncodeToString(payload)
	keyID, mac, err := ls.keys.MAC(linkPurpose, []byte(p))
	if err != nil {
		return "", fmt.Errorf("sign link: %w", err)
	}
	return ls.base + LinkPath + p + "." + base64.RawURLEncoding.EncodeToString([]byte(keyID)) + "." + base64.RawURLEncoding.EncodeToString(mac), nil
}

// Parse checks a link token's signature and expiry.
func (ls *Links) Parse(token string) (Link, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return Link{}, ErrLinkInvalid
	}
	keyID, err1 := base64.RawURLEncoding.DecodeString(parts[1])
	mac, err2 := base64.RawURLEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil || !ls.keys.VerifyMAC(string(keyID), linkPurpose, []byte(parts[0]), mac) {
		return Link{}, ErrLinkInvalid
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[0])
	var l Link
	if err != nil || json.Unmarshal(payload, &l) != nil || l.TenantID == "" || l.FlowID == "" || l.UserID == "" ||
		(l.Outcome != provision.OutcomeDone && l.Outcome != provision.OutcomeFailed) {
		return Link{}, ErrLinkInvalid
	}
	if !ls.now().Before(time.Unix(l.Expires, 0)) {
		return l, ErrLinkExpired
	}
	return l, nil
}

// LinkHandler serves the links. GET shows what the link will do with a
// button; only the POST answers, so a mail scanner that follows links
// decides nothing. The answer goes through the Resolver, the same code
// and checks as the Slack buttons: who may answer, and only once.
type LinkHandler struct {
	links    *Links
	resolver provision.Resolver
	users    Users
	log      zerolog.Logger
}

// NewLinkHandler builds the handler; mount it at "GET "+LinkPath+"{token}"
// and "POST "+LinkPath+"{token}".
func NewLinkHandler(links *Links, resolver provision.Resolver, users Users, log zerolog.Logger) *LinkHandler {
	return &LinkHandler{links: links, resolver: resolver, users: users, log: log.With().Str("component", "email_links").Logger()}
}

// Mount adds the routes to mux (the public listener's).
func (h *LinkHandler) Mount(mux interface {
	Handle(pattern string, handler http.Handler)
}) {
	mux.Handle("GET "+LinkPath+"{token}", h)
	mux.Handle("POST "+LinkPath+"{token}", h)
}

var linkPage = template.Must(template.New("link").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><title>{{.Title}} · accessbot</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;color:#1d1c1d}
button{font-size:1rem;padding:.6rem 1.4rem;border:0;border-radius:6px;color:#fff;background:{{.Color}};cursor:pointer}</style>
</head><body><h1>{{.Title}}</h1><p>{{.Body}}</p>
{{if .Form}}<form method="post"><button type="submit">{{.Button}}</button></form>{{end}}
</body></html>
`))

type page struct {
	Status                     int
	Title, Body, Button, Color string
	Form                       bool
}

func (h *LinkHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := h.serve(r)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'")
	w.WriteHeader(p.Status)
	_ = linkPage.Execute(w, p)
}

func (h *LinkHandler) serve(r *http.Request) page {
	l, err := h.links.Parse(r.PathValue("token"))
	switch {
	case errors.Is(err, ErrLinkExpired):
		return page{Status: http.StatusGone, Title: "This link has expired", Body: "Links in approval emails work for a limited time. Ask the requester or an accessbot admin to ask you again."}
	case err != nil:
		h.log.Info().Str("remote", r.RemoteAddr).Msg("approval link refused: bad signature or malformed")
		return page{Status: http.StatusBadRequest, Title: "This link is not valid", Body: "The link is incomplete or was changed. Open it again from the email, whole."}
	}
	verb, color := "Approve", "#007a5a"
	if l.Outcome == provision.OutcomeFailed {
		verb, color = "Deny", "#e01e5a"
	}
	if r.Method != http.MethodPost {
		return page{Status: http.StatusOK, Title: verb + " this request?", Body: "You were asked by email to answer an access request's approval step.", Button: verb, Color: color, Form: true}
	}
	ctx := r.Context()
	u, err := h.users.GetUser(ctx, l.TenantID, l.UserID)
	if err != nil || u.Status != accessbot.UserActive {
		return page{Status: http.StatusForbidden, Title: "You may not answer this", Body: "The account this link was made for is no longer active."}
	}
	reason := ""
	if l.Outcome == provision.OutcomeFailed {
		reason = "denied by email"
	}
	err = h.resolver.Resolve(ctx, l.TenantID, l.FlowID, l.Index, l.UserID, l.Outcome, reason)
	log := h.log.Info().Str("tenant", l.TenantID).Str("flow", l.FlowID).Int("step", l.Index).Str("user", l.UserID).Str("outcome", string(l.Outcome))
	switch {
	case errors.Is(err, provision.ErrAlreadyAnswered):
		log.Msg("approval link used after the step was answered")
		return page{Status: http.StatusConflict, Title: "Already answered", Body: "This step was already answered; each link works once. Nothing was changed."}
	case errors.Is(err, accessbot.ErrNotFound):
		return page{Status: http.StatusNotFound, Title: "Nothing to answer", Body: "The request this link was for no longer exists."}
	case errors.Is(err, provision.ErrForbidden):
		return page{Status: http.StatusForbidden, Title: "You may not answer this", Body: "You are not (or no longer) the approver of this step."}
	case err != nil:
		h.log.Error().Err(err).Str("tenant", l.TenantID).Str("flow", l.FlowID).Int("step", l.Index).Msg("approval link: recording the answer failed")
		return page{Status: http.StatusInternalServerError, Title: "Something went wrong", Body: "Your answer was not recorded. Try the link again in a minute."}
	}
	log.Msg("approval step answered by email link")
	done := "approved"
	if l.Outcome == provision.OutcomeFailed {
		done = "denied"
	}
	return page{Status: http.StatusOK, Title: "Thank you", Body: "You " + done + " the request. You can close this page."}
}
