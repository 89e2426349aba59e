package reviews_test

import (
	"errors"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/reviews"
)

// TestStopRepeatRefusals: only an admin stops, only a Slack-started repeat
// (a file campaign is the file's to drop), and an unknown name is
// ErrNotFound; each refusal leaves the definitions as they were.
func TestStopRepeatRefusals(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		defs := []accessbot.CampaignDefinition{
			{Name: "From file", Levels: []accessbot.ReviewerRule{accessbot.ReviewerManager}, Cron: "0 9 1 * *", TimeZone: "UTC", DueAfter: 24 * time.Hour},
			{Name: "From Slack", Levels: []accessbot.ReviewerRule{accessbot.ReviewerManager}, Cron: "0 9 1 * *", TimeZone: "UTC", DueAfter: 24 * time.Hour,
				Source: accessbot.CampaignSourceSlack},
		}
		f.must(f.st.ReplaceCampaignDefinitions(f.ctx, f.ten.ID, defs))
		for _, tc := range []struct {
			actor, name string
			want        error
		}{
			{"olga", "From Slack", reviews.ErrForbidden},
			{"ada", "From file", reviews.ErrFileManaged},
			{"ada", "Nothing", accessbot.ErrNotFound},
		} {
			if _, err := f.svc.StopRepeat(f.ctx, f.ten.ID, f.u[tc.actor].ID, tc.name); !errors.Is(err, tc.want) {
				t.Fatalf("%s stops %q: %v, want %v", tc.actor, tc.name, err, tc.want)
			}
		}
		got, err := f.st.ListCampaignDefinitions(f.ctx, f.ten.ID)
		f.must(err)
		if len(got) != 2 {
			t.Fatalf("refused stops left %+v", got)
		}
		name, err := f.svc.StopRepeat(f.ctx, f.ten.ID, f.u["ada"].ID, "from slack")
		f.must(err)
		got, err = f.st.ListCampaignDefinitions(f.ctx, f.ten.ID)
		f.must(err)
		if name != "From Slack" || len(got) != 1 || got[0].Name != "From file" {
			t.Fatalf("stopped %q, left %+v", name, got)
		}
	})
}
