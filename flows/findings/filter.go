package findings

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/accessbot/accessbot"
)

// Filters are evaluated over one "context": an identity, one entitlement
// it holds (or none), and its employee (or none). A rule matches a subject
// when some context of the subject satisfies the filter, so two conditions
// under one all: speak of the same entitlement.

type fieldType int

const (
	typeString fieldType = iota
	typeTime
	typeList
)

// evalCtx is one context a filter is evaluated on.
type evalCtx struct {
	ident *identRow
	ent   *accessbot.AppEntitlement
	emp   *accessbot.User
	now   time.Time
}

type fieldDef struct {
	typ fieldType
	str func(c *evalCtx) (string, bool)
	tm  func(c *evalCtx) (time.Time, bool)
	lst func(c *evalCtx) ([]string, bool)
}

func identStr(get func(i *identRow) string) func(c *evalCtx) (string, bool) {
	return func(c *evalCtx) (string, bool) {
		if c.ident == nil {
			return "", false
		}
		s := get(c.ident)
		return s, s != ""
	}
}

func entStr(get func(e *accessbot.AppEntitlement) string) func(c *evalCtx) (string, bool) {
	return func(c *evalCtx) (string, bool) {
		if c.ent == nil {
			return "", false
		}
		s := get(c.ent)
		return s, s != ""
	}
}

func empStr(get func(u *accessbot.User) string) func(c *evalCtx) (string, bool) {
	return func(c *evalCtx) (string, bool) {
		if c.emp == nil {
			return "", false
		}
		s := get(c.emp)
		return s, s != ""
	}
}

func timePtr(t *time.Time) (time.Time, bool) {
	if t == nil {
		return time.Time{}, false
	}
	return *t, true
}

// fields is every field a filter may name.
var fields = map[string]fieldDef{
	"identity.id":           {typ: typeString, str: identStr(func(i *identRow) string { return i.ExternalID })},
	"identity.email":        {typ: typeString, str: identStr(func(i *identRow) string { return i.Email })},
	"identity.display_name": {typ: typeString, str: identStr(func(i *identRow) string { return i.DisplayName })},
	"identity.status":       {typ: typeString, str: identStr(func(i *identRow) string { return string(i.Status) })},
	"identity.application":  {typ: typeString, str: identStr(func(i *identRow) string { return i.appName })},
	"identity.last_seen_at": {typ: typeTime, tm: func(c *evalCtx) (time.Time, bool) {
		if c.ident == nil {
			return time.Time{}, false
		}
		return timePtr(c.ident.LastSeenAt)
	}},
	"entitlement.id":   {typ: typeString, str: entStr(func(e *accessbot.AppEntitlement) string { return e.ExternalID })},
	"entitlement.name": {typ: typeString, str: entStr(func(e *accessbot.AppEntitlement) string { return e.Name })},
	"entitlement.type": {typ: typeString, str: entStr(func(e *accessbot.AppEntitlement) string { return e.Type })},
	"entitlement.labels": {typ: typeList, lst: func(c *evalCtx) ([]string, bool) {
		if c.ent == nil {
			return nil, false
		}
		return c.ent.Labels, len(c.ent.Labels) > 0
	}},
	"employee.email":      {typ: typeString, str: empStr(func(u *accessbot.User) string { return u.Email })},
	"employee.name":       {typ: typeString, str: empStr(func(u *accessbot.User) string { return u.Name })},
	"employee.department": {typ: typeString, str: empStr(func(u *accessbot.User) string { return u.Department })},
	"employee.status":     {typ: typeString, str: empStr(func(u *accessbot.User) string { return string(u.Status) })},
	"employee.role":       {typ: typeString, str: empStr(func(u *accessbot.User) string { return string(u.Role) })},
	"employee.terminated_at": {typ: typeTime, tm: func(c *evalCtx) (time.Time, bool) {
		if c.emp == nil {
			return time.Time{}, false
		}
		return timePtr(c.emp.TerminatedAt)
	}},
}

// FieldNames lists the fields a filter may name, sorted.
func FieldNames() []string {
	out := make([]string, 0, len(fields))
	for k := range fields {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Ops lists the operators, in the order the docs give them.
var Ops = []string{"eq", "ne", "in", "contains", "gt", "lt", "exists", "older_than"}

// ConditionError says which part of one condition is wrong.
type ConditionError struct {
	Part string // "field", "op" or "value"
	Msg  string
}

func (e *ConditionError) Error() string { return e.Part + ": " + e.Msg }

func (e *ConditionError) Unwrap() error { return accessbot.ErrInvalid }

// pred is a compiled filter.
type pred func(c *evalCtx) bool

// CheckCondition validates one {field, op, value} leaf. value is a string,
// a []string or []any of strings (in), or a bool (exists).
func CheckCondition(field, op string, value any) error {
	_, err := compileLeaf(field, op, value)
	return err
}

// CheckFilter validates a whole filter tree.
func CheckFilter(f accessbot.Filter) error {
	_, err := compile(f, "filter")
	return err
}

func compile(f accessbot.Filter, path string) (pred, error) {
	set := 0
	if f.All != nil {
		set++
	}
	if f.Any != nil {
		set++
	}
	if f.Field != "" || f.Op != "" {
		set++
	}
	if set != 1 {
		return nil, fmt.Errorf("%s: %w: want exactly one of all, any or field/op/value", path, accessbot.ErrInvalid)
	}
	list, all := f.All, true
	if f.Any != nil {
		list, all = f.Any, false
	}
	if f.Field == "" && f.Op == "" {
		if len(list) == 0 {
			return nil, fmt.Errorf("%s: %w: an empty all/any list", path, accessbot.ErrInvalid)
		}
		kids := make([]pred, len(list))
		for i, k := range list {
			p, err := compile(k, fmt.Sprintf("%s.%s[%d]", path, map[bool]string{true: "all", false: "any"}[all], i))
			if err != nil {
				return nil, err
			}
			kids[i] = p
		}
		if all {
			return func(c *evalCtx) bool {
				for _, k := range kids {
					if !k(c) {
						return false
					}
				}
				return true
			}, nil
		}
		return func(c *evalCtx) bool {
			for _, k := range kids {
				if k(c) {
					return true
				}
			}
			return false
		}, nil
	}
	p, err := compileLeaf(f.Field, f.Op, f.Value)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

func valueString(v any) (string, bool) {
	s, ok := v.(string)
	return strings.TrimSpace(s), ok && strings.TrimSpace(s) != ""
}

func valueList(v any) ([]string, bool) {
	switch x := v.(type) {
	case []string:
		return x, len(x) > 0
	case []any:
		out := make([]string, len(x))
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			out[i] = s
		}
		return out, len(out) > 0
	}
	return nil, false
}

func compileLeaf(field, op string, value any) (pred, error) {
	def, ok := fields[field]
	if !ok {
		return nil, &ConditionError{Part: "field", Msg: fmt.Sprintf("unknown field %q (known fields: %s)", field, strings.Join(FieldNames(), ", "))}
	}
	bad := func(format string, args ...any) error {
		return &ConditionError{Part: "value", Msg: fmt.Sprintf(format, args...)}
	}
	wrongType := func(want string) error {
		return &ConditionError{Part: "op", Msg: fmt.Sprintf("%s works on %s fields, and %s is not one", op, want, field)}
	}
	switch op {
	case "eq", "ne":
		if def.typ != typeString {
			return nil, wrongType("text")
		}
		want, ok := value.(string)
		if !ok {
			return nil, bad("want a single text value")
		}
		neg := op == "ne"
		return func(c *evalCtx) bool {
			s, _ := def.str(c)
			return strings.EqualFold(s, want) != neg
		}, nil
	case "in":
		if def.typ != typeString {
			return nil, wrongType("text")
		}
		list, ok := valueList(value)
		if !ok {
			return nil, bad("want a non-empty list of text values")
		}
		return func(c *evalCtx) bool {
			s, _ := def.str(c)
			return slices.ContainsFunc(list, func(v string) bool { return strings.EqualFold(v, s) })
		}, nil
	case "contains":
		want, ok := valueString(value)
		if !ok {
			return nil, bad("want a non-empty text value")
		}
		switch def.typ {
		case typeString:
			lw := strings.ToLower(want)
			return func(c *evalCtx) bool {
				s, _ := def.str(c)
				return strings.Contains(strings.ToLower(s), lw)
			}, nil
		case typeList:
			return func(c *evalCtx) bool {
				l, _ := def.lst(c)
				return slices.ContainsFunc(l, func(v string) bool { return strings.EqualFold(v, want) })
			}, nil
		}
		return nil, wrongType("text or list")
	case "gt", "lt":
		if def.typ != typeTime {
			return nil, wrongType("time")
		}
		s, _ := value.(string)
		t, err := parseTime(s)
		if err != nil {
			return nil, bad("%v", err)
		}
		after := op == "gt"
		return func(c *evalCtx) bool {
			v, ok := def.tm(c)
			return ok && (after && v.After(t) || !after && v.Before(t))
		}, nil
	case "older_than":
		if def.typ != typeTime {
			return nil, wrongType("time")
		}
		s, _ := value.(string)
		d, err := ParseAge(s)
		if err != nil {
			return nil, bad("%v", err)
		}
		return func(c *evalCtx) bool {
			v, ok := def.tm(c)
			return ok && v.Before(c.now.Add(-d))
		}, nil
	case "exists":
		want, ok := value.(bool)
		if !ok {
			return nil, bad("want true or false")
		}
		return func(c *evalCtx) bool {
			var has bool
			switch def.typ {
			case typeString:
				_, has = def.str(c)
			case typeTime:
				_, has = def.tm(c)
			case typeList:
				_, has = def.lst(c)
			}
			return has == want
		}, nil
	}
	return nil, &ConditionError{Part: "op", Msg: fmt.Sprintf("unknown operator %q (known: %s)", op, strings.Join(Ops, ", "))}
}

func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, errors.New("want a date (2025-01-31) or an RFC 3339 time")
}

// ParseAge reads an age: a whole number of days or weeks ("90d", "2w") or a
// Go duration ("36h"). It must be positive.
func ParseAge(s string) (time.Duration, error) {
	bad := errors.New("want an age such as 90d, 2w or 36h")
	var d time.Duration
	switch {
	case strings.HasSuffix(s, "d"), strings.HasSuffix(s, "w"):
		n, err := strconv.Atoi(s[:len(s)-1])
		if err != nil {
			return 0, bad
		}
		d = time.Duration(n) * 24 * time.Hour
		if strings.HasSuffix(s, "w") {
			d *= 7
		}
	default:
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, bad
		}
	}
	if d <= 0 {
		return 0, errors.New("must be positive")
	}
	return d, nil
}
