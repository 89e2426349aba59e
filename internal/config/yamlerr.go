package config

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/accessbot/accessbot/internal/yamlsyntax"
)

// nodeIndex remembers where each key is in the file, so decode and
// validation errors can name the key and its line.
type nodeIndex struct {
	present   map[string]bool   // keys with a non-null value
	lineOf    map[string]int    // key path → line of the key
	keyAtLine map[int][]string  // line → key paths whose key is on it
	valAtLine map[int][]valueAt // line → values that start on it
}

type valueAt struct{ path, tag, value string }

func indexNode(doc *yaml.Node) *nodeIndex {
	idx := &nodeIndex{
		present:   map[string]bool{},
		lineOf:    map[string]int{},
		keyAtLine: map[int][]string{},
		valAtLine: map[int][]valueAt{},
	}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := k.Value
				if path != "" {
					p = path + "." + k.Value
				}
				idx.lineOf[p] = k.Line
				idx.keyAtLine[k.Line] = append(idx.keyAtLine[k.Line], p)
				idx.valAtLine[v.Line] = append(idx.valAtLine[v.Line], valueAt{p, v.Tag, v.Value})
				if v.Tag != "!!null" {
					idx.present[p] = true
				}
				walk(v, p)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				p := fmt.Sprintf("%s[%d]", path, i)
				idx.lineOf[p] = c.Line
				idx.valAtLine[c.Line] = append(idx.valAtLine[c.Line], valueAt{p, c.Tag, c.Value})
				walk(c, p)
			}
		}
	}
	walk(doc, "")
	return idx
}

var (
	lineMsgRe  = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	notFoundRe = regexp.MustCompile(`^field (\S+) not found in type`)
	typeRe     = regexp.MustCompile("^cannot unmarshal (!!\\w+)(?: `(.*)`)? into (\\S+)$")
)

func yamlSyntaxError(name string, err error) *Error {
	e := yamlsyntax.Locate(err)
	return &Error{File: name, Line: e.Line, Msg: "not valid YAML: " + e.Problem}
}

// decodeErrors turns each of yaml.v3's decode errors into an *Error naming
// the key. A number written as a string ("3") is not an error: it is set
// into cfg, as an environment variable would be.
func decodeErrors(name string, idx *nodeIndex, err error, cfg *Config) []*Error {
	var te *yaml.TypeError
	if !errors.As(err, &te) || len(te.Errors) == 0 {
		return []*Error{yamlSyntaxError(name, err)}
	}
	var out []*Error
	for _, msg := range te.Errors {
		if e := decodeError(name, idx, msg, cfg); e != nil {
			out = append(out, e)
		}
	}
	return out
}

func decodeError(name string, idx *nodeIndex, first string, cfg *Config) *Error {
	m := lineMsgRe.FindStringSubmatch(first)
	if m == nil {
		return &Error{File: name, Msg: first}
	}
	line, _ := strconv.Atoi(m[1])
	msg := m[2]
	e := &Error{File: name, Line: line, Msg: msg}

	if nf := notFoundRe.FindStringSubmatch(msg); nf != nil {
		e.Key = nf[1]
		for _, p := range idx.keyAtLine[line] {
			if p == nf[1] || strings.HasSuffix(p, "."+nf[1]) {
				e.Key = p
			}
		}
		e.Msg = unknownKeyHint(e.Key)
		return e
	}
	if tm := typeRe.FindStringSubmatch(msg); tm != nil {
		if tm[3] == "config.Config" {
			e.Msg = "the file must be a mapping of sections such as slack:, store:, http:"
			return e
		}
		var value string
		for _, v := range idx.valAtLine[line] {
			if v.tag == tm[1] || e.Key == "" {
				e.Key, value = v.path, v.value
			}
		}
		if tm[1] == "!!str" && tm[3] == "int" {
			if k, ok := keyNamed(e.Key); ok && k.set(cfg, value) == nil {
				return nil
			}
		}
		e.Msg = typeHint(tm[3])
		if tm[2] != "" && !isSecretPath(e.Key) {
			e.Msg += fmt.Sprintf(" (got %q)", tm[2])
		}
		return e
	}
	return e
}

func keyNamed(name string) (Key, bool) {
	for _, k := range Keys() {
		if k.Name == name {
			return k, true
		}
	}
	return Key{}, false
}

func typeHint(into string) string {
	switch {
	case into == "int":
		return "must be a whole number"
	case into == "time.Duration":
		return "must be a Go duration such as 90m, 24h or 1h30m"
	case into == "bool":
		return "must be true or false"
	case into == "string" || into == "secrets.Secret":
		return "must be a single value, not a list or mapping"
	case strings.HasPrefix(into, "[]"):
		return "must be a list (lines starting with '- ')"
	default:
		return "must be a mapping of keys indented under it"
	}
}

func isSecretPath(path string) bool {
	root := rootKey(path)
	for _, k := range Keys() {
		if k.Name == root {
			return k.Secret
		}
	}
	return false
}

// unknownKeyHint suggests the nearest known key, since most unknown keys are typos.
func unknownKeyHint(path string) string {
	section, _, nested := strings.Cut(path, ".")
	var candidates []string
	for _, k := range Keys() {
		if !nested {
			s, _, _ := strings.Cut(k.Name, ".")
			candidates = append(candidates, s)
		} else if strings.HasPrefix(k.Name, section+".") {
			candidates = append(candidates, k.Name)
		}
	}
	if strings.Contains(path, "previous_keys[") {
		return "unknown key (each previous key has only id and key)"
	}
	best, bestD := "", 4 // suggest only close matches
	for _, c := range candidates {
		if d := editDistance(path, c); d < bestD {
			best, bestD = c, d
		}
	}
	what := "unknown key"
	if !nested {
		what = "unknown section"
	}
	if best != "" {
		return fmt.Sprintf("%s (did you mean %s? every key is listed in config.example.yaml)", what, best)
	}
	if !nested {
		return what + " (sections are slack, store, redis, http, log, encryption, approvals)"
	}
	if len(candidates) == 0 {
		return what + " (every key is listed in config.example.yaml)"
	}
	return fmt.Sprintf("%s (valid keys here: %s)", what, strings.Join(candidates, ", "))
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
