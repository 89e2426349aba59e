package tenantfile

import (
	"fmt"
	"strings"

	"github.com/accessbot/accessbot"
)

// FieldError is one problem in a tenant file, located by line and field path
// (e.g. "applications[2].primary_owner").
type FieldError struct {
	File string
	Line int
	Path string
	Msg  string
}

func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap lets callers test errors.Is(err, accessbot.ErrInvalid).
func (e *FieldError) Unwrap() error { return accessbot.ErrInvalid }

// Errors is every problem found in one file, in file order. Nothing is applied
// while a file has any.
type Errors []*FieldError

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}
