package requests

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

// Justification length limits, in characters after trimming: the forms'.
const (
	MinJustification           = accessbot.MinJustification
	MaxJustification           = accessbot.MaxJustification
	MaxConnectionJustification = accessbot.MaxConnectionJustification
	maxNameLen                 = 200
	maxFieldLen                = 2000
)

// Input is one kind of new request: UserAccess, ConnectionCreate,
// ConnectionAssign or ConnectionDelete.
type Input interface {
	scope() (tenantID, requesterID string)
	// validate checks the input against the store and fills the draft's
	// kind-specific parts; field problems go into fe.
	validate(ctx context.Context, q store.Queries, d *Draft, fe *FieldErrors) error
}

// UserAccess asks for a connection (the entitlement: group, role or account)
// of an application, for the requester or one of their direct reports.
type UserAccess struct {
	TenantID    string
	RequesterID string
	// TargetUserID is who gets access; "" means the requester.
	TargetUserID string
	AppID        string
	ConnectionID string
	// Duration of time-bound access; 0 asks for permanent access, allowed
	// only when the application's MaxDuration is 0.
	Duration      time.Duration
	Justification string
	// Channel is the Slack channel the request was made in: a channel
	// route's chain applies when the application has none of its own.
	Channel string
}

// Draft is a validated, not yet stored request with what the preview shows.
type Draft struct {
	// Request has Kind, requester, target, app, connection, Payload,
	// Duration, Justification, OpenKey and the resolved Levels; no ID yet.
	Request    accessbot.AccessRequest
	Requester  *accessbot.User
	Target     *accessbot.User // user access only
	App        *accessbot.Application
	Connection *accessbot.Connection // nil for connection creation
	// Chain is the approval chain the Levels were resolved from.
	Chain *accessbot.ApprovalChain
	// ChainWhy says in plain words why Chain applies.
	ChainWhy string
	// ForWhy says why the requester may ask for Target, when it is someone else.
	ForWhy string
	// Risk is the tier of the application or entitlement ("" for none);
	// a high-risk request's levels need step-up.
	Risk   accessbot.RiskTier
	policy *accessbot.RequestPolicy // the tenant's, read once per prepare
	now    time.Time                // the service's clock when validated
	// chain names the approval chain to use instead of the one picked by
	// application and connection (a purpose's chains).
	chain string
	// channel is the Slack channel whose route applies: where the request
	// is made, or for an extension where the grant's request was made.
	channel string
}

func (in UserAccess) scope() (string, string) { return in.TenantID, in.RequesterID }

func (in UserAccess) validate(ctx context.Context, q store.Queries, d *Draft, fe *FieldErrors) error {
	d.Request.Kind = accessbot.RequestUserAccess
	d.channel = in.Channel
	if err := loadApp(ctx, q, in.TenantID, in.AppID, d, fe); err != nil {
		return err
	}
	target := d.Requester
	if in.TargetUserID != "" && in.TargetUserID != in.RequesterID {
		u, err := q.GetUser(ctx, in.TenantID, in.TargetUserID)
		switch {
		case errors.Is(err, accessbot.ErrNotFound):
			fe.add(FieldTarget, "That person does not exist.")
			target = nil
		case err != nil:
			return fmt.Errorf("load target user %s: %w", in.TargetUserID, err)
		case u.Status != accessbot.UserActive:
			fe.add(FieldTarget, u.Name+" is no longer active.")
			target = nil
		default:
			// Who may ask for whom is checked here, on the server, whatever
			// the form offered.
			why, err := ForWhom(ctx, q, d.policy.OnBehalf, d.Requester, u, d.Request.AppID)
			if err != nil {
				return err
			}
			if why == "" {
				fe.add(FieldTarget, forWhomRefusal(d.policy.OnBehalf, u, d.App))
				target = nil
			} else {
				target = u
				d.ForWhy = why
			}
		}
	}
	d.Target = target
	if target != nil {
		d.Request.TargetUserID = target.ID
	}
	if d.App != nil {
		if in.ConnectionID == "" {
			fe.add(FieldConnection, "Choose what access you need.")
		} else if err := loadConnection(ctx, q, in.TenantID, in.ConnectionID, d, fe); err != nil {
			return err
		}
		checkDuration(in.Duration, d.App, fe)
	}
	d.Request.Duration = in.Duration
	j, ok := checkText(in.Justification, MinJustification, MaxJustification)
	if !ok {
		fe.add(FieldJustification, fmt.Sprintf("Say why access is needed, in %d to %d characters.", MinJustification, MaxJustification))
	}
	d.Request.Justification = j
	d.Risk = d.policy.Risk.TierOf(d.Request.AppID, d.Request.ConnectionID)
	if d.Risk == accessbot.RiskHigh {
		checkHighRisk(d.policy.Risk, in.Duration, j, fe)
	}
	d.Request.OpenKey = openKey(d.Request.Kind, d.Request.TargetUserID, d.Request.AppID, d.Request.ConnectionID, "")
	return nil
}

func checkDuration(dur time.Duration, app *accessbot.Application, fe *FieldErrors) {
	switch {
	case dur < 0:
		fe.add(FieldDuration, "The duration cannot be negative.")
	case dur == 0 && app.MaxDuration > 0:
		fe.add(FieldDuration, fmt.Sprintf("%s allows time-bound access only, up to %s.", app.Name, humanDuration(app.MaxDuration)))
	case app.MaxDuration > 0 && dur > app.MaxDuration:
		fe.add(FieldDuration, fmt.Sprintf("%s allows access for at most %s.", app.Name, humanDuration(app.MaxDuration)))
	}
}

// humanDuration says 8h as "8 hours" and 168h as "7 days".
func humanDuration(d time.Duration) string {
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		return plural(int64(d/(24*time.Hour)), "day")
	case d >= time.Hour && d%time.Hour == 0:
		return plural(int64(d/time.Hour), "hour")
	case d >= time.Minute && d%time.Minute == 0:
		return plural(int64(d/time.Minute), "minute")
	}
	return d.String()
}

// checkText trims s and checks its length in characters.
func checkText(s string, lo, hi int) (string, bool) {
	s = strings.TrimSpace(s)
	n := utf8.RuneCountInString(s)
	return s, n >= lo && n <= hi
}

func loadApp(ctx context.Context, q store.Queries, tenantID, appID string, d *Draft, fe *FieldErrors) error {
	if appID == "" {
		fe.add(FieldApp, "Choose an application.")
		return nil
	}
	app, err := q.GetApplication(ctx, tenantID, appID)
	if errors.Is(err, accessbot.ErrNotFound) {
		fe.add(FieldApp, "That application does not exist.")
		return nil
	}
	if err != nil {
		return fmt.Errorf("load application %s: %w", appID, err)
	}
	d.App = app
	d.Request.AppID = app.ID
	return nil
}

// loadConnection loads a connection of d.App; one of another application counts as missing.
func loadConnection(ctx context.Context, q store.Queries, tenantID, connID string, d *Draft, fe *FieldErrors) error {
	c, err := q.GetConnection(ctx, tenantID, connID)
	if errors.Is(err, accessbot.ErrNotFound) || (err == nil && c.AppID != d.App.ID) {
		fe.add(FieldConnection, "That connection does not exist in "+d.App.Name+".")
		return nil
	}
	if err != nil {
		return fmt.Errorf("load connection %s: %w", connID, err)
	}
	d.Connection = c
	d.Request.ConnectionID = c.ID
	return nil
}

// openKey identifies "the same thing" for duplicate detection among open requests.
func openKey(kind accessbot.RequestKind, target, app, conn, name string) string {
	return strings.Join([]string{string(kind), target, app, conn, strings.ToLower(name)}, "|")
}

// forWhomRefusal says why a requester may not ask for target, in words
// that match the tenant's policy.
func forWhomRefusal(p accessbot.OnBehalf, target *accessbot.User, app *accessbot.Application) string {
	var who string
	switch p.ManagerReach() {
	case accessbot.ReachDirectReports:
		who = "for yourself or your direct reports"
	case accessbot.ReachReportingLine:
		who = "for yourself or the people in your reporting line"
	default:
		who = "for yourself"
	}
	s := "You can request access only " + who + "; " + target.Name + " is not one of them."
	if len(p.Groups) > 0 && app != nil {
		s += " No group you are in may request " + app.Name + " for others."
	}
	return s
}

// highRiskLimits are r's limits for high-risk requests, defaults applied.
func highRiskLimits(r accessbot.Risk) (words int, maxDur time.Duration) {
	words, maxDur = r.HighMinWords, r.HighMaxDuration
	if words <= 0 {
		words = accessbot.DefaultHighMinWords
	}
	if maxDur <= 0 {
		maxDur = accessbot.DefaultHighMaxDuration
	}
	return words, maxDur
}

// checkHighRiskWords checks a high-risk justification's length in words.
func checkHighRiskWords(r accessbot.Risk, justification string, fe *FieldErrors) {
	words, _ := highRiskLimits(r)
	if n := len(strings.Fields(justification)); n < words {
		fe.add(FieldJustification, fmt.Sprintf("This is high-risk access: say why in at least %d words (you wrote %d).", words, n))
	}
}

// checkHighRisk holds a high-risk request to a longer justification and a
// shorter maximum duration (never permanent).
func checkHighRisk(r accessbot.Risk, dur time.Duration, justification string, fe *FieldErrors) {
	_, maxDur := highRiskLimits(r)
	checkHighRiskWords(r, justification, fe)
	if dur == 0 || dur > maxDur {
		fe.add(FieldDuration, fmt.Sprintf("This is high-risk access: at most %s, never permanent.", humanDuration(maxDur)))
	}
}
