package bot_test

import (
	"io"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot/bot"
)

func TestNewManagerValidates(t *testing.T) {
	d, err := bot.NewDispatcher(bot.DispatcherConfig{Router: bot.NewRouter(), Resolver: &stubResolver{}, Clients: bot.ClientsFunc(nil)})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		cfg  bot.ManagerConfig
		want string // "" = ok
	}{
		{"defaults", bot.ManagerConfig{AppToken: "xapp-1"}, ""},
		{"ten", bot.ManagerConfig{AppToken: "xapp-1", Connections: 10}, ""},
		{"eleven", bot.ManagerConfig{AppToken: "xapp-1", Connections: 11}, "slack.connections is 11, want 1 to 10"},
		{"negative", bot.ManagerConfig{AppToken: "xapp-1", Connections: -1}, "want 1 to 10"},
		{"bot token as app token", bot.ManagerConfig{AppToken: "xoxb-1"}, "must be an app-level token starting with xapp-"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := bot.NewManager(c.cfg, d, zerolog.New(io.Discard))
			switch {
			case c.want == "" && err != nil:
				t.Fatal(err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("err = %v, want %q", err, c.want)
			}
		})
	}
}
