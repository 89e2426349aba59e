package tenantfile

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/accessbot/accessbot/internal/yamlsyntax"
)

// loc is where something was written: its line and field path.
type loc struct {
	line int
	path string
}

func (l loc) field(name string) string { return join(l.path, name) }

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// decoder walks a yaml.Node tree, collecting every error with its line and
// field path. Walking nodes (rather than unmarshalling into structs) is what
// lets each message name the field, and keeps YAML's type guessing ("no" as
// a bool, 0123 as octal) out of string fields.
type decoder struct {
	file string
	errs Errors
	// scripts are the action chains' scripts, for checks against the
	// connectors: section once the whole file is read.
	scripts []scriptRef
}

func (d *decoder) errorf(line int, path, format string, args ...any) {
	d.errs = append(d.errs, &FieldError{File: d.file, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	n = resolve(n)
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("the value %q", n.Value)
	}
	return "something else"
}

// fields is a mapping node's values by key.
type fields struct {
	at   loc
	vals map[string]*yaml.Node
}

func (f fields) has(key string) bool { return f.vals[key] != nil && !isNull(f.vals[key]) }

// loc of key's value, or of the mapping when the key is absent.
func (f fields) loc(key string) loc {
	if n := f.vals[key]; n != nil {
		return loc{line: n.Line, path: f.at.field(key)}
	}
	return loc{line: f.at.line, path: f.at.field(key)}
}

// mapping reads a mapping node, refusing duplicate and unknown keys. A null
// node reads as an empty mapping.
func (d *decoder) mapping(n *yaml.Node, at loc, known ...string) fields {
	f := fields{at: at, vals: map[string]*yaml.Node{}}
	n = resolve(n)
	if isNull(n) {
		return f
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n.Line, at.path, "want a mapping of keys to values, found %s", kindName(n))
		return f
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := k.Value
		switch {
		case k.Kind != yaml.ScalarNode:
			d.errorf(k.Line, at.path, "keys must be plain names")
		case f.vals[key] != nil:
			d.errorf(k.Line, at.field(key), "duplicate key (first at line %d)", f.vals[key].Line)
		case !slices.Contains(known, key):
			d.errorf(k.Line, at.field(key), "unknown key (known keys: %s)", strings.Join(known, ", "))
		default:
			f.vals[key] = v
		}
	}
	return f
}

// seq reads a list; null reads as empty.
func (d *decoder) seq(n *yaml.Node, at loc) []*yaml.Node {
	n = resolve(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n.Line, at.path, "want a list, found %s", kindName(n))
		return nil
	}
	return n.Content
}

// nonEmptySeq is seq for a list that needs at least one item: absent, null
// and [] are reported as msg (a non-list is reported by seq).
func (d *decoder) nonEmptySeq(f fields, key, msg string) []*yaml.Node {
	n, l := resolve(f.vals[key]), f.loc(key)
	items := d.seq(n, l)
	if len(items) == 0 && (isNull(n) || n.Kind == yaml.SequenceNode) {
		d.errorf(l.line, l.path, "%s", msg)
	}
	return items
}

// str reads a scalar as text, whatever YAML thinks its type is; null and
// absent read as "".
func (d *decoder) str(f fields, key string) string {
	n := resolve(f.vals[key])
	if isNull(n) {
		return ""
	}
	if n.Kind != yaml.ScalarNode {
		d.errorf(n.Line, f.at.field(key), "want a single value, found %s", kindName(n))
		return ""
	}
	return strings.TrimSpace(n.Value)
}

// required is str that reports a missing or empty value.
func (d *decoder) required(f fields, key string) string {
	s := d.str(f, key)
	if s == "" && (f.vals[key] == nil || isNull(f.vals[key]) || resolve(f.vals[key]).Kind == yaml.ScalarNode) {
		l := f.loc(key)
		d.errorf(l.line, l.path, "required")
	}
	return s
}

func (d *decoder) boolean(f fields, key string) bool {
	n := resolve(f.vals[key])
	if isNull(n) {
		return false
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!bool" {
		if b, err := strconv.ParseBool(strings.ToLower(n.Value)); err == nil {
			return b
		}
	}
	d.errorf(n.Line, f.at.field(key), "want true or false, found %s", kindName(n))
	return false
}

// strMap reads a mapping of names to single values.
func (d *decoder) strMap(n *yaml.Node, at loc) map[string]string {
	n = resolve(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n.Line, at.path, "want a mapping of names to values, found %s", kindName(n))
		return nil
	}
	out := map[string]string{}
	lines := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolve(n.Content[i+1])
		p := at.field(k.Value)
		switch {
		case k.Kind != yaml.ScalarNode || strings.TrimSpace(k.Value) == "":
			d.errorf(k.Line, at.path, "keys must be non-empty plain names")
		case lines[k.Value] != 0:
			d.errorf(k.Line, p, "duplicate key (first at line %d)", lines[k.Value])
		case v.Kind != yaml.ScalarNode:
			d.errorf(v.Line, p, "want a single value, found %s", kindName(v))
		default:
			lines[k.Value] = k.Line
			if !isNull(v) {
				out[k.Value] = v.Value
			} else {
				out[k.Value] = ""
			}
		}
	}
	return out
}

// syntaxError turns yaml.v3's "yaml: line 3: did not find expected key" into
// "tenant.yaml:4: YAML syntax: ...", with a 1-based line.
func (d *decoder) syntaxError(err error) {
	e := yamlsyntax.Locate(err)
	if e.InStructure {
		e.Problem += " (in the list or mapping that starts on this line)"
	}
	d.errorf(e.Line, "", "YAML syntax: %s", e.Problem)
}
