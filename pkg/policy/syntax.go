package policy

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// yamlErrRE splits the YAML library's "yaml: line N: problem" errors.
var yamlErrRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// zeroBased lists the problems the YAML library's parser (as opposed to
// its scanner) reports. It gives their line 0-based, and leaves it out
// when it is 0; syntaxError makes it 1-based.
var zeroBased = map[string]bool{
	"did not find expected <stream-start>":   true,
	"did not find expected <document start>": true,
	"did not find expected node content":     true,
	"did not find expected '-' indicator":    true,
	"did not find expected key":              true,
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"found undefined tag handle":             true,
	"found duplicate %YAML directive":        true,
	"found duplicate %TAG directive":         true,
	"found incompatible YAML document":       true,
}

// syntaxError turns a YAML library error into an *Error matching
// ErrSyntax, with the line when the library gives one.
func syntaxError(file string, err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlErrRE.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	if zeroBased[msg] {
		line++
	}
	return &Error{
		File:  file,
		Line:  line,
		Msg:   "YAML syntax error: " + safe(msg),
		cause: fmt.Errorf("%w: %w", ErrSyntax, err),
	}
}
