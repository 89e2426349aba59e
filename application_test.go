package accessbot_test

import (
	"testing"

	"github.com/accessbot/accessbot"
)

// TestApplicationOwnedBy is the one owner check of the digest's finding
// buttons, the playbook menus and manual provisioning steps.
func TestApplicationOwnedBy(t *testing.T) {
	both := &accessbot.Application{PrimaryOwnerID: "olga", SecondaryOwnerID: "sam"}
	one := &accessbot.Application{PrimaryOwnerID: "olga"}
	none := &accessbot.Application{}
	for _, tc := range []struct {
		name string
		app  *accessbot.Application
		user string
		want bool
	}{
		{"primary owner", both, "olga", true},
		{"secondary owner", both, "sam", true},
		{"someone else", both, "cy", false},
		{"only owner", one, "olga", true},
		{"no one, no secondary owner", one, "", false},
		{"no one, no owners", none, "", false},
		{"someone, no owners", none, "cy", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.app.OwnedBy(tc.user); got != tc.want {
				t.Errorf("OwnedBy(%q) of %+v = %v, want %v", tc.user, tc.app, got, tc.want)
			}
		})
	}
}
