package requests_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/requests"
)

// The server accepts exactly what the request forms' text boxes allow
// (their max_length) and its message names the same limits.
func TestJustificationLimitsMatchTheForms(t *testing.T) {
	const formMax, connFormMax = 1500, 1000 // views: the justification boxes' max_length
	forEachDriver(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver, requests.Policy{})
		f.chain("default", false, "", level(accessbot.RuleAny, kind(accessbot.ApproverOwners)))
		ua := f.userAccess()
		ua.Justification = strings.Repeat("é", formMax)
		if _, err := f.svc.Prepare(f.ctx, ua); err != nil {
			t.Fatalf("justification of %d characters (the form's max_length): %v", formMax, err)
		}
		ua.Justification += "é"
		want := fmt.Sprintf("Say why access is needed, in 10 to %d characters.", formMax)
		if got := fieldErrors(t, mustFail(f.svc.Prepare(f.ctx, ua)))[requests.FieldJustification]; got != want {
			t.Fatalf("justification of %d characters: %q, want %q", formMax+1, got, want)
		}

		cc := requests.ConnectionCreate{TenantID: f.tenant.ID, RequesterID: f.u["alice"].ID, AppID: f.app.ID,
			Name: "ops", Type: "group", Fields: map[string]string{"visibility": "private"}, Justification: strings.Repeat("é", connFormMax)}
		if _, err := f.svc.Prepare(f.ctx, cc); err != nil {
			t.Fatalf("connection justification of %d characters: %v", connFormMax, err)
		}
		cc.Justification += "é"
		want = fmt.Sprintf("Keep the justification to %d characters at most.", connFormMax)
		if got := fieldErrors(t, mustFail(f.svc.Prepare(f.ctx, cc)))[requests.FieldJustification]; got != want {
			t.Fatalf("connection justification of %d characters: %q, want %q", connFormMax+1, got, want)
		}
	})
}

func mustFail[T any](_ T, err error) error { return err }
