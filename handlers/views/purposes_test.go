package views_test

import (
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot/bot/blockkit"
	"github.com/accessbot/accessbot/handlers/views"
)

func purposeLines() []views.PurposeLine {
	until := time.Date(2026, 12, 5, 17, 30, 0, 0, time.UTC)
	return []views.PurposeLine{
		{ID: "p1", Name: "oncall-db", Description: "On-call database access", Entitlements: []string{"Postgres / readers", "Grafana / Editors"},
			Max: 4 * time.Hour, Assigned: true, Session: &views.SessionLine{ID: "s1", Purpose: "oncall-db", Until: until}},
		{ID: "p2", Name: "finance-close", Description: "Quarter-end <close> *fast*", Entitlements: []string{"NetSuite / Controller"},
			Max: 24 * time.Hour, Assigned: true, StartApproved: true},
		{ID: "p3", Name: "prod-debug", Entitlements: []string{"AWS / PowerUserAccess"}, Max: 2 * time.Hour},
	}
}

func TestPurposesGolden(t *testing.T) {
	ps := purposeLines()
	text, blocks := views.PurposesList(ps)
	checkMsg(t, "purposes_list", text, blocks)
	text, blocks = views.PurposesList(nil)
	checkMsg(t, "purposes_list_empty", text, blocks)
	home := slack.HomeTabViewRequest{Type: slack.VTHomeTab, Blocks: slack.Blocks{BlockSet: views.HomePurposes(ps)}}
	if err := blockkit.ValidateHome(home); err != nil {
		t.Fatal(err)
	}
	golden(t, "home_purposes", home)
	if views.HomePurposes(ps[2:]) != nil {
		t.Fatal("the Home tab shows purposes the viewer is not assigned to")
	}
	checkModal(t, "purpose_start_modal", views.StartModal(ps[1], 2*time.Hour, "month-end close"))
	checkModal(t, "purpose_assign_modal", views.AssignModal(ps[2]))
	checkModal(t, "session_extend_modal", views.ExtendSessionModal(*ps[0].Session, views.DurationChoices(90*time.Minute), false))
	checkModal(t, "session_extend_approval_modal", views.ExtendSessionModal(*ps[0].Session, views.DurationChoices(90*time.Minute), true))
	s := *ps[0].Session
	s.Holder, s.Reason = "Rita", "incident 4711"
	checkModal(t, "session_stop_modal", views.StopSessionModal(s))
	ending := s
	ending.ID, ending.Ending = "s2", true
	text, blocks = views.SessionsList([]views.SessionLine{s, ending})
	checkMsg(t, "sessions_list", text, blocks)
}

func TestDurationChoices(t *testing.T) {
	for _, tc := range []struct {
		max  time.Duration
		want string
	}{
		{4 * time.Hour, "15m0s 30m0s 1h0m0s 2h0m0s 4h0m0s"},
		{90 * time.Minute, "15m0s 30m0s 1h0m0s 1h30m0s"},
		{30 * time.Second, ""},
	} {
		var got []string
		for _, d := range views.DurationChoices(tc.max) {
			got = append(got, d.String())
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("DurationChoices(%s) = %v, want %s", tc.max, got, tc.want)
		}
	}
}

func TestSessionEndedWords(t *testing.T) {
	s := views.SessionLine{Holder: "Rita", Purpose: "oncall-db"}
	for _, tc := range []struct {
		by, reason string
		expired    bool
		want       string
	}{
		{"system", "expired", true, "Rita's *oncall-db* reached its end"},
		{"Rita", "stopped", false, "Rita stopped *oncall-db*"},
		{"Ada", "incident closed", false, "Ada stopped Rita's *oncall-db*: incident closed."},
	} {
		if got := views.SessionEnded(s, tc.by, tc.reason, tc.expired); !strings.Contains(got, tc.want) {
			t.Errorf("SessionEnded(%s, %s) = %q, want %q in it", tc.by, tc.reason, got, tc.want)
		}
	}
}
