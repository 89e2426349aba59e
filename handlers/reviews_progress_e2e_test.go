package handlers_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/flows/reviews"
	"github.com/accessbot/accessbot/internal/report/pdftext"
)

// TestE2EReviewStatus: mia (level 1) decides two of her three items (keep
// bob's admins, revoke cat's admins); the campaign is late and she is
// escalated. The admin's `/access review status` shows the counts by
// reviewer and level, the late and escalated reviewer, and the revocation
// pending with the owner (no chain here); a member is refused; the admin's
// Home tab shows the campaign's progress.
func TestE2EReviewStatus(t *testing.T) {
	e := startReviews(t, "sqlite", 0)
	res, err := e.svc.Launch(e.ctx, reviews.LaunchInput{TenantID: e.tenant.ID, ActorID: e.users["ada"].ID, Name: "Q1 GitLab review",
		Scope: accessbot.ReviewScope{AppIDs: []string{e.gitlab.ID}}, Levels: []accessbot.ReviewerRule{accessbot.ReviewerManager, accessbot.ReviewerAppOwner},
		DueAt: rvNow.Add(24 * time.Hour)})
	must(t, err)
	var ds []reviews.ItemDecision
	for _, it := range e.pendingOf("mia") {
		switch {
		case it.Subject == "Cat":
			ds = append(ds, reviews.ItemDecision{ItemID: it.ID, Decision: accessbot.DecisionRevoke, Comment: "left the team"})
		case it.EntitlementName == "admins":
			ds = append(ds, reviews.ItemDecision{ItemID: it.ID, Decision: accessbot.DecisionKeep})
		}
	}
	_, err = e.svc.Decide(e.ctx, reviews.DecideInput{TenantID: e.tenant.ID, ActorID: e.users["mia"].ID, Decisions: ds})
	must(t, err)
	_, err = e.svc.Tick(e.ctx, e.tenant.ID, res.Campaign.DueAt.Add(72*time.Hour))
	must(t, err)

	if a := e.command("bob", "review status Q1 GitLab review"); !strings.Contains(a.Text, "Only accessbot admins and the campaign's owner") {
		t.Fatalf("a member's status answered %q", a.Text)
	}
	if a := e.command("ada", "review status Nope"); !strings.Contains(a.Text, `no campaign named "Nope"`) {
		t.Fatalf("an unknown campaign answered %q", a.Text)
	}
	a := e.ack(e.fake.SendSlashCommand(e.fake.SlashCommand(e.team.ID, rvSlack("ada"), "review status q1 gitlab review")))
	if a.Text != "Q1 GitLab review: 2 decided, 2 pending (1 kept, 1 revoked)" {
		t.Fatalf("status text %q", a.Text)
	}
	var full struct {
		Blocks []struct {
			Text struct {
				Text string `json:"text"`
			} `json:"text"`
		} `json:"blocks"`
	}
	// The ack carries the blocks: read them again from the raw payload.
	raw, err := e.fake.AwaitAck(e.ctx, e.fake.SendSlashCommand(e.fake.SlashCommand(e.team.ID, rvSlack("ada"), "review status Q1 GitLab review")))
	must(t, err)
	must(t, json.Unmarshal(raw.Payload, &full))
	var texts []string
	for _, b := range full.Blocks {
		texts = append(texts, b.Text.Text)
	}
	got := strings.Join(texts, "\n")
	for _, want := range []string{
		"• Level 1, Mia: 2 decided, 1 pending (escalated)",
		"• Level 2, Olga: 0 decided, 1 pending",
		"Escalated: Mia",
		"*Revocations*: 1 pending with the owner",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("status lacks %q:\n%s", want, got)
		}
	}

	e.fake.SendEvent(e.fake.AppHomeOpened(e.team.ID, rvSlack("ada")))
	if err := e.fake.WaitFor(e.ctx, func() bool {
		v, ok := e.fake.HomeView(rvSlack("ada"))
		return ok && strings.Contains(string(v.JSON), "Access reviews in progress") && strings.Contains(string(v.JSON), "1 revocation(s) not yet carried out")
	}); err != nil {
		t.Fatal("the admin's Home tab never showed the campaign's progress")
	}
	e.fake.SendEvent(e.fake.AppHomeOpened(e.team.ID, rvSlack("mia")))
	if err := e.fake.WaitFor(e.ctx, func() bool { _, ok := e.fake.HomeView(rvSlack("mia")); return ok }); err != nil {
		t.Fatal(err)
	}
	if v, _ := e.fake.HomeView(rvSlack("mia")); strings.Contains(string(v.JSON), "Access reviews in progress") {
		t.Fatal("a member's Home tab shows every campaign's progress")
	}
}

// TestE2EReportsInSlack: reports arrive as a file in the asker's DM, for
// those allowed to see them: everyone their own access, the campaign's
// owner and admins a campaign, admins the requests and anyone's access. A
// member asking for someone else's report is refused and gets no file.
func TestE2EReportsInSlack(t *testing.T) {
	e := startReviews(t, "sqlite", 0)
	_, err := e.svc.Launch(e.ctx, reviews.LaunchInput{TenantID: e.tenant.ID, ActorID: e.users["ada"].ID, Name: "Q1 GitLab review",
		Scope: accessbot.ReviewScope{AppIDs: []string{e.gitlab.ID}}, Levels: []accessbot.ReviewerRule{accessbot.ReviewerManager},
		DueAt: rvNow.Add(24 * time.Hour)})
	must(t, err)
	conn := &accessbot.Connection{TenantID: e.tenant.ID, AppID: e.gitlab.ID, Name: "devs", Type: "group"}
	must(t, e.st.CreateConnection(e.ctx, conn))
	must(t, e.st.CreateEntitlement(e.ctx, &accessbot.Entitlement{TenantID: e.tenant.ID, UserID: e.users["bob"].ID, ConnectionID: conn.ID, GrantedAt: rvNow}))

	for _, tc := range []struct{ user, text, want string }{
		{"bob", "report access ada@acme.test", "your own access report only"},
		{"bob", "report access <mailto:ada@acme.test|ada@acme.test>", "your own access report only"},
		{"bob", "report access nobody@acme.test", "your own access report only"},
		{"mia", "report campaign Q1 GitLab review", "Only accessbot admins and the campaign's owner"},
		{"bob", "report requests 2026-01-01", "Only accessbot admins"},
		{"ada", "report requests yesterday", "is not a date"},
		{"ada", "report", "Try `/access report access`"},
	} {
		if a := e.command(tc.user, tc.text); !strings.Contains(a.Text, tc.want) {
			t.Errorf("%s: %q answered %q, want %q", tc.user, tc.text, a.Text, tc.want)
		}
	}
	if n := len(e.fake.Files()); n != 0 {
		t.Fatalf("%d files sent for refused reports", n)
	}

	type sent struct{ user, text, file, want string }
	for i, tc := range []sent{
		{"bob", "report access", ".pdf", "Access held by Bob <bob@acme.test>"},
		{"ada", "report access bob@acme.test csv", ".csv", "GitLab,devs,group,2026-03-02T09:00:00Z,permanent,imported (held before accessbot),held"},
		{"ada", "report campaign Q1 GitLab review csv", ".csv", "item,level,subject,application,entitlement"},
		{"ada", "report requests 2026-01-01", ".pdf", "Access requests"},
	} {
		a := e.command(tc.user, tc.text)
		if !strings.Contains(a.Text, "I sent you") {
			t.Fatalf("%s: %q answered %q", tc.user, tc.text, a.Text)
		}
		files := e.fake.Files()
		if len(files) != i+1 {
			t.Fatalf("%d files after %q", len(files), tc.text)
		}
		f := files[i]
		if !f.Shared || f.Channel != slackfake.DMChannel(rvSlack(tc.user)) || !strings.HasSuffix(f.Name, tc.file) {
			t.Fatalf("%q: file %+v, want it in %s's DM", tc.text, f, tc.user)
		}
		if i == 0 && !strings.HasPrefix(f.InitialComment, "Access held by Bob &lt;bob@acme.test&gt; (") {
			t.Fatalf("the file's comment %q: the title is data, escaped", f.InitialComment)
		}
		text := string(f.Content)
		if tc.file == ".pdf" {
			doc, err := pdftext.Read(f.Content)
			must(t, err)
			text = doc.Text()
		}
		if !strings.Contains(text, tc.want) {
			t.Errorf("%q: the file lacks %q:\n%s", tc.text, tc.want, text)
		}
	}
}
