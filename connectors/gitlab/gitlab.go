// Package gitlab carries out the gitlab_issue_* action-chain scripts
// (create, add_comment, add_label, remove_label, close, assign_user,
// unassign_user) through the official client,
// gitlab.com/gitlab-org/api/client-go/v2, against a configurable base URL.
//
// Every call is safe to repeat, because a durable step re-runs a call whose
// answer was lost: it asks first and does nothing when the state already
// holds (label present, issue closed, user not assigned), and creations
// carry a marker so a repeat finds the first one instead of making another.
// One call is one attempt; retries belong to the step's job, guided by
// *APIError's Retryable and RetryAfter.
package gitlab

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
	gl "gitlab.com/gitlab-org/api/client-go/v2"

	"github.com/accessbot/accessbot/connectors/outbound"
	"github.com/accessbot/accessbot/internal/secrets"
)

// IssueTracker is the capability the gitlab_issue_* scripts need, one method
// per script. Flows declare their own copy where they consume it; this one
// keeps the implementation's shape checked.
type IssueTracker interface {
	CreateIssue(ctx context.Context, project string, in NewIssue) (Issue, error)
	AddComment(ctx context.Context, project string, iid int64, key, body string) error
	AddLabel(ctx context.Context, project string, iid int64, label string) error
	RemoveLabel(ctx context.Context, project string, iid int64, label string) error
	CloseIssue(ctx context.Context, project string, iid int64) error
	AssignUser(ctx context.Context, project string, iid int64, user string) error
	UnassignUser(ctx context.Context, project string, iid int64, user string) error
}

var _ IssueTracker = (*Client)(nil)

// Config is one GitLab instance.
type Config struct {
	BaseURL string // "https://gitlab.example.com"; "" means gitlab.com
	Token   secrets.Secret
}

// NewIssue is what gitlab_issue_create files.
type NewIssue struct {
	// Key identifies the step (say webhook.MessageID-style flow+step); a
	// repeat with the same key returns the issue the first call made.
	Key         string
	Title       string
	Description string
	Labels      []string
}

// Issue is what the scripts need back.
type Issue struct {
	IID    int64
	WebURL string
	State  string
}

// APIError is a refusal or failure from GitLab, without the token.
type APIError struct {
	Op         string // "close issue group/app#3"
	Status     int    // 0 when no answer came
	Message    string // GitLab's "message"
	RetryAfter time.Duration
	Retryable  bool
	Err        error
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "gitlab: %s: ", e.Op)
	switch {
	case e.Status == 0:
		fmt.Fprintf(&b, "%v", e.Err)
	case e.Message != "":
		fmt.Fprintf(&b, "HTTP %d: %s", e.Status, e.Message)
	default:
		fmt.Fprintf(&b, "HTTP %d", e.Status)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	return b.String()
}

func (e *APIError) Unwrap() error { return e.Err }

// ErrNotFound matches an *APIError for a 404 (project, issue) and an unknown user.
var ErrNotFound = errors.New("not found")

// Is lets errors.Is(err, ErrNotFound) match 404s.
func (e *APIError) Is(target error) bool {
	return target == ErrNotFound && e.Status == http.StatusNotFound
}

// Client is safe for concurrent use.
type Client struct {
	api   *gl.Client
	token secrets.Secret
	log   zerolog.Logger
}

// New builds a Client. hc should be the outbound client's *http.Client, so
// a self-hosted GitLab is reached under the same address rules as webhooks.
func New(cfg Config, hc *http.Client, log zerolog.Logger) (*Client, error) {
	if !cfg.Token.IsSet() {
		return nil, errors.New("gitlab: token is required")
	}
	opts := []gl.ClientOptionFunc{gl.WithoutRetries(), gl.WithHTTPClient(hc)}
	if cfg.BaseURL != "" {
		opts = append(opts, gl.WithBaseURL(cfg.BaseURL))
	}
	api, err := gl.NewClient(cfg.Token.Reveal(), opts...)
	if err != nil {
		return nil, fmt.Errorf("gitlab: configure client for %s: %v", cfg.BaseURL, scrubText(err.Error(), cfg.Token))
	}
	return &Client{api: api, token: cfg.Token, log: log}, nil
}

const markerPrefix = "accessbot-step:"

var keyPattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,128}$`)

// marker is hidden in Markdown (an HTML comment) and unique enough to search.
func marker(key string) string { return "<!-- " + markerPrefix + key + " -->" }

// CreateIssue files an issue, or returns the one an earlier call with the same key filed.
func (c *Client) CreateIssue(ctx context.Context, project string, in NewIssue) (Issue, error) {
	op := "create issue in " + project
	if !keyPattern.MatchString(in.Key) {
		return Issue{}, fmt.Errorf("gitlab: %s: key %q: use 1-128 of A-Z a-z 0-9 . _ -", op, in.Key)
	}
	if strings.TrimSpace(in.Title) == "" {
		return Issue{}, fmt.Errorf("gitlab: %s: title is empty", op)
	}
	m := marker(in.Key)
	found, resp, err := c.api.Issues.ListProjectIssues(project, &gl.ListProjectIssuesOptions{
		Search: gl.Ptr(markerPrefix + in.Key), In: gl.Ptr("description"), State: gl.Ptr("all"),
		ListOptions: gl.ListOptions{PerPage: 20},
	}, gl.WithContext(ctx))
	if err != nil {
		return Issue{}, c.fail(op, resp, err)
	}
	for _, is := range found {
		if strings.Contains(is.Description, m) {
			c.log.Info().Str("project", project).Int64("iid", is.IID).Msg("gitlab issue already created by an earlier attempt")
			return Issue{IID: is.IID, WebURL: is.WebURL, State: is.State}, nil
		}
	}
	desc := strings.TrimRight(in.Description, "\n") + "\n\n" + m
	opt := &gl.CreateIssueOptions{Title: gl.Ptr(in.Title), Description: gl.Ptr(desc)}
	if len(in.Labels) > 0 {
		l := gl.LabelOptions(in.Labels)
		opt.Labels = &l
	}
	is, resp, err := c.api.Issues.CreateIssue(project, opt, gl.WithContext(ctx))
	if err != nil {
		return Issue{}, c.fail(op, resp, err)
	}
	c.log.Info().Str("project", project).Int64("iid", is.IID).Msg("gitlab issue created")
	return Issue{IID: is.IID, WebURL: is.WebURL, State: is.State}, nil
}

// AddComment adds a note, unless a note with the same key is already there.
func (c *Client) AddComment(ctx context.Context, project string, iid int64, key, body string) error {
	op := fmt.Sprintf("comment on %s#%d", project, iid)
	if !keyPattern.MatchString(key) {
		return fmt.Errorf("gitlab: %s: key %q: use 1-128 of A-Z a-z 0-9 . _ -", op, key)
	}
	if strings.TrimSpace(body) == "" {
		return fmt.Errorf("gitlab: %s: comment is empty", op)
	}
	m := marker(key)
	opt := &gl.ListIssueNotesOptions{ListOptions: gl.ListOptions{PerPage: 100, Page: 1}}
	for {
		notes, resp, err := c.api.Notes.ListIssueNotes(project, iid, opt, gl.WithContext(ctx))
		if err != nil {
			return c.fail(op, resp, err)
		}
		for _, n := range notes {
			if strings.Contains(n.Body, m) {
				return nil
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opt.Page = resp.NextPage
	}
	_, resp, err := c.api.Notes.CreateIssueNote(project, iid, &gl.CreateIssueNoteOptions{Body: gl.Ptr(strings.TrimRight(body, "\n") + "\n\n" + m)}, gl.WithContext(ctx))
	if err != nil {
		return c.fail(op, resp, err)
	}
	return nil
}

// AddLabel is done when the label is already there.
func (c *Client) AddLabel(ctx context.Context, project string, iid int64, label string) error {
	op := fmt.Sprintf("add label %q to %s#%d", label, project, iid)
	return c.update(ctx, op, project, iid, func(is *gl.Issue) *gl.UpdateIssueOptions {
		if slices.Contains(is.Labels, label) {
			return nil
		}
		l := gl.LabelOptions{label}
		return &gl.UpdateIssueOptions{AddLabels: &l}
	})
}

// RemoveLabel is done when the label is not there.
func (c *Client) RemoveLabel(ctx context.Context, project string, iid int64, label string) error {
	op := fmt.Sprintf("remove label %q from %s#%d", label, project, iid)
	return c.update(ctx, op, project, iid, func(is *gl.Issue) *gl.UpdateIssueOptions {
		if !slices.Contains(is.Labels, label) {
			return nil
		}
		l := gl.LabelOptions{label}
		return &gl.UpdateIssueOptions{RemoveLabels: &l}
	})
}

// CloseIssue is done when the issue is already closed.
func (c *Client) CloseIssue(ctx context.Context, project string, iid int64) error {
	op := fmt.Sprintf("close %s#%d", project, iid)
	return c.update(ctx, op, project, iid, func(is *gl.Issue) *gl.UpdateIssueOptions {
		if is.State == "closed" {
			return nil
		}
		return &gl.UpdateIssueOptions{StateEvent: gl.Ptr("close")}
	})
}

// AssignUser adds user (a username or numeric id) to the assignees; done
// when already assigned.
func (c *Client) AssignUser(ctx context.Context, project string, iid int64, user string) error {
	op := fmt.Sprintf("assign %s to %s#%d", user, project, iid)
	uid, err := c.userID(ctx, op, user)
	if err != nil {
		return err
	}
	return c.update(ctx, op, project, iid, func(is *gl.Issue) *gl.UpdateIssueOptions {
		ids := assigneeIDs(is)
		if slices.Contains(ids, uid) {
			return nil
		}
		ids = append(ids, uid)
		return &gl.UpdateIssueOptions{AssigneeIDs: &ids}
	})
}

// UnassignUser removes user from the assignees; done when not assigned.
func (c *Client) UnassignUser(ctx context.Context, project string, iid int64, user string) error {
	op := fmt.Sprintf("unassign %s from %s#%d", user, project, iid)
	uid, err := c.userID(ctx, op, user)
	if err != nil {
		return err
	}
	return c.update(ctx, op, project, iid, func(is *gl.Issue) *gl.UpdateIssueOptions {
		ids := assigneeIDs(is)
		if !slices.Contains(ids, uid) {
			return nil
		}
		// An empty list unassigns everyone, which is what removing the last one means.
		ids = slices.DeleteFunc(ids, func(id int64) bool { return id == uid })
		return &gl.UpdateIssueOptions{AssigneeIDs: &ids}
	})
}

func assigneeIDs(is *gl.Issue) []int64 {
	ids := []int64{}
	for _, a := range is.Assignees {
		if a != nil {
			ids = append(ids, a.ID)
		}
	}
	return ids
}

// update reads the issue, asks change what to send (nil: already so), and sends it.
func (c *Client) update(ctx context.Context, op, project string, iid int64, change func(*gl.Issue) *gl.UpdateIssueOptions) error {
	is, resp, err := c.api.Issues.GetIssue(project, iid, gl.WithContext(ctx))
	if err != nil {
		return c.fail(op, resp, err)
	}
	opt := change(is)
	if opt == nil {
		c.log.Info().Str("project", project).Int64("iid", iid).Str("op", op).Msg("gitlab: already so, nothing to do")
		return nil
	}
	if _, resp, err = c.api.Issues.UpdateIssue(project, iid, opt, gl.WithContext(ctx)); err != nil {
		return c.fail(op, resp, err)
	}
	c.log.Info().Str("project", project).Int64("iid", iid).Str("op", op).Msg("gitlab issue updated")
	return nil
}

func (c *Client) userID(ctx context.Context, op, user string) (int64, error) {
	if id, err := strconv.ParseInt(user, 10, 64); err == nil && id > 0 {
		return id, nil
	}
	users, resp, err := c.api.Users.ListUsers(&gl.ListUsersOptions{Username: gl.Ptr(strings.TrimPrefix(user, "@"))}, gl.WithContext(ctx))
	if err != nil {
		return 0, c.fail(op, resp, err)
	}
	if len(users) == 0 {
		return 0, &APIError{Op: op, Status: http.StatusNotFound, Message: fmt.Sprintf("no GitLab user %q", user), Err: ErrNotFound}
	}
	return users[0].ID, nil
}

// fail turns the client's error into an *APIError with GitLab's message,
// the status, and whether and when to retry.
func (c *Client) fail(op string, resp *gl.Response, err error) error {
	e := &APIError{Op: op}
	var er *gl.ErrorResponse
	switch {
	case errors.As(err, &er):
		e.Status, e.Message = er.StatusCode, er.Message
	case resp != nil && resp.Response != nil:
		e.Status = resp.StatusCode
	}
	if e.Status == 0 {
		e.Err = err
		if t := scrubText(err.Error(), c.token); t != err.Error() {
			e.Err = errors.New(t) // keep only the scrubbed text
		}
		// No answer: the network or a timeout may pass; an address rule will not.
		e.Retryable = !errors.Is(err, outbound.ErrBlocked) && !errors.Is(err, outbound.ErrInsecureScheme)
	} else {
		e.Retryable = e.Status >= 500 || e.Status == http.StatusTooManyRequests || e.Status == http.StatusConflict
	}
	e.Message = scrubText(e.Message, c.token)
	if resp != nil && resp.Response != nil {
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
			e.RetryAfter = time.Duration(s) * time.Second
		}
	}
	c.log.Warn().Str("op", op).Int("status", e.Status).Bool("retryable", e.Retryable).Str("error", e.Error()).Msg("gitlab call failed")
	return e
}

func scrubText(s string, token secrets.Secret) string {
	if v := token.Reveal(); v != "" {
		s = strings.ReplaceAll(s, v, secrets.Redacted)
	}
	return s
}
