package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/connectors/webhook/receiver"
	"github.com/accessbot/accessbot/flows/digest"
	"github.com/accessbot/accessbot/flows/grants"
	"github.com/accessbot/accessbot/flows/schedule"
	"github.com/accessbot/accessbot/flows/tenantfile"
	"github.com/accessbot/accessbot/playground"
)

// playgroundTeamID is the fake workspace when the tenant file names none.
const playgroundTeamID = "T0PLAYGRND"

// playgroundGuestID is the Slack user whose email is in no tenant file.
const playgroundGuestID = "UGUEST"

func (m *Main) playgroundCommand() *cobra.Command {
	var listen, file string
	cmd := &cobra.Command{
		Use:   "playground",
		Short: "Try the bot in a browser, without a Slack workspace",
		Long: `Start a local playground: a fake Slack (bot/slackfake) in process, a fresh
SQLite store in a temporary directory (or the --config store), the tenant
file applied to it, and the real bot (the same code as ` + "`run`" + `) connected to
the fake over Socket Mode. A web page on --listen lets you be any user of
the tenant file, type /access commands, read your DMs and the alert
channels, open the App Home and fill in modals; every click is the payload
Slack would send. The page can also run the bot's clock forward, or send
the digest or review reminders now, through the bot's own scheduler.

Without --tenant-file the built-in example tenant (Acme Analytics) is used,
with its inventory and findings imported and a review launched, so the
digest and the review are there at once, from any directory.

One extra Slack user has an email the tenant does not know, to show how the
bot refuses unmatched users. Stop it with Ctrl-C; the temporary store goes.`,
		Example: `  accessbot playground
  accessbot playground --listen 127.0.0.1:9000 --tenant-file my-tenant.yaml`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return m.playground(cmd.Context(), listen, file) },
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8090", "`ADDRESS` the playground page serves on")
	cmd.Flags().StringVar(&file, "tenant-file", "", "tenant `FILE` applied before the bot starts (default: the built-in example tenant, with its inventory and findings)")
	return cmd
}

func (m *Main) playground(ctx context.Context, listen, file string) error {
	f, example, err := loadPlaygroundTenant(file)
	if err != nil {
		return err
	}
	clock := &offsetClock{base: m.Now}
	if clock.base == nil {
		clock.base = time.Now
	}
	if example {
		addPlaygroundReview(f, clock.Now())
	}
	fake := slackfake.New()
	defer fake.Close()
	teamID, teamName := playgroundTeamID, f.Tenant.Name
	if f.Slack != nil {
		teamID = f.Slack.TeamID
		if f.Slack.TeamName != "" {
			teamName = f.Slack.TeamName
		}
	}
	team := fake.AddTeam(slackfake.Team{ID: teamID, Name: teamName})
	people, err := addPlaygroundPeople(fake, team.ID, f.Users)
	if err != nil {
		return err
	}

	over := map[string]string{
		"ACCESSBOT_SLACK_APP_TOKEN":   fake.AppToken(),
		"ACCESSBOT_SLACK_BOT_TOKEN":   team.BotToken,
		"ACCESSBOT_SLACK_TENANT":      f.Tenant.Slug,
		"ACCESSBOT_SLACK_API_URL":     fake.URL(),
		"ACCESSBOT_SLACK_CLIENT_ID":   "", // single-workspace mode, whatever the environment says
		"ACCESSBOT_HTTP_LISTEN":       "127.0.0.1:0",
		"ACCESSBOT_HTTP_PUBLIC_URL":   "",
		"ACCESSBOT_SLACK_CONNECTIONS": "1",
	}
	if m.configPath == "" {
		dir, err := os.MkdirTemp("", "accessbot-playground-")
		if err != nil {
			return fmt.Errorf("playground: temporary store: %w", err)
		}
		defer os.RemoveAll(dir)
		over["ACCESSBOT_STORE_DRIVER"] = "sqlite"
		over["ACCESSBOT_STORE_DSN"] = "file:" + filepath.Join(dir, "playground.db")
		setDefault(over, m.Env, "ACCESSBOT_LOG_LEVEL", "warn")
		setDefault(over, m.Env, "ACCESSBOT_LOG_FORMAT", "console")
		// The throwaway store's connector secrets (the receiver's signing
		// secret) are sealed with a throwaway key, unless one is set.
		setDefault(over, m.Env, "ACCESSBOT_ENCRYPTION_KEY", randomBase64(32))
	}
	// The example's chains deliver to a webhook receiver in this process,
	// whose deliveries the page shows.
	var hooks *receiver.Receiver
	if example {
		secret := "whsec_" + randomBase64(24)
		if hooks, err = receiver.New(secret, receiver.WithClock(clock.Now)); err != nil {
			return fmt.Errorf("playground: webhook receiver: %w", err)
		}
		hl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("playground: webhook receiver: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("POST /hooks/{endpoint}", hooks)
		hsrv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = hsrv.Serve(hl) }()
		defer hsrv.Close()
		addPlaygroundReceiver(f, "http://"+hl.Addr().String()+"/hooks/{endpoint}")
		addPlaygroundPlaybooks(f, "http://"+hl.Addr().String()+"/hooks/playbook")
		over[playgroundSecretEnv] = secret
	}
	// The bot is a second Main: same config path, the playground's clock
	// (which the page can run forward), the fake's tokens in its
	// environment, so `run` itself starts it.
	controls := &playgroundControls{clock: clock}
	botMain := &Main{
		Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: m.Stderr,
		Env: overlayEnv(over, m.Env), Now: clock.Now, Version: m.Version, Commit: m.Commit,
		configPath: m.configPath, ready: make(chan struct{}),
		schedulerStarted: func(s *schedule.Scheduler) {
			controls.mu.Lock()
			controls.sched = s
			controls.mu.Unlock()
		},
	}
	if controls.tenantID, err = botMain.applyPlaygroundTenant(ctx, f, example); err != nil {
		return err
	}

	runCtx, stopBot := context.WithCancel(ctx)
	defer stopBot()
	runErr := make(chan error, 1)
	go func() { runErr <- botMain.run(runCtx) }()
	stop := func() error {
		stopBot()
		return <-runErr
	}
	wait, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	select {
	case <-botMain.Ready():
	case err := <-runErr:
		return fmt.Errorf("playground: the bot did not start: %w", err)
	case <-wait.Done():
		return errors.Join(fmt.Errorf("playground: the bot did not start within 30s"), stop())
	}
	if err := fake.WaitForConnections(wait, 1); err != nil {
		return errors.Join(fmt.Errorf("playground: the bot did not connect to the fake Slack: %w", err), stop())
	}
	// The first digest at once, so #access-alerts shows one without waiting
	// for the schedule (the scheduler's first tick has already posted the
	// critical alerts and launched the review).
	if err := controls.RunNow(ctx, digest.Job); err != nil {
		return errors.Join(fmt.Errorf("playground: first digest: %w", err), stop())
	}

	cfg := playground.Config{Fake: fake, TeamID: team.ID, TeamName: teamName, People: people,
		Channels: playgroundChannels(f), Controls: controls, Start: playgroundStart(people, example)}
	if hooks != nil {
		cfg.Webhooks = hooks
	}
	pg, err := playground.New(cfg)
	if err != nil {
		return errors.Join(err, stop())
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return errors.Join(fmt.Errorf("playground: listen on %s (--listen): %w", listen, err), stop())
	}
	srv := &http.Server{Handler: pg, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	printPlaygroundBanner(m.Stdout, "http://"+ln.Addr().String()+"/", f, people, example)

	select {
	case <-ctx.Done():
	case err = <-served:
		err = fmt.Errorf("playground: serve: %w", err)
	case err = <-runErr:
		runErr <- err // stop() below reads it again
		err = fmt.Errorf("playground: the bot stopped: %w", err)
	}
	shut, cancelShut := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelShut()
	_ = srv.Shutdown(shut)
	if serr := stop(); serr != nil && err == nil {
		err = serr
	}
	return err
}

// playgroundStart is who the page shows first: with the example, James
// Okafor, who has the launched review and GitLab approvals to decide.
func playgroundStart(people []playground.Person, example bool) string {
	for _, p := range people {
		if example && p.Email == "james.okafor@acme.com" {
			return p.ID
		}
	}
	return ""
}

// playgroundChannels are the tenant's channels, named for the page: the
// alert channels (the first #access-alerts, as the Slack setup suggests),
// then the approvers' channels (named for their chain) and the routed
// channels (named for their chain or first application), so approval cards
// posted in a channel can be seen and clicked, and /access typed in a
// routed channel is routed.
func playgroundChannels(f *tenantfile.File) []playground.Channel {
	var out []playground.Channel
	seen := map[string]bool{}
	add := func(id, name string) {
		if id != "" && !seen[id] {
			seen[id] = true
			out = append(out, playground.Channel{ID: id, Name: name})
		}
	}
	if f.Alerts != nil {
		for i, id := range f.Alerts.Channels {
			name := "access-alerts"
			if i > 0 {
				name = fmt.Sprintf("access-alerts-%d", i+1)
			}
			add(id, name)
		}
	}
	for _, c := range f.Chains {
		for _, lv := range c.Levels {
			add(lv.Channel, c.Name+"-approvers")
		}
	}
	for _, r := range f.Routes {
		name := r.Chain
		if name == "" && len(r.Applications) > 0 {
			name = strings.ToLower(strings.ReplaceAll(r.Applications[0], " ", "-"))
		}
		add(r.Channel, name)
	}
	return out
}

// applyPlaygroundTenant applies the tenant file to the store `run` will
// open and, for the example tenant, imports its data. It returns the tenant id.
func (m *Main) applyPlaygroundTenant(ctx context.Context, f *tenantfile.File, example bool) (string, error) {
	cfg, log, err := m.boot()
	if err != nil {
		return "", err
	}
	st, err := m.openStore(ctx, cfg, log)
	if err != nil {
		return "", err
	}
	defer st.Close()
	keys, err := cfg.Keyring()
	if err != nil {
		return "", err
	}
	res, err := tenantfile.NewApplier(st, m.Now, log).WithSecrets(keys, m.Env).Apply(ctx, f, false)
	if err != nil {
		return "", fmt.Errorf("playground: apply %s: %w", f.Name, err)
	}
	if example {
		if err := importExampleData(ctx, st, res.TenantID, m.Now, log); err != nil {
			return "", err
		}
	}
	return res.TenantID, nil
}

// addPlaygroundPeople makes every tenant-file user a Slack user of team
// (id "U" + the email's local part, upper-cased), plus one guest whose
// email the tenant does not know.
func addPlaygroundPeople(fake *slackfake.Server, team string, users []tenantfile.User) ([]playground.Person, error) {
	var people []playground.Person
	taken := map[string]bool{playgroundGuestID: true}
	domain := "example.com"
	for _, u := range users {
		local, dom, _ := strings.Cut(u.Email, "@")
		if dom != "" {
			domain = dom
		}
		id := slackUserID(local)
		for n := 2; taken[id]; n++ {
			id = fmt.Sprintf("%s%d", slackUserID(local), n)
		}
		taken[id] = true
		if _, err := fake.AddUser(slackfake.User{ID: id, TeamID: team, Name: local, RealName: u.Name, Email: u.Email,
			IsAdmin: u.Role == accessbot.RoleAdmin}); err != nil {
			return nil, fmt.Errorf("playground: slack user for %s: %w", u.Email, err)
		}
		p := playground.Person{ID: id, Name: u.Name, Email: u.Email, Role: string(u.Role), Department: u.Department}
		switch {
		case u.Status == accessbot.UserTerminated:
			p.Note = "terminated: refused"
		case u.Role == accessbot.RoleAdmin:
			p.Note = "admin"
		}
		people = append(people, p)
	}
	guest := "sam.visitor@" + domain
	if _, err := fake.AddUser(slackfake.User{ID: playgroundGuestID, TeamID: team, Name: "sam.visitor", RealName: "Sam Visitor", Email: guest}); err != nil {
		return nil, fmt.Errorf("playground: guest slack user: %w", err)
	}
	return append(people, playground.Person{ID: playgroundGuestID, Name: "Sam Visitor", Email: guest,
		Note: "not in the tenant file: refused"}), nil
}

// slackUserID turns an email local part into a Slack-looking user id.
func slackUserID(local string) string {
	var b strings.Builder
	b.WriteByte('U')
	for _, r := range strings.ToUpper(local) {
		if (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
		if b.Len() >= 12 {
			break
		}
	}
	return b.String()
}

func overlayEnv(over map[string]string, base func(string) (string, bool)) func(string) (string, bool) {
	return func(k string) (string, bool) {
		if v, ok := over[k]; ok {
			return v, v != ""
		}
		if base == nil {
			return "", false
		}
		return base(k)
	}
}

// setDefault sets over[key] unless the environment already has it.
func setDefault(over map[string]string, env func(string) (string, bool), key, value string) {
	if env != nil {
		if _, ok := env(key); ok {
			return
		}
	}
	over[key] = value
}

// printPlaygroundBanner writes the banner in one write, so that a reader
// polling the output for the URL never sees half of it.
func printPlaygroundBanner(out io.Writer, url string, f *tenantfile.File, people []playground.Person, example bool) {
	w := &bytes.Buffer{}
	defer func() { _, _ = out.Write(w.Bytes()) }()
	fmt.Fprintf(w, "accessbot playground for %s (tenant %q) is ready.\n\n", f.Tenant.Name, f.Tenant.Slug)
	fmt.Fprintf(w, "Open %s\n\n", url)
	if example {
		fmt.Fprintf(w, `The example tenant is loaded with its data: AWS and GitLab accounts, groups and
who holds them, findings, the first findings digest in #access-alerts, and
%q launched
(James Okafor, whom the page shows first, and other managers have items to decide).

`, playgroundReviewName)
	}
	fmt.Fprintln(w, "You can be any of these Slack users (pick one at the top of the page):")
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	for _, p := range people {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", p.ID, p.Name, p.Email, p.Note)
	}
	_ = tw.Flush()
	fmt.Fprint(w, `
Things to try:
  /access help              as anyone: the command list
  Home tab                  who the bot thinks you are
  /access request           ask for access (type-ahead on the application), then
                            switch to the approver (your manager, or the owners) to approve
  /access mine, /access approvals, /access reviews
  #access-alerts            the findings digest and critical alerts; as an admin or
                            an owner, Run playbook on a finding: the page's Webhook
                            receiver shows the signed event, you see how it went
  Clock (on the right)      run time forward: reminders, escalations, expiry, digests
  any command as Sam Visitor: the refusal naming the unknown email
`)
	if example {
		fmt.Fprint(w, `  A grant that acts         as Sofia Rossi, request Slack @oncall for 3 minutes; as
                            James Okafor, Approve: the Webhook receiver shows the
                            grant's webhook, Omar Haddad presses Done on the manual
                            step, Sofia's request thread shows each step; she is
                            warned 2 minutes before the end, then the revoke webhook
`)
	}
	fmt.Fprint(w, `
Stop with Ctrl-C (the temporary store is removed).
`)
}

// playgroundConnector is the webhook connector of the example's chains,
// the playground's receiver; playgroundSecretEnv carries its signing secret
// from the playground to apply.
const (
	playgroundConnector = "playground"
	playgroundSecretEnv = "ACCESSBOT_PLAYGROUND_WEBHOOK_SECRET"
)

// addPlaygroundReceiver declares the example's playground connector: a
// webhook to url (the receiver in this process, allow-listed on loopback)
// signed with the secret in playgroundSecretEnv. It adds a 2-minute expiry
// notice, so a three-minute grant is warned about before it ends.
func addPlaygroundReceiver(f *tenantfile.File, url string) {
	f.Connectors = append(f.Connectors, tenantfile.ConnectorDecl{Name: playgroundConnector, Type: "webhook",
		Settings: map[string]string{"url": url}, Env: map[string]string{"signing_secret": playgroundSecretEnv}})
	if f.Outbound == nil {
		f.Outbound = &tenantfile.Outbound{}
	}
	f.Outbound.Allow = append(f.Outbound.Allow, "127.0.0.1")
	if f.Grants == nil {
		f.Grants = &tenantfile.Grants{ExpiryNotices: slices.Clone(grants.DefaultNotices)}
	}
	f.Grants.ExpiryNotices = append(f.Grants.ExpiryNotices, 2*time.Minute)
}

// Playbooks the playground declares, delivering to its receiver.
const (
	playgroundFindingsPlaybook = "playground-findings"
	playgroundReviewsPlaybook  = "playground-reviews"
)

// addPlaygroundPlaybooks declares two playbooks (docs/playbooks.md) that
// deliver to the playground's receiver at url, signed with its secret: a
// finding playbook, offered by "Run playbook" on the findings digest and
// the critical alerts, and a review playbook, which also gets every
// review decision. A request playbook would fire on every request and
// crowd the chain's own webhooks; try one with --tenant-file.
func addPlaygroundPlaybooks(f *tenantfile.File, url string) {
	f.Playbooks = append(f.Playbooks,
		tenantfile.PlaybookDecl{Name: playgroundFindingsPlaybook, Type: accessbot.PlaybookFinding, URL: url, Active: true,
			Description: "Receives the findings you send it with Run playbook (the page's Webhook receiver shows them)", SigningEnv: playgroundSecretEnv},
		tenantfile.PlaybookDecl{Name: playgroundReviewsPlaybook, Type: accessbot.PlaybookReview, URL: url, Active: true,
			Description: "Receives every review decision, and the review items you send it with Run playbook", SigningEnv: playgroundSecretEnv})
}

// randomBase64 is n random bytes, standard base64.
func randomBase64(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return base64.StdEncoding.EncodeToString(b)
}
