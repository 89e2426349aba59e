package views_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/blockkit"
	"github.com/accessbot/accessbot/handlers/views"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json")

// golden compares v's JSON with testdata/name.golden.json.
func golden(t *testing.T, name string, v any) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", name+".golden.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden file (go test -update rewrites it):\n%s", name, got)
	}
}

var tenant = accessbot.Tenant{ID: "t1", Slug: "acme", Name: "Acme & Co"}

func TestHomeGolden(t *testing.T) {
	cases := []struct {
		name string
		user accessbot.User
	}{
		{"home_admin", accessbot.User{Email: "ada@acme.test", Name: "Ada Lovelace", Role: accessbot.RoleAdmin, Department: "Engineering"}},
		{"home_member", accessbot.User{Email: "bob@acme.test", Name: "", Role: accessbot.RoleMember}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := views.Home(views.HomeInfo{Tenant: tenant, User: c.user})
			if err := blockkit.ValidateHome(v); err != nil {
				t.Fatal(err)
			}
			golden(t, c.name, v)
		})
	}
}

func TestUnlinkedHomeGolden(t *testing.T) {
	cases := []struct {
		name string
		info views.UnlinkedInfo
	}{
		{"home_unlinked", views.UnlinkedInfo{Reason: "No accessbot user has the email eve@acme.test that Slack reports for you.", Email: "eve@acme.test",
			Admins: "<@UADA> or Bo (bo@acme.test)"}},
		{"home_no_email", views.UnlinkedInfo{Reason: "Slack shows accessbot no email for you."}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := views.UnlinkedHome(c.info)
			if err := blockkit.ValidateHome(v); err != nil {
				t.Fatal(err)
			}
			golden(t, c.name, v)
		})
	}
}

func TestUnlinkedHomeLongReasonStaysValid(t *testing.T) {
	v := views.UnlinkedHome(views.UnlinkedInfo{Reason: strings.Repeat("<&>", 2000), Email: strings.Repeat("x", 5000)})
	if err := blockkit.ValidateHome(v); err != nil {
		t.Fatal(err)
	}
}

func TestHelpGolden(t *testing.T) {
	text, blocks := views.Help(views.Command, []views.HelpEntry{
		{Usage: "help", Description: "Show this list."},
		{Usage: "mine", Description: "Your access & open requests."},
	})
	if err := blockkit.ValidateMessageText(text, blocks); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "/access help") {
		t.Fatalf("help text %q does not name /access help", text)
	}
	golden(t, "help", struct {
		Text   string        `json:"text"`
		Blocks []slack.Block `json:"blocks"`
	}{text, blocks})
}
