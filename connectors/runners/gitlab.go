package runners

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot/connectors/catalog"
	"github.com/accessbot/accessbot/connectors/gitlab"
	"github.com/accessbot/accessbot/flows/provision"
)

// Outputs the GitLab scripts write, for later steps ({{.Outputs.gitlab_issue_iid}}).
const (
	OutputIssueIID = "gitlab_issue_iid"
	OutputIssueURL = "gitlab_issue_url"
)

// GitLab runs the gitlab_issue_* scripts. Params: connector (when the
// tenant has several gitlab connectors), project (else the connector's),
// and per script: create: title, description, labels (comma-separated);
// add_comment: body; add_label / remove_label: label; assign_user /
// unassign_user: user. Every script but create works on issue (an iid),
// by default the one an earlier gitlab_issue_create step of the flow made.
type GitLab struct {
	cat *catalog.Loader
	log zerolog.Logger
}

// NewGitLab builds the GitLab runner.
func NewGitLab(cat *catalog.Loader, log zerolog.Logger) *GitLab {
	return &GitLab{cat: cat, log: log}
}

var _ provision.Runner = (*GitLab)(nil)

func (g *GitLab) Run(ctx context.Context, s provision.Step) (provision.Result, error) {
	in, err := g.cat.Find(ctx, s.TenantID, catalog.GitLab, s.Params["connector"])
	if err != nil {
		return provision.Result{}, setupErr(err)
	}
	hc, err := g.cat.HTTP(ctx, s.TenantID)
	if err != nil {
		return provision.Result{}, setupErr(err)
	}
	cl, err := gitlab.New(gitlab.Config{BaseURL: in.Settings["base_url"], Token: in.Secret("token")}, hc.HTTPClient(), g.log)
	if err != nil {
		return provision.Result{}, provision.Permanent(err)
	}
	project := strings.TrimSpace(s.Params["project"])
	if project == "" {
		project = in.Settings["project"]
	}
	if project == "" {
		return provision.Result{}, provision.Permanent(fmt.Errorf("step %d (%s): parameter project is required (or set project: on connector %s)", s.Index+1, s.Type, in.Name))
	}
	if s.Op == "issue_create" {
		title, err := param(s, "title")
		if err != nil {
			return provision.Result{}, err
		}
		var labels []string
		for l := range strings.SplitSeq(s.Params["labels"], ",") {
			if l = strings.TrimSpace(l); l != "" {
				labels = append(labels, l)
			}
		}
		is, err := cl.CreateIssue(ctx, project, gitlab.NewIssue{Key: stableID(s.Key), Title: title, Description: s.Params["description"], Labels: labels})
		if err != nil {
			return provision.Result{}, apiErr(err)
		}
		return provision.Result{
			Outputs: map[string]string{OutputIssueIID: strconv.FormatInt(is.IID, 10), OutputIssueURL: is.WebURL},
			Note:    fmt.Sprintf("GitLab issue %s#%d created", project, is.IID),
		}, nil
	}
	iidText := strings.TrimSpace(s.Params["issue"])
	if iidText == "" {
		iidText = s.Fields.Outputs[OutputIssueIID]
	}
	iid, err := strconv.ParseInt(iidText, 10, 64)
	if err != nil || iid <= 0 {
		return provision.Result{}, provision.Permanent(fmt.Errorf("step %d (%s): parameter issue (an issue iid) is required when no earlier gitlab_issue_create step made one", s.Index+1, s.Type))
	}
	var note string
	switch s.Op {
	case "issue_add_comment":
		body, perr := param(s, "body")
		if perr != nil {
			return provision.Result{}, perr
		}
		err, note = cl.AddComment(ctx, project, iid, stableID(s.Key), body), "commented on"
	case "issue_add_label", "issue_remove_label":
		label, perr := param(s, "label")
		if perr != nil {
			return provision.Result{}, perr
		}
		if s.Op == "issue_add_label" {
			err, note = cl.AddLabel(ctx, project, iid, label), "labelled "+label+":"
		} else {
			err, note = cl.RemoveLabel(ctx, project, iid, label), "removed label "+label+" from"
		}
	case "issue_close":
		err, note = cl.CloseIssue(ctx, project, iid), "closed"
	case "issue_assign_user", "issue_unassign_user":
		user, perr := param(s, "user")
		if perr != nil {
			return provision.Result{}, perr
		}
		if s.Op == "issue_assign_user" {
			err, note = cl.AssignUser(ctx, project, iid, user), "assigned "+user+" to"
		} else {
			err, note = cl.UnassignUser(ctx, project, iid, user), "unassigned "+user+" from"
		}
	default:
		return provision.Result{}, provision.Permanent(fmt.Errorf("%s: %w", s.Type, provision.ErrUnknownScript))
	}
	if err != nil {
		return provision.Result{}, apiErr(err)
	}
	return provision.Result{Note: fmt.Sprintf("GitLab: %s %s#%d", note, project, iid)}, nil
}

func apiErr(err error) error {
	var ae *gitlab.APIError
	if errors.As(err, &ae) && ae.Retryable {
		return err
	}
	return provision.Permanent(err)
}
