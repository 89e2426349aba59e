// Package yamlsyntax locates yaml.v3 syntax errors on the line people see.
package yamlsyntax

import (
	"regexp"
	"strconv"
	"strings"
)

// yaml.v3 reports parser errors (as opposed to scanner errors) with a
// 0-based line, and drops the "while parsing a block mapping" context that
// says the line is where the enclosing structure starts. These are the
// parser's messages; see decode.go (*parser).fail in yaml.v3.
var structureProblems = map[string]bool{
	"did not find expected ',' or ']'":    true,
	"did not find expected ',' or '}'":    true,
	"did not find expected '-' indicator": true,
	"did not find expected key":           true,
	"did not find expected node content":  true,
}

var otherParserProblems = map[string]bool{
	"did not find expected <document start>": true,
	"did not find expected <stream-start>":   true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found undefined tag handle":             true,
	"found duplicate %TAG directive":         true,
}

var lineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// Error is a syntax error: Line is 1-based (0 when yaml.v3 gives none) and
// InStructure says the problem is in the list or mapping around Line.
type Error struct {
	Line        int
	Problem     string
	InStructure bool
}

// Locate reads yaml.v3's "yaml: line 3: did not find expected key".
func Locate(err error) Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	m := lineRE.FindStringSubmatch(msg)
	if m == nil {
		return Error{Problem: msg}
	}
	line, _ := strconv.Atoi(m[1])
	e := Error{Line: line, Problem: m[2]}
	switch {
	case structureProblems[e.Problem]:
		e.Line++
		e.InStructure = true
	case otherParserProblems[e.Problem]:
		e.Line++
	}
	return e
}
