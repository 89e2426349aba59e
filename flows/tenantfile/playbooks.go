package tenantfile

import (
	"context"
	"fmt"
	"strings"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/connectors/catalog"
	"github.com/accessbot/accessbot/flows/playbooks"
	"github.com/accessbot/accessbot/internal/secrets"
	"github.com/accessbot/accessbot/store"
)

// phasePlaybooks runs after applications and the outbound allow-list exist.
const phasePlaybooks = phaseCampaigns + 1

// PlaybookDecl is one entry of "playbooks:":
//
//	playbooks:
//	  - name: open-ticket
//	    description: Opens a ticket for every approved request
//	    type: request                     # finding, request or review
//	    url: https://hooks.example.com/accessbot
//	    application: GitLab               # optional: integration-specific
//	    recurrence: true                  # also run after every sync
//	    active: true                      # default true
//	    token_env: TICKET_TOKEN           # optional bearer token, from this variable
//	    signing_secret_env: TICKET_SIGNING_SECRET  # whsec_…, from this variable
//
// When the file has a playbooks: key, its list is the complete set of the
// file's playbooks; playbooks made in Slack are left alone.
type PlaybookDecl struct {
	Name, Description string
	Type              accessbot.PlaybookType
	URL               string
	Application       string
	Recurrence        bool
	Active            bool
	TokenEnv          string
	SigningEnv        string

	at, nameAt, urlAt, appAt, tokenAt, signingAt loc
}

func (d *decoder) decodePlaybooks(top fields, f *File) {
	if _, ok := top.vals["playbooks"]; !ok {
		return
	}
	f.Playbooks = []PlaybookDecl{}
	seen := map[string]int{}
	for i, n := range d.seq(top.vals["playbooks"], top.loc("playbooks")) {
		at := loc{line: resolve(n).Line, path: index("playbooks", i)}
		m := d.mapping(n, at, "name", "description", "type", "url", "application", "recurrence", "active",
			"token", "token_env", "signing_secret", "signing_secret_env")
		p := PlaybookDecl{Name: d.required(m, "name"), Description: d.str(m, "description"), URL: d.required(m, "url"),
			Application: d.str(m, "application"), Recurrence: d.boolean(m, "recurrence"), Active: true,
			TokenEnv: d.str(m, "token_env"), SigningEnv: d.required(m, "signing_secret_env"),
			at: at, nameAt: m.loc("name"), urlAt: m.loc("url"), appAt: m.loc("application"), tokenAt: m.loc("token_env"), signingAt: m.loc("signing_secret_env")}
		if m.has("active") {
			p.Active = d.boolean(m, "active")
		}
		if p.Name != "" {
			key := strings.ToLower(p.Name)
			if first, dup := seen[key]; dup {
				d.errorf(p.nameAt.line, p.nameAt.path, "duplicate playbook %q (first at line %d)", p.Name, first)
			}
			seen[key] = p.nameAt.line
			if len(p.Name) > 80 {
				d.errorf(p.nameAt.line, p.nameAt.path, "at most 80 characters")
			}
		}
		tl := m.loc("type")
		if typ := d.required(m, "type"); typ != "" {
			if t := accessbot.PlaybookType(typ); t.Valid() {
				p.Type = t
			} else {
				d.errorf(tl.line, tl.path, "%q is not a playbook type: want finding, request or review", typ)
			}
		}
		for _, k := range []string{"token", "signing_secret"} {
			if m.has(k) {
				l := m.loc(k)
				d.errorf(l.line, l.path, "a secret is never written in the tenant file: put it in an environment variable and write %s_env: VARIABLE_NAME", k)
			}
		}
		for _, e := range []struct {
			v  string
			at loc
		}{{p.TokenEnv, p.tokenAt}, {p.SigningEnv, p.signingAt}} {
			if e.v != "" {
				if err := catalog.CheckEnvName(e.v); err != nil {
					d.errorf(e.at.line, e.at.path, "%v", err)
				}
			}
		}
		f.Playbooks = append(f.Playbooks, p)
	}
}

// planPlaybooks makes the tenant's file-sourced playbooks those of the
// file. URLs are checked against the allow-list the file sets (or the
// stored one); secrets are read from the environment now, so a missing
// variable is a file error before anything is written.
func (p *planner) planPlaybooks(ctx context.Context) error {
	if p.f.Playbooks == nil {
		return nil
	}
	tid := p.tenant.ID
	allow := []string(nil)
	if p.f.Outbound != nil {
		allow = p.f.Outbound.Allow
	} else {
		var err error
		if allow, err = p.q.GetOutboundAllow(ctx, tid); err != nil {
			return fmt.Errorf("read outbound allow-list of tenant %s: %w", p.tenant.Slug, err)
		}
	}
	current, err := p.q.ListPlaybooks(ctx, tid)
	if err != nil {
		return fmt.Errorf("list playbooks of tenant %s: %w", p.tenant.Slug, err)
	}
	byName := map[string]*accessbot.Playbook{}
	for i := range current {
		byName[strings.ToLower(current[i].Name)] = &current[i]
	}
	inFile := map[string]bool{}
	for _, a := range p.f.Applications {
		inFile[a.Name] = true
	}
	keep := map[string]bool{}
	for _, decl := range p.f.Playbooks {
		keep[strings.ToLower(decl.Name)] = true
		cur := byName[strings.ToLower(decl.Name)]
		if cur != nil && cur.Source != accessbot.SourceFile {
			p.errorf(decl.nameAt, "%q is a playbook made in Slack, which this file does not manage: give this one another name, or delete that one first", cur.Name)
			continue
		}
		if err := playbooks.CheckURL(decl.URL, allow); err != nil {
			p.errorf(decl.urlAt, "%v", err)
		}
		var appID string
		if decl.Application != "" {
			a, err := p.q.GetApplicationByName(ctx, tid, decl.Application)
			switch {
			case err == nil:
				appID = a.ID
			case notFound(err) && inFile[decl.Application]:
				// created by this apply; resolved when written
			case notFound(err):
				p.errorf(decl.appAt, "no application %q in this file or in tenant %s", decl.Application, p.f.Tenant.Slug)
			default:
				return fmt.Errorf("read application %q: %w", decl.Application, err)
			}
		}
		if err := p.planPlaybook(ctx, decl, cur, appID); err != nil {
			return err
		}
	}
	for _, cur := range current {
		if cur.Source == accessbot.SourceFile && !keep[strings.ToLower(cur.Name)] {
			cur := cur
			c := p.change(&Change{Op: OpDelete, Kind: "playbook", Name: cur.Name, before: &cur, objectID: func() string { return cur.ID }})
			c.add(phasePlaybooks, 0, func(ctx context.Context, q store.Queries) error {
				for _, sn := range []string{cur.TokenSecret, cur.SigningSecret} {
					if err := playbooks.DeleteSecret(ctx, q, tid, sn); err != nil {
						return err
					}
				}
				// Gone already when this apply deleted its application.
				if err := q.DeletePlaybook(ctx, tid, cur.ID); err != nil && !notFound(err) {
					return err
				}
				return nil
			})
		}
	}
	return nil
}

func (p *planner) planPlaybook(ctx context.Context, decl PlaybookDecl, cur *accessbot.Playbook, appID string) error {
	tid := p.tenant.ID
	read := func(env string, at loc, what string) (secrets.Secret, bool) {
		v, ok := p.getenv(env)
		if !ok || v == "" {
			p.errorf(at, "environment variable %s is not set (it should hold the %s of playbook %s)", env, what, decl.Name)
			return "", false
		}
		if p.keys == nil || !p.keys.CanSeal() {
			p.errorf(at, "playbook secrets are stored encrypted, and encryption.key is not set (generate one with `openssl rand -base64 32` and set ACCESSBOT_ENCRYPTION_KEY)")
			return "", false
		}
		return secrets.Secret(v), true
	}
	var token, signing secrets.Secret
	if decl.TokenEnv != "" {
		token, _ = read(decl.TokenEnv, decl.tokenAt, "auth token")
	}
	if decl.SigningEnv != "" {
		if v, ok := read(decl.SigningEnv, decl.signingAt, "signing secret"); ok {
			if err := playbooks.CheckSigningSecret(v); err != nil {
				p.errorf(decl.signingAt, "$%s: %v (make one with `echo whsec_$(openssl rand -base64 32)`)", decl.SigningEnv, err)
			}
			signing = v
		}
	}
	if len(p.fileError) > 0 {
		return nil
	}
	want := accessbot.Playbook{TenantID: tid, Name: decl.Name, Description: decl.Description, Type: decl.Type, OnSync: decl.Recurrence,
		URL: strings.TrimSpace(decl.URL), AppID: appID, Active: decl.Active, Source: accessbot.SourceFile}
	var df diff
	op := OpCreate
	tokenChanged, signingChanged, tokenDropped := token.IsSet(), true, false
	if cur == nil {
		want.ID = newID()
		df = diff{"type " + string(want.Type), "url " + quote(want.URL)}
		if decl.Application != "" {
			df = append(df, "application "+decl.Application)
		}
		if want.OnSync {
			df = append(df, "recurrence")
		}
		if !want.Active {
			df = append(df, "inactive")
		}
		if token.IsSet() {
			df = append(df, "token (secret, from $"+decl.TokenEnv+")")
		}
		df = append(df, "signing secret (secret, from $"+decl.SigningEnv+")")
	} else {
		op = OpUpdate
		want.ID, want.CreatedAt = cur.ID, cur.CreatedAt
		df.str("description", cur.Description, want.Description)
		df.ref("type", string(cur.Type), string(want.Type))
		df.str("url", cur.URL, want.URL)
		if appID != "" || decl.Application == "" {
			df.ref("application", p.appName(ctx, cur.AppID), decl.Application)
		} else {
			df = append(df, "application →"+decl.Application)
		}
		df.ref("recurrence", fmt.Sprint(cur.OnSync), fmt.Sprint(want.OnSync))
		df.ref("active", fmt.Sprint(cur.Active), fmt.Sprint(want.Active))
		var err error
		if token.IsSet() {
			same, err := p.sameSecret(ctx, tid, playbooks.TokenSecretName(cur.ID), token)
			if err != nil {
				p.errorf(decl.tokenAt, "the stored token of playbook %s cannot be opened: %v", decl.Name, err)
				return nil
			}
			tokenChanged = !same
			df.changed("token (secret)", same, "changed")
		} else if cur.TokenSecret != "" {
			tokenDropped = true
			df = append(df, "token (secret) removed")
		}
		same, err := p.sameSecret(ctx, tid, playbooks.SigningSecretName(cur.ID), signing)
		if err != nil {
			p.errorf(decl.signingAt, "the stored signing secret of playbook %s cannot be opened: %v", decl.Name, err)
			return nil
		}
		signingChanged = !same
		df.changed("signing secret (secret)", same, "changed")
	}
	if len(df) == 0 {
		return nil
	}
	want.SigningSecret = playbooks.SigningSecretName(want.ID)
	if token.IsSet() {
		want.TokenSecret = playbooks.TokenSecretName(want.ID)
	}
	keys, appName := p.keys, decl.Application
	c := p.change(&Change{Op: op, Kind: "playbook", Name: decl.Name, Fields: df, at: decl.at, before: cur, after: &want,
		objectID: func() string { return want.ID }})
	c.add(phasePlaybooks, 0, func(ctx context.Context, q store.Queries) error {
		pb := want
		if appName != "" && pb.AppID == "" {
			a, err := q.GetApplicationByName(ctx, tid, appName)
			if err != nil {
				return fmt.Errorf("playbook %q: application %q: %w", pb.Name, appName, err)
			}
			pb.AppID = a.ID
		}
		var err error
		if op == OpCreate {
			err = q.CreatePlaybook(ctx, &pb)
		} else {
			err = q.UpdatePlaybook(ctx, &pb)
		}
		if err != nil {
			return err
		}
		if tokenChanged {
			if err := playbooks.PutSecret(ctx, q, keys, tid, pb.TokenSecret, token); err != nil {
				return err
			}
		}
		if tokenDropped {
			if err := playbooks.DeleteSecret(ctx, q, tid, playbooks.TokenSecretName(pb.ID)); err != nil {
				return err
			}
		}
		if signingChanged {
			return playbooks.PutSecret(ctx, q, keys, tid, pb.SigningSecret, signing)
		}
		return nil
	})
	return nil
}

// appName is the name of a stored application id, "" for none.
func (p *planner) appName(ctx context.Context, id string) string {
	if id == "" {
		return ""
	}
	if a, err := p.q.GetApplication(ctx, p.tenant.ID, id); err == nil {
		return a.Name
	}
	return id
}
