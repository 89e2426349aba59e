package tenantfile

import (
	"strings"
	"testing"
)

// issue6Sections are the top-level keys the rules, schedules, campaigns and
// reviews tests write themselves.
var issue6Sections = []string{"rules", "alerts", "schedules", "campaigns", "reviews"}

// baseYAML is the example tenant file without issue6Sections, so those
// tests append their own sections whatever the example declares.
func baseYAML(t *testing.T) []byte {
	t.Helper()
	var out []string
	skip := false
	for _, l := range strings.SplitAfter(string(exampleYAML(t)), "\n") {
		top := l != "" && l[0] != ' ' && l[0] != '#' && l[0] != '\n'
		if top {
			key, _, _ := strings.Cut(l, ":")
			skip = false
			for _, s := range issue6Sections {
				skip = skip || key == s
			}
		}
		if !skip {
			out = append(out, l)
		}
	}
	return []byte(strings.Join(out, ""))
}
