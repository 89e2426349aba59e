package tenantfile

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/internal/secrets"
)

// RiskPolicy is the "risk:" section: what a high-risk request needs. Tiers
// themselves are on applications and connections (risk: high).
//
//	risk:
//	  high:
//	    min_justification_words: 12   # default 12
//	    max_duration: 8h              # default 8h; never permanent
type RiskPolicy struct {
	HighMinWords    int
	HighMaxDuration time.Duration
	at              loc
}

// StepUp is the "step_up:" section: the tenant's OpenID Connect provider,
// where an approver of a high-risk request signs in again.
//
//	step_up:
//	  issuer: https://login.acme.com
//	  client_id: accessbot
//	  client_secret_env: ACME_STEPUP_SECRET   # read by apply, stored encrypted
type StepUp struct {
	Issuer, ClientID, SecretEnv string
	at, secretAt                loc
}

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// maxHighDuration bounds risk.high.max_duration: longer is not "shorter".
const maxHighDuration = 30 * 24 * time.Hour

// risk reads a risk: key of an application or connection.
func (d *decoder) risk(m fields) accessbot.RiskTier {
	return accessbot.RiskTier(d.oneOf(m, "risk", "", string(accessbot.RiskLow), string(accessbot.RiskMedium), string(accessbot.RiskHigh)))
}

func (d *decoder) decodeRisk(top fields, f *File) {
	if top.has("risk") {
		l := top.loc("risk")
		m := d.mapping(top.vals["risk"], l, "high")
		rp := &RiskPolicy{HighMinWords: accessbot.DefaultHighMinWords, HighMaxDuration: accessbot.DefaultHighMaxDuration, at: l}
		hm := d.mapping(m.vals["high"], m.loc("high"), "min_justification_words", "max_duration")
		if s := d.str(hm, "min_justification_words"); s != "" {
			n, err := strconv.Atoi(s)
			if wl := hm.loc("min_justification_words"); err != nil || n < 1 || n > 200 {
				d.errorf(wl.line, wl.path, "%q: want a whole number of words, 1 to 200", s)
			} else {
				rp.HighMinWords = n
			}
		}
		if s := d.str(hm, "max_duration"); s != "" {
			dur, err := ParseDuration(s)
			if dl := hm.loc("max_duration"); err != nil || dur <= 0 || dur > maxHighDuration {
				d.errorf(dl.line, dl.path, "%q: want a duration from 1m to %s, e.g. 8h", s, FormatDuration(maxHighDuration))
			} else {
				rp.HighMaxDuration = dur
			}
		}
		f.RiskPolicy = rp
	}
	if top.has("step_up") {
		l := top.loc("step_up")
		m := d.mapping(top.vals["step_up"], l, "issuer", "client_id", "client_secret_env")
		su := &StepUp{Issuer: d.required(m, "issuer"), ClientID: d.required(m, "client_id"), SecretEnv: d.str(m, "client_secret_env"),
			at: l, secretAt: m.loc("client_secret_env")}
		if su.Issuer != "" {
			u, err := url.Parse(su.Issuer)
			il := m.loc("issuer")
			local := u != nil && (u.Hostname() == "localhost" || u.Hostname() == "127.0.0.1")
			if err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && local)) {
				d.errorf(il.line, il.path, "%q is not an https URL (the provider's issuer, as in its /.well-known/openid-configuration)", su.Issuer)
			}
		}
		if su.SecretEnv != "" && !envNameRE.MatchString(su.SecretEnv) {
			d.errorf(su.secretAt.line, su.secretAt.path, "%q is not an environment variable name", su.SecretEnv)
		}
		f.StepUp = su
	}
}

// checkRisk refuses a high tier without a step-up provider: nobody could
// approve it.
func (d *decoder) checkRisk(f *File) {
	if f.StepUp != nil {
		return
	}
	for _, a := range f.Applications {
		if a.Risk == accessbot.RiskHigh {
			d.errorf(a.riskAt.line, a.riskAt.path, "risk: high needs step_up: (the OpenID Connect provider where its approvers sign in again)")
			return
		}
		for _, c := range a.Connections {
			if c.Risk == accessbot.RiskHigh {
				d.errorf(c.riskAt.line, c.riskAt.path, "risk: high needs step_up: (the OpenID Connect provider where its approvers sign in again)")
				return
			}
		}
	}
}

// buildRisk puts the file's tiers, risk: and step_up: into want. Tiers of
// applications not in the file are kept.
func (p *planner) buildRisk(want, cur *accessbot.RequestPolicy) {
	inFile := map[string]bool{}
	apps, conns := map[string]accessbot.RiskTier{}, map[string]accessbot.RiskTier{}
	for _, fa := range p.f.Applications {
		a := p.apps[strings.ToLower(fa.Name)]
		inFile[a.ID] = true
		if fa.Risk != "" {
			apps[a.ID] = fa.Risk
		}
		for _, fc := range fa.Connections {
			c := p.conns[strings.ToLower(fa.Name)][strings.ToLower(fc.Name)]
			if c != nil && fc.Risk != "" {
				conns[c.ID] = fc.Risk
			}
		}
	}
	if cur != nil {
		for id, t := range cur.Risk.Apps {
			if !inFile[id] {
				apps[id] = t
			}
		}
		for id, t := range cur.Risk.Connections {
			if c := p.connByID[id]; c != nil && !inFile[c.AppID] {
				conns[id] = t
			}
		}
	}
	want.Risk.Apps, want.Risk.Connections = nil, nil
	if len(apps) > 0 {
		want.Risk.Apps = apps
	}
	if len(conns) > 0 {
		want.Risk.Connections = conns
	}
	if rp := p.f.RiskPolicy; rp != nil {
		want.Risk.HighMinWords, want.Risk.HighMaxDuration = rp.HighMinWords, rp.HighMaxDuration
	}
	if su := p.f.StepUp; su != nil {
		want.StepUp = &accessbot.StepUpProvider{Issuer: su.Issuer, ClientID: su.ClientID, HasSecret: su.SecretEnv != ""}
	}
}

func (p *planner) riskString(r accessbot.Risk) string {
	var high []string
	for id, t := range r.Apps {
		if t == accessbot.RiskHigh {
			high = append(high, p.appNameByID(id))
		}
	}
	for id, t := range r.Connections {
		if t == accessbot.RiskHigh {
			name := id
			if c := p.connByID[id]; c != nil {
				name = p.appNameByID(c.AppID) + "/" + c.Name
			}
			for an, cs := range p.conns {
				for _, c := range cs {
					if c.ID == id {
						name = p.apps[an].Name + "/" + c.Name
					}
				}
			}
			high = append(high, name)
		}
	}
	slices.Sort(high)
	return fmt.Sprintf("high [%s] (%d words, at most %s)", strings.Join(high, " "), r.HighMinWords, FormatDuration(r.HighMaxDuration))
}

// diffRisk adds the risk and step-up differences; it reads the step-up
// client secret (apply stores it encrypted) and reports whether it changed.
func (p *planner) diffRisk(ctx context.Context, df *diff, before, want accessbot.RequestPolicy) (bool, error) {
	df.ref("risk", p.riskString(before.Risk), p.riskString(want.Risk))
	str := func(s *accessbot.StepUpProvider) string {
		if s == nil {
			return ""
		}
		return s.Issuer + " client " + s.ClientID
	}
	df.ref("step_up", str(before.StepUp), str(want.StepUp))
	su := p.f.StepUp
	if su == nil || su.SecretEnv == "" {
		return false, nil
	}
	v, ok := p.getenv(su.SecretEnv)
	if !ok || v == "" {
		p.errorf(su.secretAt, "environment variable %s is not set (it should hold the step-up client secret)", su.SecretEnv)
		return false, nil
	}
	if p.keys == nil || !p.keys.CanSeal() {
		p.errorf(su.secretAt, "the step-up client secret is stored encrypted, and encryption.key is not set (generate one with `openssl rand -base64 32` and set ACCESSBOT_ENCRYPTION_KEY)")
		return false, nil
	}
	p.stepUpSecret = secrets.Secret(v)
	same, err := p.sameSecret(ctx, p.tenant.ID, accessbot.StepUpSecretName, p.stepUpSecret)
	if err != nil {
		p.errorf(su.secretAt, "the stored step-up client secret cannot be opened: %v", err)
		return false, nil
	}
	if !same {
		*df = append(*df, "step_up client_secret (secret, from $"+su.SecretEnv+")")
	}
	return !same, nil
}
