package main

import (
	"errors"
	"strings"
	"testing"
)

func TestSummarize(t *testing.T) {
	const (
		pass = `{"Action":"run","Package":"p","Test":"TestA"}
{"Action":"output","Package":"p","Test":"TestA","Output":"=== RUN   TestA\n"}
{"Action":"output","Package":"p","Test":"TestA","Output":"--- PASS: TestA (0.00s)\n"}
{"Action":"pass","Package":"p","Test":"TestA"}
`
		skipPG = `{"Action":"output","Package":"p","Test":"TestPG%d","Output":"=== RUN   TestPG%d\n"}
{"Action":"output","Package":"p","Test":"TestPG%d","Output":"redis: 2026/12/04 21:08:1%d pool.go:770: failed to dial\n"}
{"Action":"output","Package":"p","Test":"TestPG%d","Output":"*** POSTGRES NOT REACHABLE *** (printed to stderr too)\n"}
{"Action":"output","Package":"p","Test":"TestPG%d","Output":"    testenv.go:40: *** POSTGRES NOT REACHABLE ***\n"}
{"Action":"output","Package":"p","Test":"TestPG%d","Output":"--- SKIP: TestPG%d (0.00s)\n"}
{"Action":"skip","Package":"p","Test":"TestPG%d"}
`
		counted = `{"Action":"output","Package":"p","Test":"TestKill","Output":"    kill_test.go:9: [counts] kills 30, duplicated 0\n"}
{"Action":"output","Package":"p","Test":"TestKill","Output":"    kill_test.go:10: noise\n"}
{"Action":"pass","Package":"p","Test":"TestKill"}
`
		pkgOK = `{"Action":"output","Package":"p","Output":"PASS\n"}
{"Action":"output","Package":"p","Output":"ok  \tp\t0.1s\n"}
{"Action":"pass","Package":"p"}
`
		fail = `{"Action":"output","Package":"q","Test":"TestB","Output":"=== RUN   TestB\n"}
{"Action":"output","Package":"q","Test":"TestB","Output":"    b_test.go:9: want 2, got 3\n"}
{"Action":"output","Package":"q","Test":"TestB","Output":"--- FAIL: TestB (0.00s)\n"}
{"Action":"fail","Package":"q","Test":"TestB"}
{"Action":"output","Package":"q","Output":"FAIL\n"}
{"Action":"output","Package":"q","Output":"FAIL\tq\t0.1s\n"}
{"Action":"fail","Package":"q"}
`
		noTests = `{"Action":"output","Package":"r","Output":"?   \tr\t[no test files]\n"}
{"Action":"skip","Package":"r"}
`
		buildFail = `{"ImportPath":"s [s.test]","Action":"build-output","Output":"s/x.go:3:1: syntax error\n"}
{"ImportPath":"s [s.test]","Action":"build-fail"}
{"Action":"output","Package":"s","Output":"FAIL\ts [build failed]\n"}
{"Action":"fail","Package":"s"}
`
	)
	skips := func(n int) string {
		var b strings.Builder
		for i := range n {
			b.WriteString(strings.ReplaceAll(skipPG, "%d", string(rune('0'+i))))
		}
		return b.String()
	}
	cases := []struct {
		name    string
		in      string
		failed  bool
		want    []string
		wantNot []string
	}{
		{"counts of a passing test", counted + pkgOK, false,
			[]string{"counted (p TestKill): kills 30, duplicated 0", "tests: 1 passed"},
			[]string{"noise"}},
		{"all pass", pass + pkgOK, false,
			[]string{"ok  \tp\t0.1s", "tests: 1 passed, 0 failed, 0 skipped"},
			[]string{"=== RUN", "--- PASS", "skipped "}},
		{"skips grouped by reason", pass + skips(5) + `{"Action":"output","Package":"p","Test":"TestLoad","Output":"    load_test.go:518: load test: set ACCESSBOT_LOAD=1 to run it\n"}
{"Action":"skip","Package":"p","Test":"TestLoad"}
` + pkgOK, false,
			[]string{"tests: 1 passed, 0 failed, 6 skipped",
				"skipped 5: *** POSTGRES NOT REACHABLE ***\n    p TestPG0\n    p TestPG1\n    p TestPG2\n    … and 2 more",
				"skipped 1: load test: set ACCESSBOT_LOAD=1 to run it\n    p TestLoad"},
			[]string{"testenv.go:40", "pool.go", "printed to stderr"}},
		{"a failure shows its output and fails", pass + pkgOK + fail, true,
			[]string{"b_test.go:9: want 2, got 3", "--- FAIL: TestB", "FAIL\tq\t0.1s", "tests: 1 passed, 1 failed, 0 skipped"},
			nil},
		{"packages without tests are not skips", noTests + pass + pkgOK, false,
			[]string{"tests: 1 passed, 0 failed, 0 skipped"}, []string{"no test files"}},
		{"build failure", buildFail, true,
			[]string{"s/x.go:3:1: syntax error", "FAIL\ts [build failed]"}, nil},
		{"a panic in a running test", `{"Action":"output","Package":"q","Test":"TestC","Output":"=== RUN   TestC\n"}
{"Action":"output","Package":"q","Test":"TestC","Output":"panic: boom\n"}
{"Action":"output","Package":"q","Output":"FAIL\tq\t0.1s\n"}
{"Action":"fail","Package":"q"}
`, true, []string{"panic: boom", "FAIL\tq"}, nil},
		{"lines that are not JSON are shown", "# p\nsomething odd\n" + pass + pkgOK, false,
			[]string{"something odd"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out strings.Builder
			err := summarize(strings.NewReader(tc.in), &out)
			if tc.failed != errors.Is(err, errFailed) {
				t.Errorf("err = %v, want failed=%v", err, tc.failed)
			}
			if !tc.failed && err != nil {
				t.Errorf("err = %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			for _, w := range tc.wantNot {
				if strings.Contains(out.String(), w) {
					t.Errorf("output has %q:\n%s", w, out.String())
				}
			}
		})
	}
}

func TestSummarizeNeedsEvents(t *testing.T) {
	if err := summarize(strings.NewReader(""), new(strings.Builder)); err == nil {
		t.Fatal("empty input accepted: a run that printed nothing must not pass")
	}
}
