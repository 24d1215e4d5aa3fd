package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Load reads the file at path and parses it with [Parse], using path as the
// file name in errors.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes and validates one YAML document. name is the file name used
// in errors. On failure it returns every problem found, joined with
// errors.Join; each is an *Error and matches ErrInvalid.
func Parse(name string, data []byte) (*Config, error) {
	root, err := parseYAML(name, data)
	if err != nil {
		return nil, joinErrors([]*Error{err})
	}
	c := Default()
	d := newDecoder(name)
	if d.mapping(root, "", configFields(c)) && !d.aborted {
		validate(c, d)
	}
	if len(d.errs) > 0 {
		return nil, joinErrors(d.errs)
	}
	return c, nil
}

// parseYAML returns the top node of the only document in data.
func parseYAML(name string, data []byte) (root *yaml.Node, err *Error) {
	// Should the YAML library panic on some malformed input, report it as
	// a syntax error rather than take the caller down.
	defer func() {
		if r := recover(); r != nil {
			root = nil
			err = &Error{File: name, Msg: "malformed YAML: " + safe(fmt.Sprint(r)), cause: ErrSyntax}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{File: name, Line: 1, Msg: "empty config file"}
		}
		return nil, syntaxError(name, err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, syntaxError(name, err)
	default:
		return nil, &Error{File: name, Line: next.Line, Msg: "more than one YAML document; the file must hold exactly one"}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, &Error{File: name, Line: 1, Msg: "empty config file"}
	}
	root = doc.Content[0]
	if isNull(root) {
		return nil, &Error{File: name, Line: 1, Msg: "empty config file"}
	}
	return root, nil
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parserProblems are the messages of the YAML library's parser (as opposed
// to its scanner). The library reports the line of these 0-based, and omits
// it when it is 0; syntaxError adds 1.
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

// syntaxError turns a YAML library error ("yaml: line 3: ...") into an
// *Error matching ErrSyntax. Line is 0 when the library gives none.
func syntaxError(name string, err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	if parserProblems[msg] {
		line++
	}
	return &Error{File: name, Line: line, Msg: "YAML syntax error: " + safe(msg), cause: fmt.Errorf("%w: %w", ErrSyntax, err)}
}

// joinErrors sorts errs by line, keeping the order of errors on one line, and
// joins them.
func joinErrors(errs []*Error) error {
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = e
	}
	return errors.Join(out...)
}
