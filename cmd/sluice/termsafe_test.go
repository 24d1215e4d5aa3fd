package main

import (
	"strings"
	"testing"
)

func TestTermSafe(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{"plain text and layout", "SELECT 1;\n\tnext ✓", "SELECT 1;\n\tnext ✓"},
		{"an escape sequence", "DROP TABLE t\x1b[2K\x1b[1ASELECT 1", "DROP TABLE t\ufffd[2K\ufffd[1ASELECT 1"},
		{"carriage return and bell", "DROP\rSELECT\a", "DROP\ufffdSELECT\ufffd"},
		{"OSC 52 to the clipboard", "\x1b]52;c;ZWNobw==\x07", "\ufffd]52;c;ZWNobw==\ufffd"},
		{"C1 CSI", "a\u009b2Jb", "a\ufffd2Jb"},
		{"bidi override", "allow\u202edeny", "allow\ufffddeny"},
		{"bytes that are not UTF-8", "a\xff\x9bb", "a\ufffd\ufffdb"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			w := newTermSafe(&b)
			if _, err := w.Write([]byte(tc.in)); err != nil {
				t.Fatal(err)
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			if b.String() != tc.want {
				t.Fatalf("got %q, want %q", b.String(), tc.want)
			}
		})
	}
	// A character cut between two writes comes out whole.
	var b strings.Builder
	w := newTermSafe(&b)
	s := []byte("é✓")
	for i := range s {
		if _, err := w.Write(s[i : i+1]); err != nil {
			t.Fatal(err)
		}
	}
	_ = w.Flush()
	if b.String() != "é✓" {
		t.Fatalf("split characters: %q", b.String())
	}
}
