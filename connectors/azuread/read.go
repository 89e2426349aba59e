package azuread

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/accessbot/accessbot/connectors/apiconn"
)

// User is a Graph user as a delta page reports it. In a delta round after
// the first, only changed properties may be present: the Has* fields say
// which were.
type User struct {
	ID                    string
	DisplayName           string
	Mail                  string
	UserPrincipalName     string
	AccountEnabled        bool
	EmployeeLeaveDateTime *time.Time
	Removed               bool // "@removed": deleted (or soft-deleted)

	HasDisplayName, HasMail, HasUPN, HasAccountEnabled, HasLeave bool
}

// UserSelect is the $select of user reads.
const UserSelect = "id,displayName,mail,userPrincipalName,accountEnabled,employeeLeaveDateTime"

func (u *User) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	str := func(k string, dst *string) (bool, error) {
		v, ok := raw[k]
		if !ok {
			return false, nil
		}
		if string(v) == "null" {
			*dst = ""
			return true, nil
		}
		return true, json.Unmarshal(v, dst)
	}
	var err error
	if _, err = str("id", &u.ID); err != nil {
		return fmt.Errorf("user id: %w", err)
	}
	if u.HasDisplayName, err = str("displayName", &u.DisplayName); err != nil {
		return fmt.Errorf("user %s displayName: %w", u.ID, err)
	}
	if u.HasMail, err = str("mail", &u.Mail); err != nil {
		return fmt.Errorf("user %s mail: %w", u.ID, err)
	}
	if u.HasUPN, err = str("userPrincipalName", &u.UserPrincipalName); err != nil {
		return fmt.Errorf("user %s userPrincipalName: %w", u.ID, err)
	}
	if v, ok := raw["accountEnabled"]; ok {
		u.HasAccountEnabled = true
		if string(v) != "null" {
			if err := json.Unmarshal(v, &u.AccountEnabled); err != nil {
				return fmt.Errorf("user %s accountEnabled: %w", u.ID, err)
			}
		}
	}
	var leave string
	if u.HasLeave, err = str("employeeLeaveDateTime", &leave); err != nil {
		return fmt.Errorf("user %s employeeLeaveDateTime: %w", u.ID, err)
	}
	if leave != "" {
		t, err := time.Parse(time.RFC3339, leave)
		if err != nil {
			return fmt.Errorf("user %s employeeLeaveDateTime %q: %w", u.ID, leave, err)
		}
		u.EmployeeLeaveDateTime = &t
	}
	_, u.Removed = raw["@removed"]
	return nil
}

// Group is a Graph group from a delta page. Members lists the changes to
// its user members in this page ("members@delta"): in the first round
// every member, in later rounds only the added and removed ones. A large
// group's members may span several pages, the group repeated in each.
type Group struct {
	ID              string
	DisplayName     string
	HasDisplayName  bool
	SecurityEnabled bool
	Removed         bool
	Members         []MemberChange
}

// MemberChange is one member in a "members@delta" list.
type MemberChange struct {
	ID      string
	Type    string // "#microsoft.graph.user", "#microsoft.graph.group", ...
	Removed bool
}

// GroupSelect is the $select of the groups delta: members makes Graph
// report membership changes.
const GroupSelect = "id,displayName,securityEnabled,members"

func (g *Group) UnmarshalJSON(b []byte) error {
	var raw struct {
		ID              string  `json:"id"`
		DisplayName     *string `json:"displayName"`
		SecurityEnabled *bool   `json:"securityEnabled"`
		Removed         *struct {
			Reason string `json:"reason"`
		} `json:"@removed"`
		Members []struct {
			Type    string `json:"@odata.type"`
			ID      string `json:"id"`
			Removed *struct {
				Reason string `json:"reason"`
			} `json:"@removed"`
		} `json:"members@delta"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("group: %w", err)
	}
	*g = Group{ID: raw.ID, Removed: raw.Removed != nil}
	if raw.DisplayName != nil {
		g.DisplayName, g.HasDisplayName = *raw.DisplayName, true
	}
	if raw.SecurityEnabled != nil {
		g.SecurityEnabled = *raw.SecurityEnabled
	}
	for _, m := range raw.Members {
		g.Members = append(g.Members, MemberChange{ID: m.ID, Type: m.Type, Removed: m.Removed != nil})
	}
	return nil
}

// IsUser reports whether the member is a user (the inventory's identities).
func (m MemberChange) IsUser() bool { return m.Type == "" || m.Type == "#microsoft.graph.user" }

type page[T any] struct {
	Value     []T    `json:"value"`
	NextLink  string `json:"@odata.nextLink"`
	DeltaLink string `json:"@odata.deltaLink"`
}

// Delta walks one delta round from link (a stored @odata.deltaLink) or,
// when link is "", from a fresh start, handing each page's objects to fn
// as they come (so memory holds one page). It returns the new deltaLink.
// An expired link fails with an error IsSyncStateNotFound reports.
func deltaRound[T any](ctx context.Context, c *Client, op, start, link string, fn func([]T) error) (string, error) {
	next := link
	if next == "" {
		next = start
	}
	for pages := 1; ; pages++ {
		var p page[T]
		if err := c.call(ctx, fmt.Sprintf("%s (page %d)", op, pages), http.MethodGet, next, nil, &p); err != nil {
			return "", err
		}
		if err := fn(p.Value); err != nil {
			return "", err
		}
		switch {
		case p.NextLink != "":
			next = p.NextLink
		case p.DeltaLink != "":
			return p.DeltaLink, nil
		default:
			return "", &Error{Op: op, Err: fmt.Errorf("page %d has neither @odata.nextLink nor @odata.deltaLink", pages)}
		}
	}
}

// UsersDelta reads users from deltaLink ("" for everything).
func (c *Client) UsersDelta(ctx context.Context, deltaLink string, fn func([]User) error) (string, error) {
	return deltaRound(ctx, c, "read users", "/users/delta?$select="+url.QueryEscape(UserSelect), deltaLink, fn)
}

// GroupsDelta reads groups and their membership changes from deltaLink.
func (c *Client) GroupsDelta(ctx context.Context, deltaLink string, fn func([]Group) error) (string, error) {
	return deltaRound(ctx, c, "read groups", "/groups/delta?$select="+url.QueryEscape(GroupSelect), deltaLink, fn)
}

// DirectoryRole is an activated directory role with its user members.
type DirectoryRole struct {
	ID             string `json:"id"`
	DisplayName    string `json:"displayName"`
	RoleTemplateID string `json:"roleTemplateId"`
	Members        []string
}

type objectRef struct {
	Type string `json:"@odata.type"`
	ID   string `json:"id"`
}

// MaxBatch is Graph's limit of requests in one $batch.
const MaxBatch = 20

// DirectoryRoles lists the activated directory roles and their user
// members, fetching the members of up to MaxBatch roles per $batch.
func (c *Client) DirectoryRoles(ctx context.Context) ([]DirectoryRole, error) {
	var roles []DirectoryRole
	if _, err := deltaRoundList(ctx, c, "read directory roles", "/directoryRoles?$select=id,displayName,roleTemplateId", func(v []DirectoryRole) error {
		roles = append(roles, v...)
		return nil
	}); err != nil {
		return nil, err
	}
	for lo := 0; lo < len(roles); lo += MaxBatch {
		hi := min(lo+MaxBatch, len(roles))
		reqs := make([]BatchRequest, 0, hi-lo)
		for i := lo; i < hi; i++ {
			reqs = append(reqs, BatchRequest{ID: strconv.Itoa(i), Method: http.MethodGet, URL: "/directoryRoles/" + url.PathEscape(roles[i].ID) + "/members?$select=id"})
		}
		resps, err := c.Batch(ctx, "read directory role members", reqs)
		if err != nil {
			return nil, err
		}
		for k, r := range resps {
			i := lo + k
			op := fmt.Sprintf("read members of directory role %s (%s)", roles[i].DisplayName, roles[i].ID)
			var p page[objectRef]
			if r.Status == http.StatusOK {
				if err := json.Unmarshal(r.Body, &p); err != nil {
					return nil, &Error{Op: op, Err: fmt.Errorf("decode: %w", err)}
				}
			} else {
				// A refused or throttled part is asked again on its own,
				// through call's Retry-After handling.
				p = page[objectRef]{NextLink: reqs[k].URL}
			}
			roles[i].Members = appendUsers(roles[i].Members, p.Value)
			for next := p.NextLink; next != ""; {
				var q page[objectRef]
				if err := c.call(ctx, op, http.MethodGet, next, nil, &q); err != nil {
					return nil, err
				}
				roles[i].Members = appendUsers(roles[i].Members, q.Value)
				next = q.NextLink
			}
		}
	}
	return roles, nil
}

func appendUsers(dst []string, refs []objectRef) []string {
	for _, r := range refs {
		if r.Type == "" || r.Type == "#microsoft.graph.user" {
			dst = append(dst, r.ID)
		}
	}
	return dst
}

// deltaRoundList pages a plain list (nextLink only).
func deltaRoundList[T any](ctx context.Context, c *Client, op, start string, fn func([]T) error) (int, error) {
	n := 0
	for next, pages := start, 1; next != ""; pages++ {
		var p page[T]
		if err := c.call(ctx, fmt.Sprintf("%s (page %d)", op, pages), http.MethodGet, next, nil, &p); err != nil {
			return n, err
		}
		n += len(p.Value)
		if err := fn(p.Value); err != nil {
			return n, err
		}
		next = p.NextLink
	}
	return n, nil
}

// BatchRequest is one request inside a $batch; URL is relative to the
// version root ("/users/{id}").
type BatchRequest struct {
	ID      string            `json:"id"`
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Body    any               `json:"body,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
}

// BatchResponse is one answer inside a $batch, in the order asked.
type BatchResponse struct {
	ID      string            `json:"id"`
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers"`
	Body    json.RawMessage   `json:"body"`
}

// Err turns a failed sub-response into an *Error for op.
func (r BatchResponse) Err(op string) error {
	if r.Status >= 200 && r.Status < 300 {
		return nil
	}
	h := http.Header{}
	for k, v := range r.Headers {
		h.Set(k, v)
	}
	return graphError(op, &apiconn.Answer{Status: r.Status, Header: h, Body: r.Body})
}

// Batch sends up to MaxBatch requests in one POST /$batch and returns the
// answers in the order of reqs.
func (c *Client) Batch(ctx context.Context, op string, reqs []BatchRequest) ([]BatchResponse, error) {
	if len(reqs) == 0 {
		return nil, nil
	}
	if len(reqs) > MaxBatch {
		return nil, &Error{Op: op, Err: fmt.Errorf("%d requests in one $batch; Graph takes at most %d", len(reqs), MaxBatch)}
	}
	var out struct {
		Responses []BatchResponse `json:"responses"`
	}
	if err := c.call(ctx, op, http.MethodPost, "/$batch", map[string]any{"requests": reqs}, &out); err != nil {
		return nil, err
	}
	byID := make(map[string]BatchResponse, len(out.Responses))
	for _, r := range out.Responses {
		byID[r.ID] = r
	}
	res := make([]BatchResponse, len(reqs))
	for i, q := range reqs {
		r, ok := byID[q.ID]
		if !ok {
			return nil, &Error{Op: op, Err: fmt.Errorf("$batch answer has no response with id %q", q.ID)}
		}
		res[i] = r
	}
	return res, nil
}
