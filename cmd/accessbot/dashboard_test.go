package main

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"gopkg.in/yaml.v3"

	"github.com/accessbot/accessbot/bot"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/internal/metrics"
	"github.com/accessbot/accessbot/jobs"
)

// servedFamilies are the metric families `accessbot run` registers (run.go,
// requests.go, slack.go, internal/httpserver), with their label names.
func servedFamilies(t *testing.T) map[string][]string {
	t.Helper()
	var q jobs.Queue
	cs := append(metrics.All(), q.Collector(), requests.StateCollector(nil), socketsGauge(func() int { return 0 }),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewDBStatsCollector(nil, "store"))
	cs = append(cs, (&bot.Dispatcher{}).Collectors()...)
	// Desc keeps its name and labels to itself; its String shows them.
	re := regexp.MustCompile(`fqName: "([^"]+)".*variableLabels: \{([^}]*)\}`)
	out := map[string][]string{}
	for _, c := range cs {
		ch := make(chan *prometheus.Desc, 100)
		c.Describe(ch)
		close(ch)
		for d := range ch {
			m := re.FindStringSubmatch(d.String())
			if m == nil {
				t.Fatalf("cannot read %s", d)
			}
			var labels []string
			if m[2] != "" {
				labels = strings.Split(m[2], ",")
			}
			out[m[1]] = labels
		}
	}
	return out
}

var (
	metricName = regexp.MustCompile(`\b(?:accessbot|go|process)_[a-z0-9_]+`)
	selector   = regexp.MustCompile(`\b((?:accessbot|go|process)_[a-z0-9_]+)\{([^}]*)\}`)
	matcher    = regexp.MustCompile(`([a-z_]+)\s*(?:=~|!~|!=|=)`)
	grouping   = regexp.MustCompile(`\b(?:by|without)\s*\(([^)]*)\)`)
)

// family maps a sample name to its family: a histogram's _bucket, _count
// and _sum belong to it.
func family(name string, served map[string][]string) (string, bool) {
	if _, ok := served[name]; ok {
		return name, true
	}
	for _, suf := range []string{"_bucket", "_count", "_sum"} {
		if base, ok := strings.CutSuffix(name, suf); ok {
			if _, ok := served[base]; ok {
				return base, true
			}
		}
	}
	return "", false
}

// checkExpr fails t for a metric name the binary does not serve, or a label
// its family does not have; it returns the families used.
func checkExpr(t *testing.T, where, expr string, served map[string][]string) []string {
	t.Helper()
	var used []string
	for _, name := range metricName.FindAllString(expr, -1) {
		f, ok := family(name, served)
		if !ok {
			t.Errorf("%s: %s is not a metric accessbot serves: %s", where, name, expr)
			continue
		}
		used = append(used, f)
	}
	for _, m := range selector.FindAllStringSubmatch(expr, -1) {
		f, ok := family(m[1], served)
		if !ok {
			continue
		}
		labels := served[f]
		if strings.HasSuffix(m[1], "_bucket") {
			labels = append(slices.Clone(labels), "le")
		}
		for _, l := range matcher.FindAllStringSubmatch(m[2], -1) {
			if !slices.Contains(labels, l[1]) && l[1] != "instance" && l[1] != "job" {
				t.Errorf("%s: %s has no label %q (it has %v): %s", where, m[1], l[1], labels, expr)
			}
		}
	}
	// by (...) labels must exist on some family of the expression.
	for _, g := range grouping.FindAllStringSubmatch(expr, -1) {
		for _, l := range strings.Split(g[1], ",") {
			l = strings.TrimSpace(l)
			if l == "" || l == "le" || l == "instance" || l == "job" {
				continue
			}
			found := false
			for _, f := range used {
				found = found || slices.Contains(served[f], l)
			}
			if !found {
				t.Errorf("%s: grouping by %q, a label none of %v has: %s", where, l, used, expr)
			}
		}
	}
	return used
}

// TestDashboardAlertsAndDocsNameServedMetrics: every query of the Grafana
// dashboard and every alert rule names metrics (and labels) that
// `accessbot run` serves; the dashboard charts every accessbot family but
// the Home cache's internals; docs/operations.md documents every one.
func TestDashboardAlertsAndDocsNameServedMetrics(t *testing.T) {
	served := servedFamilies(t)
	b, err := os.ReadFile("../../deploy/grafana/accessbot.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []panel `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	charted := map[string]bool{}
	exprs := 0
	var walk func(ps []panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			for _, tg := range p.Targets {
				exprs++
				for _, f := range checkExpr(t, "dashboard panel "+p.Title, tg.Expr, served) {
					charted[f] = true
				}
			}
			walk(p.Panels)
		}
	}
	walk(dash.Panels)

	b, err = os.ReadFile("../../deploy/prometheus/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &rules); err != nil {
		t.Fatalf("alerts: %v", err)
	}
	alerts := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			alerts++
			if len(checkExpr(t, "alert "+r.Alert, r.Expr, served)) == 0 {
				t.Errorf("alert %s names no accessbot metric: %s", r.Alert, r.Expr)
			}
		}
	}

	docs, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	// The Home cache's own counters explain a Home that is slow to open;
	// they are documented, not charted.
	notCharted := map[string]bool{"accessbot_home_version_reads_total": true, "accessbot_home_version_drops_total": true}
	for name := range served {
		if !strings.HasPrefix(name, "accessbot_") {
			continue
		}
		if !charted[name] && !notCharted[name] {
			t.Errorf("the dashboard charts no %s", name)
		}
		if !strings.Contains(string(docs), "| `"+name+"` |") {
			t.Errorf("docs/operations.md's metrics table has no row for %s", name)
		}
	}
	t.Logf("[counts] dashboard: %d queries, alerts: %d rules, served accessbot families: %d, charted: %d", exprs, alerts,
		len(slices.DeleteFunc(slices.Collect(func(yield func(string) bool) {
			for n := range served {
				if !yield(n) {
					return
				}
			}
		}), func(n string) bool { return !strings.HasPrefix(n, "accessbot_") })), len(charted))
}

type panel struct {
	Title   string  `json:"title"`
	Panels  []panel `json:"panels"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
}
