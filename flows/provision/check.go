package provision

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/template"
	"text/template/parse"
	"time"
)

// Relationships lists every relationship type a chain can be declared for.
var Relationships = []Relationship{RelAccount, RelGroup, RelRole, RelPolicy, RelConnectionCreate, RelConnectionAssign, RelConnectionDelete}

// BuiltProviders are the providers whose API connector exists, with the
// operations each carries out: a {provider}_api_* script of any other
// provider, or an operation its connector does not do, is refused when the
// tenant file is applied (rather than failing when a flow runs). Each
// connector's tests check its Ops match its list here.
var BuiltProviders = map[string][]string{
	"azuread": {"create_user", "disable_user", "delete_user", "create_group", "delete_group",
		"add_user_to_group", "remove_user_from_group", "add_user_to_role", "remove_user_from_role"},
	"scim": {"create_user", "disable_user", "delete_user", "create_group", "delete_group",
		"add_user_to_group", "remove_user_from_group"},
}

// MaxSleep bounds a sleep step.
const MaxSleep = 7 * 24 * time.Hour

// Problem is one thing wrong with a script, in a field of it ("type",
// "params.title", "timeout").
type Problem struct{ Field, Msg string }

// CheckScript reports what is wrong with s: an unknown type, a provider
// with no built connector, a param that is not a template or uses a field
// Fields does not have, a missing or bad sleep duration. Nothing wrong is nil.
func CheckScript(s Script) []Problem {
	var out []Problem
	kind, provider, op, err := ParseType(s.Type)
	if err != nil {
		return []Problem{{"type", err.Error()}}
	}
	if kind == KindProviderAPI {
		ops, built := BuiltProviders[provider]
		switch {
		case !built:
			have := "none yet"
			if len(BuiltProviders) > 0 {
				have = strings.Join(slices.Sorted(maps.Keys(BuiltProviders)), ", ")
			}
			out = append(out, Problem{"type", fmt.Sprintf("%q: provider %q has no API connector in this accessbot (built: %s)", s.Type, provider, have)})
		case !slices.Contains(ops, op):
			out = append(out, Problem{"type", fmt.Sprintf("%q: the %s connector does not do %s (it does: %s)", s.Type, provider, op, strings.Join(ops, ", "))})
		}
	}
	if s.Timeout < 0 {
		out = append(out, Problem{"timeout", "must be positive"})
	}
	for _, k := range slices.Sorted(maps.Keys(s.Params)) {
		if err := CheckTemplate(s.Params[k]); err != nil {
			out = append(out, Problem{"params." + k, err.Error()})
		}
	}
	if kind == KindSleep {
		if _, err := SleepDuration(s.Params["duration"]); err != nil {
			out = append(out, Problem{"params.duration", err.Error()})
		}
	}
	return out
}

// SleepDuration reads a sleep step's duration param ("30s", "5m", "2h").
func SleepDuration(s string) (time.Duration, error) {
	if strings.TrimSpace(s) == "" {
		return 0, errors.New("a sleep step needs params.duration, e.g. 5m")
	}
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil || d <= 0 || d > MaxSleep {
		return 0, fmt.Errorf("%q is not a duration between 1s and %s (e.g. 30s, 5m, 2h)", s, MaxSleep)
	}
	return d, nil
}

// Limits on a template, which a tenant admin writes and every replica runs:
// text/template has no budget of its own, so {{range .Request.Duration}}
// (an integer: 28.8 trillion turns for 8 h) or a {{template}} calling
// itself twice per level would hang `apply` and then the step's job.
const (
	MaxTemplateLen    = 4 << 10  // bytes of source
	MaxTemplateOutput = 64 << 10 // bytes one param renders to
)

// rangeable are the fields a template may range over: lists of a bounded size.
var rangeable = map[string]bool{"Approvers": true, "Outputs": true}

func newTemplate(src string) (*template.Template, error) {
	if len(src) > MaxTemplateLen {
		return nil, fmt.Errorf("not a template: %d bytes, at most %d", len(src), MaxTemplateLen)
	}
	t, err := template.New("param").Option("missingkey=error").Parse(src)
	if err != nil {
		return nil, fmt.Errorf("not a template: %w", err)
	}
	if len(t.Templates()) > 1 {
		return nil, errors.New("not a template: define and block are not supported")
	}
	if err := checkNodes(t.Tree.Root, false); err != nil {
		return nil, fmt.Errorf("not a template: %w", err)
	}
	return t, nil
}

// checkNodes refuses {{template}}, and a range over anything but
// .Approvers or .Outputs, or inside another range.
func checkNodes(n parse.Node, inRange bool) error {
	switch x := n.(type) {
	case *parse.ListNode:
		if x == nil {
			return nil
		}
		for _, c := range x.Nodes {
			if err := checkNodes(c, inRange); err != nil {
				return err
			}
		}
	case *parse.TemplateNode:
		return fmt.Errorf("{{template %q}} is not supported", x.Name)
	case *parse.IfNode:
		return errors.Join(checkNodes(x.List, inRange), checkNodes(x.ElseList, inRange))
	case *parse.WithNode:
		return errors.Join(checkNodes(x.List, inRange), checkNodes(x.ElseList, inRange))
	case *parse.RangeNode:
		if inRange {
			return errors.New("a range inside a range is not supported")
		}
		if !rangesOverList(x.Pipe) {
			return fmt.Errorf("range over %s: only {{range .Approvers}} and {{range .Outputs}} are supported", x.Pipe)
		}
		return errors.Join(checkNodes(x.List, true), checkNodes(x.ElseList, inRange))
	}
	return nil
}

// rangesOverList: the pipe is .Approvers or .Outputs (or $.Approvers,
// $.Outputs), nothing computed.
func rangesOverList(p *parse.PipeNode) bool {
	if p == nil || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
		return false
	}
	switch a := p.Cmds[0].Args[0].(type) {
	case *parse.FieldNode:
		return len(a.Ident) == 1 && rangeable[a.Ident[0]]
	case *parse.VariableNode:
		return len(a.Ident) == 2 && a.Ident[0] == "$" && rangeable[a.Ident[1]]
	}
	return false
}

// capped is a writer that fails once more than MaxTemplateOutput bytes
// were written to it, which stops the template.
type capped struct {
	w io.Writer
	n int
}

var errTooLong = fmt.Errorf("renders to more than %d bytes", MaxTemplateOutput)

func (c *capped) Write(p []byte) (int, error) {
	c.n += len(p)
	if c.n > MaxTemplateOutput {
		return 0, errTooLong
	}
	return c.w.Write(p)
}

// Render executes src over f; a field or key that does not exist is an
// error, never an empty string.
func Render(src string, f Fields) (string, error) {
	t, err := newTemplate(src)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if err := t.Execute(&capped{w: &b}, f); err != nil {
		return "", fmt.Errorf("render %q: %w", src, err)
	}
	return b.String(), nil
}

// RenderParams renders every param of s over f.
func RenderParams(params map[string]string, f Fields) (map[string]string, error) {
	out := make(map[string]string, len(params))
	for _, k := range slices.Sorted(maps.Keys(params)) {
		v, err := Render(params[k], f)
		if err != nil {
			return nil, fmt.Errorf("params.%s: %w", k, err)
		}
		out[k] = v
	}
	return out, nil
}

// CheckTemplate parses src and renders it over SampleFields, so a field
// that Fields lacks is found when the tenant file is applied, not when a
// flow runs. .Outputs.NAME is accepted for any NAME: an earlier step makes it.
func CheckTemplate(src string) error {
	t, err := newTemplate(src)
	if err != nil {
		return err
	}
	f := SampleFields()
	for _, name := range outputNames(t.Tree.Root) {
		f.Outputs[name] = "sample"
	}
	if err := t.Execute(&capped{w: discard{}}, f); err != nil {
		if errors.Is(err, errTooLong) {
			return err
		}
		return fmt.Errorf("uses a field that does not exist (%w); the fields are listed in docs/provisioning.md", err)
	}
	return nil
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// outputNames finds every .Outputs.NAME in a template.
func outputNames(n parse.Node) []string {
	var out []string
	var walk func(parse.Node)
	walk = func(n parse.Node) {
		switch x := n.(type) {
		case *parse.ListNode:
			if x == nil {
				return
			}
			for _, c := range x.Nodes {
				walk(c)
			}
		case *parse.ActionNode:
			walk(x.Pipe)
		case *parse.PipeNode:
			if x == nil {
				return
			}
			for _, c := range x.Cmds {
				walk(c)
			}
		case *parse.CommandNode:
			for _, a := range x.Args {
				walk(a)
			}
		case *parse.FieldNode:
			if len(x.Ident) >= 2 && x.Ident[0] == "Outputs" {
				out = append(out, x.Ident[1])
			}
		case *parse.IfNode:
			walk(x.Pipe)
			walk(x.List)
			walk(x.ElseList)
		case *parse.RangeNode:
			walk(x.Pipe)
			walk(x.List)
			walk(x.ElseList)
		case *parse.WithNode:
			walk(x.Pipe)
			walk(x.List)
			walk(x.ElseList)
		}
	}
	walk(n)
	return out
}

// SampleFields are Fields with every field set, to check templates against.
func SampleFields() Fields {
	var f Fields
	f.Requester = Person{ID: "u-requester", Name: "Ada Lovelace", Email: "ada@example.com", SlackID: "U0REQUEST"}
	f.Target = f.Requester
	f.Application.ID, f.Application.Name, f.Application.Connector = "app-1", "GitLab", "gitlab"
	f.Connection.ID, f.Connection.Name, f.Connection.Type = "conn-1", "developers", "group"
	f.Request.ID, f.Request.Kind, f.Request.Reason, f.Request.Duration = "req-1", "user_access", "on-call", 8*time.Hour
	f.Approvers = []Person{{ID: "u-approver", Name: "Grace Hopper", Email: "grace@example.com", SlackID: "U0APPROVE"}}
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	f.Expiry = &exp
	f.Outputs = map[string]string{}
	return f
}
