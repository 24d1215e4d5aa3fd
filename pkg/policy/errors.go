package policy

import (
	"errors"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// ErrInvalid is matched (errors.Is) by every error [LoadDir] and [Parse]
// return, whatever the reason.
var ErrInvalid = errors.New("invalid policy")

// ErrSyntax is matched (errors.Is), in addition to [ErrInvalid], by errors
// for input that is not well-formed YAML.
var ErrSyntax = errors.New("YAML syntax error")

// Error is one problem in a policy file.
type Error struct {
	File string
	Line int    // 1-based; 0 when unknown (a YAML error without a line, an I/O error)
	Path string // key path such as "policies[0].rules[2].postgres.kinds[1]"; "" for the file
	Msg  string

	cause error // optional underlying error
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

// Unwrap returns ErrInvalid and the underlying error, if any.
func (e *Error) Unwrap() []error {
	if e.cause != nil {
		return []error{ErrInvalid, e.cause}
	}
	return []error{ErrInvalid}
}

// joinErrors sorts errs by file and line, keeping the order of errors found
// on one line, and joins them. It returns nil for no errors.
func joinErrors(errs []*Error) error {
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
		out[i] = e
	}
	return errors.Join(out...)
}

// safe returns s for use unquoted in a message, or quoted when it holds
// anything but printable characters, so that every error stays on one line.
func safe(s string) string {
	if strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) {
		return strconv.Quote(s)
	}
	return s
}
