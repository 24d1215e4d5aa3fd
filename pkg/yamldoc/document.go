package yamldoc

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Messages name what a reader calls an empty file and a file with several
// documents.
type Messages struct {
	Empty    string // e.g. "empty config file"
	Multiple string // e.g. "more than one YAML document; the file must hold exactly one"
}

// Document returns the top node of the only document in data: never nil
// or null when the error is nil.
func Document(file string, data []byte, msgs Messages) (root *yaml.Node, err *Error) {
	// Should the YAML library panic on some malformed input, report it as
	// a syntax error rather than take the caller down.
	defer func() {
		if r := recover(); r != nil {
			root = nil
			err = &Error{File: file, Line: 1, Msg: "malformed YAML: " + Safe(fmt.Sprint(r)), Cause: ErrSyntax}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{File: file, Line: 1, Msg: msgs.Empty}
		}
		return nil, SyntaxError(file, err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, SyntaxError(file, err)
	default:
		return nil, &Error{File: file, Line: max(next.Line, 1), Msg: msgs.Multiple}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || IsNull(doc.Content[0]) {
		return nil, &Error{File: file, Line: 1, Msg: msgs.Empty}
	}
	return doc.Content[0], nil
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parserProblems are the messages of the YAML library's parser (as opposed
// to its scanner). The library reports the line of these 0-based, and omits
// it when it is 0; SyntaxError adds 1.
var parserProblems = map[string]bool{
	"did not find expected <stream-start>":   true,
	"did not find expected <document start>": true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found duplicate %TAG directive":         true,
	"found undefined tag handle":             true,
	"did not find expected node content":     true,
	"did not find expected '-' indicator":    true,
	"did not find expected key":              true,
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
}

// SyntaxError turns a YAML library error ("yaml: line 3: ...") into an
// *Error matching ErrSyntax. Line is 0 when the library gives none.
func SyntaxError(file string, err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	if parserProblems[msg] {
		line++
	}
	return &Error{File: file, Line: line, Msg: "YAML syntax error: " + Safe(msg), Cause: fmt.Errorf("%w: %w", ErrSyntax, err)}
}
