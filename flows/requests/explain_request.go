package requests

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/accessbot/accessbot"
)

// MayExplain reports whether u may see why req's approvers were asked: an
// admin, its requester, the person it is for, or anyone one of its levels
// asked (they were asked, so why is theirs to know). Status is the caller's.
func MayExplain(req *accessbot.AccessRequest, u *accessbot.User) bool {
	if u.Role == accessbot.RoleAdmin || req.RequesterID == u.ID || (req.TargetUserID != "" && req.TargetUserID == u.ID) {
		return true
	}
	for i := range req.Levels {
		if slices.Contains(LevelApprovers(req, i), u.ID) {
			return true
		}
	}
	return false
}

// RequestExplanation explains a stored request: its chain as it resolves
// now (Explain, what `accessbot explain request` prints), beside whom each
// of its levels asked when it was made.
type RequestExplanation struct {
	*Explanation
	Request *accessbot.AccessRequest
	// AskedThen names the approvers each stored level asked.
	AskedThen [][]string
	// RoutedChannels are the tenant's channels routed to a chain, set when
	// they could matter: the request went to the tenant default chain, and
	// it was stored before accessbot kept the channel a request is made
	// in, so no route is applied.
	RoutedChannels []string
}

// Explainable reports whether ExplainRequest explains requests of kind k:
// every kind but the purpose ones, whose purpose names their chain.
func Explainable(k accessbot.RequestKind) bool {
	return k != accessbot.RequestPurposeAssign && k != accessbot.RequestPurposeStart
}

// ExplainRequest explains stored request requestID for actorID, who must be
// an active user of the tenant and an admin, the request's requester, the
// person it is for, or an approver of one of its levels (ErrForbidden): the
// people its Details already show the chain to. An unknown id, or one of
// another tenant, is accessbot.ErrNotFound; a purpose request is
// ErrNotExplainable.
func (s *Service) ExplainRequest(ctx context.Context, tenantID, actorID, requestID string) (*RequestExplanation, error) {
	actor, err := s.st.GetUser(ctx, tenantID, actorID)
	if errors.Is(err, accessbot.ErrNotFound) || (err == nil && actor.Status != accessbot.UserActive) {
		return nil, fmt.Errorf("explain request %s: not an active user: %w", requestID, ErrForbidden)
	}
	if err != nil {
		return nil, fmt.Errorf("explain request %s: load actor: %w", requestID, err)
	}
	r, err := s.st.GetRequest(ctx, tenantID, requestID)
	if err != nil {
		return nil, fmt.Errorf("explain request %s: %w", requestID, err)
	}
	if !MayExplain(r, actor) {
		return nil, fmt.Errorf("explain request %s: only admins, its requester, the person it is for and its approvers may: %w", requestID, ErrForbidden)
	}
	if !Explainable(r.Kind) {
		return nil, fmt.Errorf("explain request %s: %w", requestID, ErrNotExplainable)
	}
	// The channel it was made in routes it again (unknown for a request
	// stored before accessbot kept it: then no route applies, and a note
	// says so).
	ex, err := s.explain(ctx, ExplainInput{TenantID: tenantID, AppID: r.AppID, ConnectionID: r.ConnectionID,
		RequesterID: r.RequesterID, TargetID: r.TargetUserID, Channel: r.Channel}, true)
	if err != nil {
		return nil, fmt.Errorf("explain request %s: %w", requestID, err)
	}
	out := &RequestExplanation{Explanation: ex, Request: r}
	get := cachedUsers(ctx, s.st, tenantID)
	for i := range r.Levels {
		var names []string
		for _, id := range LevelApprovers(r, i) {
			if u, _ := get(id); u != nil {
				names = append(names, u.Name+" <"+u.Email+">")
			} else {
				names = append(names, id)
			}
		}
		out.AskedThen = append(out.AskedThen, names)
	}
	if r.ChannelUnknown && ex.Chain.AppID == "" && ex.Chain.ConnectionID == "" {
		policy, err := requestPolicy(ctx, s.st, tenantID)
		if err != nil {
			return nil, fmt.Errorf("explain request %s: %w", requestID, err)
		}
		for _, rt := range policy.Channels {
			if rt.ChainID != "" {
				out.RoutedChannels = append(out.RoutedChannels, rt.ChannelID)
			}
		}
	}
	return out, nil
}

// Write prints what Explanation.Write prints for the request, headed by
// when it was made, followed by whom it asked then and, when channel routes
// could have changed its chain, a note that none was applied.
func (re *RequestExplanation) Write(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "request %s, made %s; its chain as it resolves now:\n", re.Request.ID, re.Request.CreatedAt.UTC().Format("2006-01-02 15:04 UTC"))
	if err := re.Explanation.Write(&b); err != nil {
		return err
	}
	b.WriteString("asked when it was made:\n")
	for i, names := range re.AskedThen {
		fmt.Fprintf(&b, "  level %d: %s\n", i+1, strings.Join(names, ", "))
	}
	if len(re.RoutedChannels) > 0 {
		fmt.Fprintf(&b, "note: this request was made before accessbot kept the channel a request is made in, so no channel route is applied here; made in %s, a request for an application without a chain of its own goes to that channel's chain\n",
			strings.Join(re.RoutedChannels, " or "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}
