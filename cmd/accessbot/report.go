package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/evidence"
	"github.com/accessbot/accessbot/internal/report"
)

func (m *Main) reportCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Write audit evidence: a campaign's decisions, or every request since a date, as CSV or PDF",
		Args:  cobra.NoArgs,
		RunE:  showHelp,
	}
	cmd.AddCommand(m.reportCampaignCommand(), m.reportRequestsCommand(), m.reportAccessCommand())
	return cmd
}

// reportOut are the flags every report takes.
type reportOut struct {
	tenant, format, output string
}

func (o *reportOut) flags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.tenant, "tenant", "", "tenant `SLUG` (may be left out when the store has one tenant)")
	cmd.Flags().StringVar(&o.format, "format", "csv", "`FORMAT`: csv or pdf")
	cmd.Flags().StringVarP(&o.output, "output", "o", "", "write to `FILE` instead of standard output")
}

func (o *reportOut) check() error {
	o.format = strings.ToLower(o.format)
	if o.format != "csv" && o.format != "pdf" {
		return fmt.Errorf("--format %s: want csv or pdf", o.format)
	}
	return nil
}

// write renders t to --output (or stdout), replacing a file only once it is whole.
func (o *reportOut) write(stdout io.Writer, t report.Table) error {
	render := report.WriteCSV
	if o.format == "pdf" {
		render = report.WritePDF
	}
	if o.output == "" {
		return render(stdout, t)
	}
	tmp := o.output + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("--output: %w", err)
	}
	if err := render(f, t); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("--output: %w", err)
	}
	if err := os.Rename(tmp, o.output); err != nil {
		return fmt.Errorf("--output: %w", err)
	}
	return nil
}

func (m *Main) reportCampaignCommand() *cobra.Command {
	var o reportOut
	cmd := &cobra.Command{
		Use:   "campaign NAME",
		Short: "Every item of an access review campaign: decision, who and when, reason, delegation or nomination, revocation outcome",
		Long: `Write one access review campaign as evidence: every item at every level,
its decision, who decided and when, the reason, how the reviewer got it
(delegation or nomination), and for revoked access the revocation's outcome
(deprovisioned, pending in provisioning, failed, or left to the owner).
NAME is the campaign's name (its latest launch) or id.`,
		Example: `  accessbot report campaign "Q1 GitLab review" --format pdf -o q1-review.pdf
  accessbot report campaign "Q1 GitLab review" --format csv > q1-review.csv`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.check(); err != nil {
				return err
			}
			ctx := cmd.Context()
			st, t, _, err := m.openTenant(ctx, o.tenant)
			if err != nil {
				return err
			}
			defer st.Close()
			c, err := evidence.FindCampaign(ctx, st, t.ID, args[0])
			if errors.Is(err, evidence.ErrNoCampaign) {
				return fmt.Errorf("no campaign named %q in tenant %s", args[0], t.Slug)
			}
			if err != nil {
				return err
			}
			rows, err := evidence.CampaignItems(ctx, st, t.ID, c)
			if err != nil {
				return err
			}
			return o.write(cmd.OutOrStdout(), evidence.CampaignTable(t.Name, c, rows, m.now()))
		},
	}
	o.flags(cmd)
	return cmd
}

func (m *Main) reportRequestsCommand() *cobra.Command {
	var (
		o            reportOut
		since, until string
	)
	cmd := &cobra.Command{
		Use:   "requests --since DATE",
		Short: "Every request since a date: its chain, decisions, step-ups, provisioning steps and end of access",
		Long: `Write every access request created since DATE (and before --until) as
evidence: who asked for what and why, the approval chain, each decision with
who, when and why, step-ups, each provisioning and deprovisioning flow with
its steps, and when the access ended or ends. Dates are YYYY-MM-DD (UTC
midnight) or RFC 3339.`,
		Example: `  accessbot report requests --since 2026-01-01 --until 2026-04-01 --format pdf -o q1-requests.pdf`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.check(); err != nil {
				return err
			}
			from, err := reportDate("--since", since)
			if err != nil {
				return err
			}
			var to time.Time
			if until != "" {
				if to, err = reportDate("--until", until); err != nil {
					return err
				}
				if !to.After(from) {
					return fmt.Errorf("--until %s is not after --since %s", until, since)
				}
			}
			ctx := cmd.Context()
			st, t, _, err := m.openTenant(ctx, o.tenant)
			if err != nil {
				return err
			}
			defer st.Close()
			rows, err := evidence.Requests(ctx, st, t.ID, from, to)
			if err != nil {
				return err
			}
			return o.write(cmd.OutOrStdout(), evidence.RequestsTable(t.Name, from, to, rows, m.now()))
		},
	}
	o.flags(cmd)
	cmd.Flags().StringVar(&since, "since", "", "first `DATE` (YYYY-MM-DD or RFC 3339), required")
	cmd.Flags().StringVar(&until, "until", "", "end `DATE`, exclusive (default: now)")
	return cmd
}

func (m *Main) reportAccessCommand() *cobra.Command {
	var (
		o    reportOut
		user string
	)
	cmd := &cobra.Command{
		Use:     "access --user EMAIL",
		Short:   "What a person holds today, and since when",
		Example: `  accessbot report access --user rita@acme.com --format pdf -o rita.pdf`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.check(); err != nil {
				return err
			}
			if user == "" {
				return fmt.Errorf("--user is required: the person's email")
			}
			ctx := cmd.Context()
			st, t, _, err := m.openTenant(ctx, o.tenant)
			if err != nil {
				return err
			}
			defer st.Close()
			u, err := st.GetUserByEmail(ctx, t.ID, user)
			if errors.Is(err, accessbot.ErrNotFound) {
				return fmt.Errorf("--user %s: no such person in tenant %s", user, t.Slug)
			}
			if err != nil {
				return err
			}
			tab, err := evidence.AccessTable(ctx, st, t, u, m.now())
			if err != nil {
				return err
			}
			return o.write(cmd.OutOrStdout(), tab)
		},
	}
	o.flags(cmd)
	cmd.Flags().StringVar(&user, "user", "", "the person's `EMAIL`, required")
	return cmd
}

func reportDate(flag, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, fmt.Errorf("%s is required: a date such as 2026-01-01", flag)
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%s %q: want YYYY-MM-DD or an RFC 3339 time", flag, s)
}

// now is the command's clock (tests set Main.Now).
func (m *Main) now() time.Time {
	if m.Now == nil {
		return time.Now().UTC()
	}
	return m.Now().UTC()
}
