package requests

import (
	"context"
	"fmt"
	"slices"
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
	c, _, err := SelectRouted(chains, appID, connectionID, Routing{})
	return c, err
}

// Routing is what a tenant's channel routes add to choosing a chain.
type Routing struct {
	// ChannelChainID is the chain of the channel the request was made in.
	ChannelChainID string
	// Channel is that channel's id, for the reason.
	Channel string
	// ChannelChains are chains used only by channel routes: never the
	// tenant default.
	ChannelChains []string
}

// RoutingFor is the routing of a request made in channel under policy p
// (nil: no policy).
func RoutingFor(p *accessbot.RequestPolicy, channel string) Routing {
	if p == nil {
		return Routing{}
	}
	rt := Routing{ChannelChains: p.ChannelChains, Channel: channel}
	if r := p.Route(channel); r != nil {
		rt.ChannelChainID = r.ChainID
	}
	return rt
}

// SelectRouted picks the chain as SelectChain does, with the channel's
// chain (rt) between the application's and the tenant default: a request
// made in a routed channel goes to the channel's chain when the
// application (and the connection) has none of its own. why says which
// rule chose it, in plain words.
func SelectRouted(chains []accessbot.ApprovalChain, appID, connectionID string, rt Routing) (chain *accessbot.ApprovalChain, why string, err error) {
	var byConn, byApp, byChannel, dflt []accessbot.ApprovalChain
	for _, c := range chains {
		switch {
		case c.ConnectionID != "" && c.ConnectionID == connectionID && (c.AppID == "" || c.AppID == appID):
			byConn = append(byConn, c)
		case c.ConnectionID == "" && c.AppID != "" && c.AppID == appID:
			byApp = append(byApp, c)
		case rt.ChannelChainID != "" && c.ID == rt.ChannelChainID && c.AppID == "" && c.ConnectionID == "":
			byChannel = append(byChannel, c)
		case c.ConnectionID == "" && c.AppID == "" && !slices.Contains(rt.ChannelChains, c.ID):
			dflt = append(dflt, c)
		}
	}
	sets := []struct {
		set []accessbot.ApprovalChain
		why string
	}{
		{byConn, "the entitlement's own chain"},
		{byApp, "the application's own chain"},
		{byChannel, "the chain of channel " + rt.Channel + ", where the request was made (the application has no chain of its own)"},
		{dflt, "the tenant default chain (the application has no chain of its own)"},
	}
	for _, s := range sets {
		if len(s.set) == 0 {
			continue
		}
		sort.Slice(s.set, func(i, j int) bool { return s.set[i].Name < s.set[j].Name })
		c := s.set[0]
		if len(c.Levels) == 0 {
			return nil, "", fmt.Errorf("%w: approval chain %q has no levels", ErrNoChain, c.Name)
		}
		return &c, s.why, nil
	}
	return nil, "", fmt.Errorf("%w: the application has no approval chain and the tenant has no default chain", ErrNoChain)
}

// resolveInput is what approver resolution needs to know about a request.
type resolveInput struct {
	tenantID    string
	requesterID string
	// targetID is who the access is for; like the requester, never an
	// approver of it (self-approval rules apply to both).
	targetID string
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
//   - the requester, and the person the access is for, are never approvers;
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
		rule, quorum := lvl.Rule, 0
		switch rule {
		case accessbot.RuleAll:
		case accessbot.RuleQuorum:
			quorum = max(lvl.Quorum, 1)
			if len(ids) > 0 && len(ids) < quorum {
				// Fewer people than the quorum are left (the requester, someone
				// terminated, delegates that coincide): the tenant admins make
				// up the number rather than the bar being lowered.
				admins, err := adminApprovers(ctx, q, in, get)
				if err != nil {
					return nil, fmt.Errorf("approval chain %q level %d: %w", chain.Name, i+1, err)
				}
				for _, a := range admins {
					if len(ids) < quorum && !slices.Contains(ids, a) {
						ids = append(ids, a)
					}
				}
				if len(ids) < quorum {
					return nil, fmt.Errorf("%w: approval chain %q level %d needs %d approvers and only %d can approve, admins included", ErrNoApprovers, chain.Name, i+1, quorum, len(ids))
				}
			}
		default:
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
			rule, quorum = accessbot.RuleAny, 0
		}
		out = append(out, accessbot.ApprovalLevel{Approvers: userApprovers(ids), Rule: rule, Quorum: quorum,
			Channel: lvl.Channel, ChannelOnly: lvl.ChannelOnly && lvl.Channel != ""})
	}
	return out, nil
}

// effectiveApprovers applies termination, delegation and self-exclusion, and de-duplicates.
func effectiveApprovers(candidates []string, in resolveInput, get func(string) (*accessbot.User, error)) ([]string, error) {
	var ids []string
	seen := map[string]bool{}
	for _, id := range candidates {
		if id == "" || id == in.requesterID || id == in.targetID {
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
		if visited[cur.DelegateID] || cur.DelegateID == in.requesterID || cur.DelegateID == in.targetID {
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
