package inventory

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/csvrows"
)

// mappings replaces identity→employee mappings. A rejected row keeps the
// stored mappings of every identity (with that id) and of the employee it
// names, and every mapping in scope when it names neither.
func (j *job) mappings(ctx context.Context, appName string, t *csvrows.Table) error {
	var scope []string
	var only *accessbot.Application
	if appName != "" {
		a, err := j.app(ctx, appName)
		if err != nil {
			return err
		}
		only, scope = a, []string{a.ID}
	}
	apps, err := j.q.ListApplications(ctx, j.tenantID, "", 0)
	if err != nil {
		return err
	}
	appByName := map[string]*accessbot.Application{}
	for i := range apps {
		appByName[strings.ToLower(apps[i].Name)] = &apps[i]
	}
	idents, err := j.q.ListIdentities(ctx, j.tenantID, "", true)
	if err != nil {
		return err
	}
	byExt := map[string][]*accessbot.Identity{} // current identities only
	appOf := map[string]string{}                // identity id → application id
	for i := range idents {
		appOf[idents[i].ID] = idents[i].AppID
		if idents[i].RemovedAt == nil {
			byExt[idents[i].ExternalID] = append(byExt[idents[i].ExternalID], &idents[i])
		}
	}
	users, err := j.q.ListUsers(ctx, j.tenantID)
	if err != nil {
		return err
	}
	userByEmail := map[string]string{}
	for _, u := range users {
		userByEmail[accessbot.NormalizeEmail(u.Email)] = u.ID
	}
	current, err := j.q.ListIdentityMappings(ctx, j.tenantID)
	if err != nil {
		return err
	}

	keepIdent, keepUser, keepAll := map[string]bool{}, map[string]bool{}, false
	// keepNamed records what a rejected row names (app narrows the
	// identities when known).
	keepNamed := func(rec csvrows.Row, app *accessbot.Application) {
		ext, uid := rec.Cell.Get("identity_id"), userByEmail[accessbot.NormalizeEmail(rec.Cell.Get("employee_email"))]
		for _, i := range byExt[ext] {
			if app == nil || i.AppID == app.ID {
				keepIdent[i.ID] = true
			}
		}
		if uid != "" {
			keepUser[uid] = true
		}
		if ext == "" && uid == "" {
			keepAll = true
		}
	}
	for _, rec := range t.Malformed {
		keepNamed(rec, only)
	}
	var good []accessbot.IdentityMapping
	dups := dupCheck{}
	for _, rec := range t.Rows {
		c := rec.Cell
		ext := c.Get("identity_id")
		if ext == "" {
			j.reject(rec, "", "identity_id is empty")
			keepNamed(rec, only)
			continue
		}
		app := only
		if name := c.Get("app"); name != "" {
			a := appByName[strings.ToLower(name)]
			switch {
			case a == nil:
				j.reject(rec, "app", "the tenant has no such application")
				keepNamed(rec, only)
				continue
			case only != nil && a.ID != only.ID:
				j.reject(rec, "app", fmt.Sprintf("--app is %s", only.Name))
				continue // names nothing in scope
			}
			app = a
		}
		var cands []*accessbot.Identity
		for _, i := range byExt[ext] {
			if app == nil || i.AppID == app.ID {
				cands = append(cands, i)
			}
		}
		switch {
		case len(cands) == 0:
			j.reject(rec, "identity_id", "no such identity (upload the application's identities first)")
			keepNamed(rec, app)
			continue
		case len(cands) > 1:
			j.reject(rec, "identity_id", "several applications have this identity: add an app column or use --app")
			keepNamed(rec, app)
			continue
		}
		ident := cands[0]
		if first, dup := dups.seen(ident.ID, rec.Line); dup {
			j.reject(rec, "identity_id", fmt.Sprintf("already on line %d (both rows skipped)", first))
			keepNamed(rec, app)
			continue
		}
		email := c.Get("employee_email")
		uid := userByEmail[accessbot.NormalizeEmail(email)]
		switch {
		case email == "":
			j.reject(rec, "", "employee_email is empty")
		case uid == "":
			j.reject(rec, "employee_email", "no employee with this email in the tenant")
		default:
			good = append(good, accessbot.IdentityMapping{IdentityID: ident.ID, UserID: uid})
			continue
		}
		keepNamed(rec, app)
	}
	kept := 0
	out := good[:0]
	for _, m := range good {
		if !keepIdent[m.IdentityID] {
			out = append(out, m)
		}
	}
	good = out
	inFile := map[string]bool{}
	for _, m := range good {
		inFile[m.IdentityID] = true
	}
	for _, m := range current {
		inScope := len(scope) == 0 || slices.Contains(scope, appOf[m.IdentityID])
		if inScope && !inFile[m.IdentityID] && (keepAll || keepIdent[m.IdentityID] || keepUser[m.UserID]) {
			good = append(good, accessbot.IdentityMapping{IdentityID: m.IdentityID, UserID: m.UserID})
			kept++
		}
	}
	sr, err := j.q.ReplaceIdentityMappings(ctx, j.tenantID, scope, good)
	// The store counts kept mappings as unchanged: they were left out.
	sr.Kept, sr.Unchanged = kept, sr.Unchanged-kept
	return j.done(sr, err)
}
