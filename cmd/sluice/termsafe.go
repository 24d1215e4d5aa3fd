package main

import (
	"io"
	"unicode/utf8"
)

// termSafe writes text meant for a terminal with every character a
// terminal could take for a command replaced by U+FFFD: control
// characters but newline and tab (escape sequences, carriage return,
// backspace, bell), DEL, the C1 controls, the bidirectional overrides and
// isolates (which reorder what is shown), and bytes that are not UTF-8.
// Recordings hold what jobs sent: a statement must not be able to rewrite
// the auditor's screen, hide itself behind another, or set the clipboard.
type termSafe struct {
	w    io.Writer
	part []byte // the start of a character cut between two writes
	buf  []byte
}

func newTermSafe(w io.Writer) *termSafe { return &termSafe{w: w} }

func (t *termSafe) Write(p []byte) (int, error) {
	in := p
	if len(t.part) > 0 {
		in = append(t.part, p...)
		t.part = nil
	}
	out := t.buf[:0]
	for len(in) > 0 {
		r, size := utf8.DecodeRune(in)
		if r == utf8.RuneError && size == 1 && !utf8.FullRune(in) {
			t.part = append(t.part, in...) // wait for the rest
			break
		}
		if r == utf8.RuneError && size == 1 || unsafeRune(r) {
			out = utf8.AppendRune(out, utf8.RuneError)
		} else {
			out = append(out, in[:size]...)
		}
		in = in[size:]
	}
	t.buf = out
	if _, err := t.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes out a character left incomplete, as U+FFFD.
func (t *termSafe) Flush() error {
	if len(t.part) == 0 {
		return nil
	}
	t.part = nil
	_, err := t.w.Write([]byte(string(utf8.RuneError)))
	return err
}

func unsafeRune(r rune) bool {
	switch {
	case r == '\n' || r == '\t':
		return false
	case r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e || r == 0x200f, r == 0x061c:
		return true
	}
	return false
}
