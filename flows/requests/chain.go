package requests

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

// maxDelegationHops bounds following delegate → delegate links (and breaks cycles).
const maxDelegationHops = 5

// SelectChain picks the most specific approval chain: the one for (app,
// connection), else the application's, else the tenant default (no app, no
// connection). Ties go to the lexically first name so the choice is stable.
func SelectChain(chains []accessbot.ApprovalChain, appID, connectionID string) (*accessbot.ApprovalChain, error) {
	var byConn, byApp, dflt []accessbot.ApprovalChain
	for _, c := range chains {
		switch {
		case c.ConnectionID != "" && c.ConnectionID == connectionID && (c.AppID == "" || c.AppID == appID):
			byConn = append(byConn, c)
		case c.ConnectionID == "" && c.AppID != "" && c.AppID == appID:
			byApp = append(byApp, c)
		case c.ConnectionID == "" && c.AppID == "":
			dflt = append(dflt, c)
		}
	}
	for _, set := range [][]accessbot.ApprovalChain{byConn, byApp, dflt} {
		if len(set) == 0 {
			continue
		}
		sort.Slice(set, func(i, j int) bool { return set[i].Name < set[j].Name })
		c := set[0]
		if len(c.Levels) == 0 {
			return nil, fmt.Errorf("%w: approval chain %q has no levels", ErrNoChain, c.Name)
		}
		return &c, nil
	}
	return nil, fmt.Errorf("%w: the application has no approval chain and the tenant has no default chain", ErrNoChain)
}

// resolveInput is what approver resolution needs to know about a request.
type resolveInput struct {
	tenantID    string
	requesterID string
	// managerOf is whose manager the "manager" approver means: the target
	// user for user access, the requester for connection requests.
	managerOf *accessbot.User
	app       *accessbot.Application
	now       time.Time
}

// resolveLevels turns a chain's rules into concrete approvers (ApproverUser
// entries), snapshotted into the request at creation:
//   - terminated or unknown approvers are skipped;
//   - an approver away (DelegateID set, DelegateUntil in the future) is
//     replaced by their delegate, when the delegate is active and not the requester;
//   - the requester is never an approver;
//   - a level left with nobody falls back to the tenant admins (rule any),
//     and fails with ErrNoApprovers when there is none.
func resolveLevels(ctx context.Context, q store.Queries, chain *accessbot.ApprovalChain, in resolveInput) ([]accessbot.ApprovalLevel, error) {
	get := cachedUsers(ctx, q, in.tenantID)
	out := make([]accessbot.ApprovalLevel, 0, len(chain.Levels))
	for i, lvl := range chain.Levels {
		var candidates []string
		for _, a := range lvl.Approvers {
			switch a.Kind {
			case accessbot.ApproverOwners:
				candidates = append(candidates, in.app.PrimaryOwnerID, in.app.SecondaryOwnerID)
			case accessbot.ApproverPrimary:
				candidates = append(candidates, in.app.PrimaryOwnerID)
			case accessbot.ApproverSecondary:
				candidates = append(candidates, in.app.SecondaryOwnerID)
			case accessbot.ApproverManager:
				if in.managerOf != nil {
					candidates = append(candidates, in.managerOf.ManagerID)
				}
			case accessbot.ApproverUser:
				candidates = append(candidates, a.UserID)
			default:
				return nil, fmt.Errorf("approval chain %q level %d: unknown approver kind %q", chain.Name, i+1, a.Kind)
			}
		}
		ids, err := effectiveApprovers(candidates, in, get)
		if err != nil {
			return nil, fmt.Errorf("approval chain %q level %d: %w", chain.Name, i+1, err)
		}
		rule := lvl.Rule
		if rule != accessbot.RuleAll {
			rule = accessbot.RuleAny
		}
		if len(ids) == 0 {
			ids, err = adminApprovers(ctx, q, in, get)
			if err != nil {
				return nil, fmt.Errorf("approval chain %q level %d: %w", chain.Name, i+1, err)
			}
			if len(ids) == 0 {
				return nil, fmt.Errorf("%w: approval chain %q level %d has no approver other than the requester, and the tenant has no other active admin", ErrNoApprovers, chain.Name, i+1)
			}
			// Admins stand in for the missing approvers: any one of them decides.
			rule = accessbot.RuleAny
		}
		out = append(out, accessbot.ApprovalLevel{Approvers: userApprovers(ids), Rule: rule})
	}
	return out, nil
}

// effectiveApprovers applies termination, delegation and self-exclusion, and de-duplicates.
func effectiveApprovers(candidates []string, in resolveInput, get func(string) (*accessbot.User, error)) ([]string, error) {
	var ids []string
	seen := map[string]bool{}
	for _, id := range candidates {
		if id == "" || id == in.requesterID {
			continue
		}
		u, err := get(id)
		if err != nil {
			return nil, err
		}
		if u == nil || u.Status != accessbot.UserActive {
			continue
		}
		eff, err := delegateOf(u, in, get)
		if err != nil {
			return nil, err
		}
		if !seen[eff] {
			seen[eff] = true
			ids = append(ids, eff)
		}
	}
	return ids, nil
}

// delegateOf follows an away approver's delegate (and the delegate's, up to a
// bound). An unusable delegate (unknown, terminated, the requester, a cycle)
// leaves the last usable approver in place, so escalation can still reach them.
func delegateOf(u *accessbot.User, in resolveInput, get func(string) (*accessbot.User, error)) (string, error) {
	cur := u
	visited := map[string]bool{u.ID: true}
	for hop := 0; hop < maxDelegationHops; hop++ {
		if cur.DelegateID == "" || cur.DelegateUntil == nil || !cur.DelegateUntil.After(in.now) {
			break
		}
		if visited[cur.DelegateID] || cur.DelegateID == in.requesterID {
			break
		}
		d, err := get(cur.DelegateID)
		if err != nil {
			return "", err
		}
		if d == nil || d.Status != accessbot.UserActive {
			break
		}
		visited[d.ID] = true
		cur = d
	}
	return cur.ID, nil
}

// adminApprovers lists the tenant's active admins other than the requester, delegation applied.
func adminApprovers(ctx context.Context, q store.Queries, in resolveInput, get func(string) (*accessbot.User, error)) ([]string, error) {
	all, err := q.ListUsers(ctx, in.tenantID)
	if err != nil {
		return nil, fmt.Errorf("list tenant admins: %w", err)
	}
	var candidates []string
	for _, u := range all {
		if u.Role == accessbot.RoleAdmin {
			candidates = append(candidates, u.ID)
		}
	}
	sort.Strings(candidates)
	return effectiveApprovers(candidates, in, get)
}

func userApprovers(ids []string) []accessbot.Approver {
	out := make([]accessbot.Approver, len(ids))
	for i, id := range ids {
		out[i] = accessbot.Approver{Kind: accessbot.ApproverUser, UserID: id}
	}
	return out
}
