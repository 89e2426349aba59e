package identity

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot"
)

// maxAdminsNamed bounds how many admins an unknown user is told about (and
// how many users.lookupByEmail calls that costs).
const maxAdminsNamed = 5

// Admin is a tenant admin an unmatched user can ask to add them.
type Admin struct {
	Name, Email string
	SlackUserID string // "" when the admin's email is not a member of this workspace
}

// UserLister lists a tenant's users; store.Queries has it. A Store that
// also implements it lets NoMatchError name the tenant's admins.
type UserLister interface {
	ListUsers(ctx context.Context, tenantID string) ([]accessbot.User, error)
}

// SlackEmailLookup finds a workspace member by email (users.lookupByEmail);
// *slackapi.Clients has it. With it, admins are named as Slack mentions.
type SlackEmailLookup interface {
	UserByEmail(ctx context.Context, teamID, email string) (*slack.User, error)
}

type adminsEntry struct {
	tenant  string
	admins  []Admin
	expires time.Time
}

// admins returns up to maxAdminsNamed active admins of tenant, each with
// their Slack id in teamID when the lookup finds one. They are kept for the
// workspace TTL, so an unmatched user clicking repeatedly costs one listing
// and a few users.lookupByEmail calls, not that many per click. It never
// fails: an unknown user still gets the rest of the message.
func (r *Resolver) admins(ctx context.Context, tenant, teamID string) []Admin {
	now := r.now()
	r.adminsMu.Lock()
	e, ok := r.adminSeen[teamID]
	r.adminsMu.Unlock()
	if ok && e.tenant == tenant && now.Before(e.expires) {
		return e.admins
	}
	out := r.loadAdmins(ctx, tenant, teamID)
	r.adminsMu.Lock()
	if len(r.adminSeen) >= maxWorkspaces {
		clear(r.adminSeen)
	}
	r.adminSeen[teamID] = adminsEntry{tenant: tenant, admins: out, expires: now.Add(r.wsTTL)}
	r.adminsMu.Unlock()
	return out
}

func (r *Resolver) loadAdmins(ctx context.Context, tenant, teamID string) []Admin {
	ul, ok := r.store.(UserLister)
	if !ok {
		return nil
	}
	users, err := ul.ListUsers(ctx, tenant)
	if err != nil {
		r.log.Warn().Err(err).Str("tenant", tenant).Msg("list admins for an unmatched user")
		return nil
	}
	lookup, _ := r.slack.(SlackEmailLookup)
	var out []Admin
	for _, u := range users {
		if u.Role != accessbot.RoleAdmin || u.Status == accessbot.UserTerminated ||
			(u.TerminatedAt != nil && !r.now().Before(*u.TerminatedAt)) {
			continue
		}
		a := Admin{Name: u.Name, Email: u.Email}
		if lookup != nil {
			if su, err := lookup.UserByEmail(ctx, teamID, u.Email); err == nil && su != nil && !su.Deleted {
				a.SlackUserID = su.ID
			}
		}
		if out = append(out, a); len(out) == maxAdminsNamed {
			break
		}
	}
	return out
}

// mrkdwnEscape keeps data from reading as Slack markup (&, <, >).
var mrkdwnEscape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace

// AdminsWords names admins for a message: Slack mentions where known, else
// "Name (email)"; "" when there are none.
func AdminsWords(admins []Admin) string {
	words := make([]string, 0, len(admins))
	for _, a := range admins {
		switch {
		case a.SlackUserID != "":
			words = append(words, "<@"+a.SlackUserID+">")
		case a.Name != "":
			words = append(words, fmt.Sprintf("%s (%s)", mrkdwnEscape(a.Name), mrkdwnEscape(a.Email)))
		default:
			words = append(words, mrkdwnEscape(a.Email))
		}
	}
	switch len(words) {
	case 0:
		return ""
	case 1:
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}
