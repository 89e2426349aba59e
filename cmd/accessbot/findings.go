package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/findings"
)

func (m *Main) findingsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "findings",
		Short: "List, run, import and receive findings",
		Args:  cobra.NoArgs,
		RunE:  showHelp,
	}
	cmd.AddCommand(m.findingsListCommand(), m.findingsRunCommand(), m.findingsImportCommand(), m.findingsTokenCommand())
	return cmd
}

// defaultFindingsLimit is the table's page: what fits a screen or two,
// printed at once however many findings there are.
const defaultFindingsLimit = 100

// findingJSON is the --json shape of one finding, stable for scripts.
type findingJSON struct {
	ID        string            `json:"id"`
	Rule      string            `json:"rule"`
	Severity  string            `json:"severity"`
	Status    string            `json:"status"`
	Subject   accessbot.Subject `json:"subject"`
	Details   json.RawMessage   `json:"details,omitempty"`
	FirstSeen time.Time         `json:"first_seen"`
	LastSeen  time.Time         `json:"last_seen"`
	OpenedAt  time.Time         `json:"opened_at"`
	StatusBy  string            `json:"status_by,omitempty"`
	StatusAt  *time.Time        `json:"status_at,omitempty"`
}

func (m *Main) findingsListCommand() *cobra.Command {
	var (
		tenant, rule         string
		statuses, severities []string
		asJSON               bool
		limit                int
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "Print findings: a table for people, --json for scripts",
		Long: `Print a tenant's findings, most severe first, then newest.
--status and --severity may repeat or take a comma-separated list.
The table shows the first 100 and says how many it left out (--limit N
for another page size, --limit 0 for all); --json prints all unless
--limit is given.`,
		Example: `  accessbot findings list --status open --severity critical,high
  accessbot findings list --tenant acme --json | jq '.[].subject.display'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if asJSON && !cmd.Flags().Changed("limit") {
				limit = 0 // scripts get every finding
			}
			if limit < 0 {
				return fmt.Errorf("--limit %d: want 0 (all) or more", limit)
			}
			filter := accessbot.FindingFilter{Rule: rule, Limit: limit}
			for _, s := range statuses {
				st := accessbot.FindingStatus(strings.ToLower(s))
				if st != accessbot.FindingOpen && st != accessbot.FindingAcknowledged && st != accessbot.FindingResolved {
					return fmt.Errorf("--status %s: want open, acknowledged or resolved", s)
				}
				filter.Statuses = append(filter.Statuses, st)
			}
			for _, s := range severities {
				sev := accessbot.Severity(strings.ToLower(s))
				if !sev.Valid() {
					return fmt.Errorf("--severity %s: want critical, high, medium or low", s)
				}
				filter.Severities = append(filter.Severities, sev)
			}
			st, t, _, err := m.openTenant(cmd.Context(), tenant)
			if err != nil {
				return err
			}
			defer st.Close()
			fs, err := st.ListFindings(cmd.Context(), t.ID, filter)
			if err != nil {
				return err
			}
			if asJSON {
				return writeFindingsJSON(cmd.OutOrStdout(), fs)
			}
			if err := writeFindingsTable(cmd.OutOrStdout(), fs); err != nil {
				return err
			}
			if limit == 0 || len(fs) < limit {
				return nil
			}
			// A full page: say how many were left out, on stderr so the
			// table stays clean for grep and friends.
			total, err := st.CountFindings(cmd.Context(), t.ID, filter)
			if err != nil {
				return err
			}
			if total > len(fs) {
				fmt.Fprintf(cmd.ErrOrStderr(), "showing %d of %d findings: --limit N shows more, --limit 0 all\n", len(fs), total)
			}
			return nil
		},
	}
	addTenantFlag(cmd, &tenant, "")
	cmd.Flags().StringSliceVar(&statuses, "status", nil, "only these statuses: open, acknowledged, resolved")
	cmd.Flags().StringSliceVar(&severities, "severity", nil, "only these severities: critical, high, medium, low")
	cmd.Flags().StringVar(&rule, "rule", "", "only this rule")
	cmd.Flags().IntVar(&limit, "limit", defaultFindingsLimit, "at most `N` findings (0: all); --json prints all unless it is given")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array")
	return cmd
}

func writeFindingsJSON(w io.Writer, fs []accessbot.Finding) error {
	out := make([]findingJSON, len(fs))
	for i, f := range fs {
		out[i] = findingJSON{ID: f.ID, Rule: f.Rule, Severity: string(f.Severity), Status: string(f.Status), Subject: f.Subject,
			Details: f.Details, FirstSeen: f.FirstSeen, LastSeen: f.LastSeen, OpenedAt: f.OpenedAt, StatusBy: f.StatusBy, StatusAt: f.StatusAt}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func writeFindingsTable(w io.Writer, fs []accessbot.Finding) error {
	if len(fs) == 0 {
		_, err := fmt.Fprintln(w, "no findings")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEVERITY\tSTATUS\tRULE\tSUBJECT\tFIRST SEEN\tLAST SEEN\tID")
	for _, f := range fs {
		status := string(f.Status)
		if f.StatusBy != "" && f.Status != accessbot.FindingOpen {
			status += " by " + f.StatusBy
		}
		subject := string(f.Subject.Kind) + " " + f.Subject.Display
		if f.Subject.Display == "" {
			subject = string(f.Subject.Kind) + " " + f.Subject.ID
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", f.Severity, status, f.Rule, subject,
			f.FirstSeen.UTC().Format("2006-01-02 15:04"), f.LastSeen.UTC().Format("2006-01-02 15:04"), f.ID)
	}
	return tw.Flush()
}

func (m *Main) findingsRunCommand() *cobra.Command {
	var tenant string
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the built-in and tenant rules now (they also run after each import)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, t, log, err := m.openTenant(cmd.Context(), tenant)
			if err != nil {
				return err
			}
			defer st.Close()
			pb, err := m.cliPlaybooks(st, log)
			if err != nil {
				return err
			}
			// Findings it opens reach the finding playbooks, queued with them for `run` to deliver.
			res, err := findings.NewEngine(m.Now, log).RunTxThen(cmd.Context(), st, t.ID, pb.FindingsOpened)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "RULE\tMATCHES\tOPENED\tREOPENED\tRESOLVED")
			for _, r := range res.Rules {
				fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\n", r.Rule, r.Matches, r.Opened, r.Reopened, r.Resolved)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "tenant %s: %s\n", t.Slug, res.Summary())
			return err
		},
	}
	addTenantFlag(cmd, &tenant, "")
	return cmd
}

func (m *Main) findingsImportCommand() *cobra.Command {
	var tenant string
	cmd := &cobra.Command{
		Use:   "import FILE.json",
		Short: "Record findings from a tenant's own tools",
		Long: `Record findings from a JSON array of
  {"rule": "...", "severity": "critical|high|medium|low",
   "subject": {"kind": "employee|identity|application", "id": "...", "display": "..."},
   "details": {...}}
Any bad item is reported with its index and field, and nothing is recorded.
A finding already recorded (same rule and subject) is refreshed, not repeated.`,
		Args: needArgs("FILE.json"),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[0])
			if err != nil {
				return fmt.Errorf("findings import: %w", err)
			}
			fs, err := findings.ParseExternal(args[0], data)
			if err != nil {
				return err
			}
			st, t, log, err := m.openTenant(cmd.Context(), tenant)
			if err != nil {
				return err
			}
			defer st.Close()
			pb, err := m.cliPlaybooks(st, log)
			if err != nil {
				return err
			}
			res, err := findings.RecordExternalThen(cmd.Context(), st, t.ID, args[0], fs, m.Now(), pb.FindingsOpened)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "tenant %s: %s: %d finding(s): %d opened, %d reopened, %d already open\n",
				t.Slug, args[0], len(fs), res.Opened, res.Reopened, res.Seen)
			return err
		},
	}
	addTenantFlag(cmd, &tenant, "")
	return cmd
}

func (m *Main) findingsTokenCommand() *cobra.Command {
	var tenant string
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Create or rotate the tenant's token for POST /api/v1/findings",
		Long: `Create the tenant's bearer token for POST /api/v1/findings, replacing any
previous one (which stops working at once). It is printed once: only its
SHA-256 hash is stored.`,
		Example: `  TOKEN=$(accessbot findings token --tenant acme)
  curl -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
       --data @findings.json http://127.0.0.1:8080/api/v1/findings`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, t, log, err := m.openTenant(cmd.Context(), tenant)
			if err != nil {
				return err
			}
			defer st.Close()
			tok, err := findings.NewToken(cmd.Context(), st, t.ID, m.Now())
			if err != nil {
				return err
			}
			log.Info().Str("tenant", t.ID).Msg("findings token rotated")
			_, err = fmt.Fprintln(cmd.OutOrStdout(), tok)
			return err
		},
	}
	addTenantFlag(cmd, &tenant, "")
	return cmd
}
