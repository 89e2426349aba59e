package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// A command given too few or too many arguments says what it expects,
// not cobra's "accepts 1 arg(s), received 0".
func TestArgumentErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"import", "users"}, "import users: missing FILE.csv (usage: accessbot import users FILE.csv [flags])"},
		{[]string{"import", "users", "a.csv", "b.csv"}, `import users: unexpected argument "b.csv": it takes FILE.csv (usage: accessbot import users FILE.csv [flags])`},
		{[]string{"import", "identities"}, "import identities: missing APP and FILE.csv (usage: accessbot import identities APP FILE.csv [flags])"},
		{[]string{"import", "relations", "AWS"}, "import relations: missing FILE.csv (usage: accessbot import relations APP FILE.csv [flags])"},
		{[]string{"import", "mappings"}, "import mappings: missing FILE.csv (usage: accessbot import mappings FILE.csv [flags])"},
		{[]string{"findings", "import"}, "findings import: missing FILE.json (usage: accessbot findings import FILE.json [flags])"},
		{[]string{"apply", "tenant.yaml"}, `apply: unexpected argument "tenant.yaml": it takes none (usage: accessbot apply -f FILE [flags])`},
		{[]string{"migrate", "now"}, `migrate: unexpected argument "now": it takes none (usage: accessbot migrate [flags])`},
		{[]string{"run", "now"}, `run: unexpected argument "now": it takes none (usage: accessbot run [flags])`},
		{[]string{"findings", "list", "open"}, `findings list: unexpected argument "open": it takes none`},
		{[]string{"import", "userz"}, `unknown command "userz" for "accessbot import"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			m, _, _ := testMain(nil)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := m.Run(ctx, tt.args)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v\nwant it to contain %s", err, tt.want)
			}
		})
	}
}
