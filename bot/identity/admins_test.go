package identity_test

import (
	"testing"

	"github.com/accessbot/accessbot/bot/identity"
)

func TestAdminsWords(t *testing.T) {
	for _, tc := range []struct {
		name   string
		admins []identity.Admin
		want   string
	}{
		{"none", nil, ""},
		{"one mention", []identity.Admin{{Name: "Ada", Email: "ada@x.test", SlackUserID: "U1"}}, "<@U1>"},
		{"mention and name", []identity.Admin{{Name: "Ada", SlackUserID: "U1"}, {Name: "Bo", Email: "bo@x.test"}}, "<@U1> or Bo (bo@x.test)"},
		{"three, email only, escaped", []identity.Admin{{SlackUserID: "U1"}, {Email: "c@x.test"}, {Name: "D <&> E", Email: "d@x.test"}},
			"<@U1>, c@x.test or D &lt;&amp;&gt; E (d@x.test)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := identity.AdminsWords(tc.admins); got != tc.want {
				t.Fatalf("AdminsWords = %q, want %q", got, tc.want)
			}
		})
	}
}
