package yamldoc

import (
	"errors"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// ErrSyntax is matched (errors.Is) by errors for input that is not
// well-formed YAML.
var ErrSyntax = errors.New("YAML syntax error")

// Error is one problem in a YAML file.
type Error struct {
	File string
	Line int    // 1-based; 0 when unknown (a YAML error without a line, an I/O error)
	Path string // key path such as "targets[1].postgres.tls"; "" for the file
	Msg  string

	// Class is the reader's sentinel (its ErrInvalid), set by Join.
	Class error
	// Cause is an optional underlying error.
	Cause error
}

// Error formats the problem as "file:line: path: msg".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns the class and the underlying error, if any.
func (e *Error) Unwrap() []error {
	var out []error
	if e.Class != nil {
		out = append(out, e.Class)
	}
	if e.Cause != nil {
		out = append(out, e.Cause)
	}
	return out
}

// Join gives every error the class, sorts them by file and line (keeping
// the order of errors found on one line) and joins them with errors.Join.
// It returns nil for no errors.
func Join(class error, errs []*Error) error {
	if len(errs) == 0 {
		return nil
	}
	sort.SliceStable(errs, func(i, j int) bool {
		if errs[i].File != errs[j].File {
			return errs[i].File < errs[j].File
		}
		return errs[i].Line < errs[j].Line
	})
	out := make([]error, len(errs))
	for i, e := range errs {
		e.Class = class
		out[i] = e
	}
	return errors.Join(out...)
}

// Safe returns s for use unquoted in a message, or quoted when it holds
// anything but printable characters, so that every error stays on one line.
func Safe(s string) string {
	if strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) {
		return strconv.Quote(s)
	}
	return s
}
