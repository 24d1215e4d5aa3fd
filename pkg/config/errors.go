package config

import (
	"errors"
	"strconv"
	"strings"
	"unicode"
)

// ErrInvalid is matched (errors.Is) by every error [Parse] returns for a
// config it rejects, whatever the reason.
var ErrInvalid = errors.New("invalid config")

// ErrSyntax is matched (errors.Is), in addition to [ErrInvalid], by errors
// for input that is not well-formed YAML.
var ErrSyntax = errors.New("YAML syntax error")

// Error is one problem in a config file.
type Error struct {
	File string
	Line int    // 1-based; 0 when the YAML parser could not tell
	Path string // key path such as "identities[1].match.uid"; "" for the document
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

// safe returns s for use unquoted in a message, or quoted when it holds
// anything but printable characters, so that every error stays on one line.
func safe(s string) string {
	if strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) {
		return strconv.Quote(s)
	}
	return s
}
