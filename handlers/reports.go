package handlers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot"
	"github.com/accessbot/accessbot/bot/blockkit"
	"github.com/accessbot/accessbot/flows/evidence"
	"github.com/accessbot/accessbot/handlers/views"
	"github.com/accessbot/accessbot/internal/report"
	"github.com/accessbot/accessbot/store"
)

// fileAPI is what sending a report as a file in a DM takes of the Slack client.
type fileAPI interface {
	OpenConversation(ctx context.Context, userIDs ...string) (string, error)
	UploadFile(ctx context.Context, channelID, filename, title, comment string, content []byte) (string, error)
}

// Reports sends audit reports as a file in a DM to those allowed to see
// them: admins any report, a campaign's owner (the admin who launched it)
// that campaign's, and every person their own access. Who may see what is
// checked here, on the server, on every command.
type Reports struct {
	st    store.Store
	clock func() time.Time
	log   zerolog.Logger
}

// NewReports builds the handlers.
func NewReports(st store.Store, clock func() time.Time, log zerolog.Logger) *Reports {
	if clock == nil {
		clock = time.Now
	}
	return &Reports{st: st, clock: clock, log: log}
}

func (h *Reports) register(r *bot.Router) { r.Command(views.Command, views.SubReport, h.report) }

func (h *Reports) helpEntries() []views.HelpEntry {
	return []views.HelpEntry{
		{Usage: views.SubReport + " access [EMAIL] [pdf|csv]", Description: "What you hold today, and since when, as a file in a DM (admins: anyone's)."},
		{Usage: views.SubReport + " campaign NAME [pdf|csv]", Description: "An access review campaign's evidence (admins; the campaign's owner)."},
		{Usage: views.SubReport + " requests YYYY-MM-DD [pdf|csv]", Description: "Every request since a date with its decisions and provisioning (admins)."},
	}
}

const reportUsage = "Try `/access report access`, `/access report campaign NAME` or `/access report requests 2026-01-01`, with `csv` or `pdf` (default) at the end."

var mailtoRE = regexp.MustCompile(`^<mailto:([^|>]+)(\|[^>]*)?>$`)

// report answers "/access report ...".
func (h *Reports) report(ctx context.Context, req *bot.Request) error {
	args := strings.Fields(req.Args)
	format := "pdf"
	if n := len(args); n > 0 && (strings.EqualFold(args[n-1], "csv") || strings.EqualFold(args[n-1], "pdf")) {
		format, args = strings.ToLower(args[n-1]), args[:n-1]
	}
	if len(args) == 0 {
		return say(ctx, req, reportUsage)
	}
	actor := req.Actor
	now := h.clock().UTC()
	var t report.Table
	var name string
	switch strings.ToLower(args[0]) {
	case "access":
		u := actor.User
		if len(args) > 1 {
			email := args[1]
			if m := mailtoRE.FindStringSubmatch(email); m != nil {
				email = m[1]
			}
			other, err := h.st.GetUserByEmail(ctx, actor.Tenant.ID, email)
			if errors.Is(err, accessbot.ErrNotFound) {
				if !actor.IsAdmin() {
					return say(ctx, req, "You can ask for your own access report only; an accessbot admin can send anyone's.")
				}
				return say(ctx, req, fmt.Sprintf("There is nobody with the email %s.", email))
			}
			if err != nil {
				return err
			}
			if other.ID != actor.User.ID && !actor.IsAdmin() {
				return say(ctx, req, "You can ask for your own access report only; an accessbot admin can send anyone's.")
			}
			u = *other
		}
		tab, err := evidence.AccessTable(ctx, h.st, &actor.Tenant, &u, now)
		if err != nil {
			return err
		}
		t, name = tab, "access-"+slug(u.Email)
	case "campaign":
		if len(args) < 2 {
			return say(ctx, req, reportUsage)
		}
		cname := strings.Join(args[1:], " ")
		c, err := evidence.FindCampaign(ctx, h.st, actor.Tenant.ID, cname)
		if errors.Is(err, evidence.ErrNoCampaign) {
			return say(ctx, req, fmt.Sprintf("There is no campaign named %q.", cname))
		}
		if err != nil {
			return err
		}
		if !actor.IsAdmin() && c.CreatedBy != actor.User.ID {
			return say(ctx, req, "Only accessbot admins and the campaign's owner can have its report.")
		}
		rows, err := evidence.CampaignItems(ctx, h.st, actor.Tenant.ID, c)
		if err != nil {
			return err
		}
		t, name = evidence.CampaignTable(actor.Tenant.Name, c, rows, now), "campaign-"+slug(c.Name)
	case "requests":
		if !actor.IsAdmin() {
			return say(ctx, req, "Only accessbot admins can have the requests report.")
		}
		if len(args) < 2 {
			return say(ctx, req, reportUsage)
		}
		since, err := time.Parse("2006-01-02", args[1])
		if err != nil {
			return say(ctx, req, fmt.Sprintf("%q is not a date: write it as 2026-01-01.", args[1]))
		}
		rows, err := evidence.Requests(ctx, h.st, actor.Tenant.ID, since, time.Time{})
		if err != nil {
			return err
		}
		t, name = evidence.RequestsTable(actor.Tenant.Name, since, time.Time{}, rows, now), "requests-since-"+args[1]
	default:
		return say(ctx, req, reportUsage)
	}
	var buf bytes.Buffer
	render := report.WritePDF
	if format == "csv" {
		render = report.WriteCSV
	}
	if err := render(&buf, t); err != nil {
		return err
	}
	api, ok := req.API.(fileAPI)
	if !ok {
		return say(ctx, req, "I can't send files in this workspace.")
	}
	dm, err := api.OpenConversation(ctx, req.UserID)
	if err != nil {
		return fmt.Errorf("open a DM for the report: %w", err)
	}
	filename := name + "-" + now.Format("20060102") + "." + format
	// The comment is a message: names in the title are data, escaped.
	comment := fmt.Sprintf("%s (%d rows), generated %s.", blockkit.Escape(t.Title), len(t.Rows), views.SlackDate(now))
	if _, err := api.UploadFile(ctx, dm, filename, t.Title, comment, buf.Bytes()); err != nil {
		return fmt.Errorf("send report %s: %w", filename, err)
	}
	req.Log.Info().Str("report", filename).Int("rows", len(t.Rows)).Msg("report sent in a DM")
	return say(ctx, req, "I sent you "+filename+" in a DM.")
}

func say(ctx context.Context, req *bot.Request, text string) error {
	return req.Respond(ctx, bot.Message{Text: text})
}

var slugRE = regexp.MustCompile(`[^a-z0-9]+`)

// slug makes a file-name part of s: "Q1 GitLab review" → "q1-gitlab-review".
func slug(s string) string {
	return strings.Trim(slugRE.ReplaceAllString(strings.ToLower(s), "-"), "-")
}
