package provision

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// FuzzScriptTemplate feeds any template source (and any value for the
// fields people type: names, the justification, an earlier step's output)
// to the checks `apply` runs and to the rendering a step's job does. Never
// a panic nor a hang: every call returns within 5 s on a loaded machine (the
// limits in check.go); a template the check accepts renders over the sample
// fields, and over 40 approvers within MaxTemplateOutput. The corpus is in
// testdata/fuzz/FuzzScriptTemplate: the templates of docs/provisioning.md
// and the ones that hung before the limits.
func FuzzScriptTemplate(f *testing.F) {
	for _, src := range []string{
		"Add {{.Target.Email}} to {{.Connection.Name}}",
		"Approved by {{range .Approvers}}{{.Name}} {{end}}for request {{.Request.ID}}.",
		"{{.Outputs.gitlab_issue_iid}}",
		"{{(index .Approvers 0).Email}}",
		`{{with .Expiry}}{{.Format "2006-01-02"}}{{end}}`,
		"{{range $k, $v := .Outputs}}{{$k}}={{$v}};{{end}}",
		"{{range .Request.Duration}}{{end}}",
		`{{define "a"}}{{template "a"}}{{template "a"}}{{end}}{{template "a"}}`,
		`{{range .Approvers}}{{printf "%999999d" 1}}{{end}}`,
	} {
		f.Add(src, "Ada Lovelace", "on-call")
	}
	f.Fuzz(func(t *testing.T, src, name, reason string) {
		within(t, src, func() {
			err := CheckTemplate(src)
			fields := SampleFields()
			fields.Requester.Name, fields.Request.Reason = name, reason
			fields.Outputs["gitlab_issue_iid"] = name
			out, rerr := Render(src, fields)
			if len(out) > MaxTemplateOutput {
				t.Errorf("rendered %d bytes, more than %d", len(out), MaxTemplateOutput)
			}
			if err != nil {
				return
			}
			for i := range 40 {
				fields.Approvers = append(fields.Approvers, Person{ID: fmt.Sprint("u", i), Name: name, Email: reason})
			}
			if out, _ := Render(src, fields); len(out) > MaxTemplateOutput {
				t.Errorf("rendered %d bytes over 40 approvers", len(out))
			}
			// Accepted at apply: it renders over the sample fields (any
			// output it names being there, as CheckTemplate assumes).
			if rerr != nil && !strings.Contains(rerr.Error(), "map has no entry for key") && !strings.Contains(rerr.Error(), "renders to more") {
				t.Errorf("CheckTemplate accepted %q, rendering failed: %v", src, rerr)
			}
		})
	})
}

// within fails t if fn takes more than 5 s: a template that hangs.
func within(t *testing.T, src string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); fn() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatalf("template %q still running after 5 s", src)
	}
}

// TestTemplateLimits: what text/template would run for ever, or grow
// without bound, is refused when the tenant file is checked, with a
// reason; the documented templates still pass.
func TestTemplateLimits(t *testing.T) {
	tests := []struct {
		src  string
		want string // "" when accepted
	}{
		{"Approved by {{range .Approvers}}{{.Name}} {{end}}", ""},
		{"{{range $i, $a := $.Approvers}}{{$i}}:{{$a.Email}} {{end}}", ""},
		{"{{range $k, $v := .Outputs}}{{$k}}{{end}}", ""},
		{"{{if .Expiry}}{{range .Approvers}}{{.Email}}{{else}}nobody{{end}}{{end}}", ""},
		{"{{range .Request.Duration}}{{end}}", "only {{range .Approvers}} and {{range .Outputs}}"},
		{"{{range 100000000000}}{{end}}", "only {{range .Approvers}}"},
		{"{{$n := 9999999999}}{{range $n}}x{{end}}", "only {{range .Approvers}}"},
		{"{{with .Request.Duration}}{{range .}}{{end}}{{end}}", "only {{range .Approvers}}"},
		{"{{range .Approvers}}{{range $.Approvers}}{{end}}{{end}}", "a range inside a range"},
		{`{{define "a"}}{{template "a"}}{{template "a"}}{{end}}{{template "a"}}`, "define and block are not supported"},
		{`{{block "b" .}}x{{end}}`, "define and block are not supported"},
		{`{{template "x"}}`, `{{template "x"}} is not supported`},
		{`{{range .Approvers}}{{printf "%900000d" 1}}{{end}}`, "renders to more than 65536 bytes"},
		{strings.Repeat("x", MaxTemplateLen+1), "at most 4096"},
	}
	for _, tt := range tests {
		var err error
		within(t, tt.src, func() { err = CheckTemplate(tt.src) })
		if tt.want == "" {
			if err != nil {
				t.Errorf("CheckTemplate(%.60q) = %v, want nil", tt.src, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("CheckTemplate(%.60q) = %v, want an error with %q", tt.src, err, tt.want)
		}
		// The job that renders a stored template refuses it too.
		within(t, tt.src, func() { _, err = Render(tt.src, SampleFields()) })
		if err == nil {
			t.Errorf("Render(%.60q) succeeded", tt.src)
		}
	}
}
